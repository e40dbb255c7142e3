"""Where records go: the embedded store (SQLite or PostgreSQL) or the AITracer API through a durable spool."""
