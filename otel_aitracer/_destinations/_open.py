"""The records database a store location names: a PostgreSQL DSN, else a SQLite file."""

from __future__ import annotations

import os

from ._pg_store import PostgresStore, is_postgres_dsn
from ._store import SQLiteStore


def open_records_db(location: str | os.PathLike[str], *, cache_mib: int = 2) -> SQLiteStore | PostgresStore:
    """``location`` opened as the engine it names; ``cache_mib`` is SQLite's page cache (PostgreSQL keeps its own)."""
    if is_postgres_dsn(location):
        return PostgresStore(str(location))
    return SQLiteStore(location, cache_mib=cache_mib)
