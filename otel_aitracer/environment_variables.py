"""Environment variables read by otel-aitracer. An explicit argument always wins."""

AITRACER_PROJECT = "AITRACER_PROJECT"
"""
.. envvar:: AITRACER_PROJECT

Project that records belong to unless the code says otherwise. Default: ``default``.
"""

AITRACER_API_KEY = "AITRACER_API_KEY"
"""
.. envvar:: AITRACER_API_KEY

AITracer API key. With a key, records go to the AITracer API; without, to the local store.
"""

AITRACER_BASE_URL = "AITRACER_BASE_URL"
"""
.. envvar:: AITRACER_BASE_URL

AITracer API base URL. Default: ``https://api.aitracer.co``.
"""

AITRACER_STORE = "AITRACER_STORE"
"""
.. envvar:: AITRACER_STORE

Path of the embedded SQLite store. Default: ``./aitracer.db``.
"""

AITRACER_ENVIRONMENT = "AITRACER_ENVIRONMENT"
"""
.. envvar:: AITRACER_ENVIRONMENT

``deployment.environment.name`` of the resource ``register()`` creates.
"""

AITRACER_CAPTURE_CONTENT = "AITRACER_CAPTURE_CONTENT"
"""
.. envvar:: AITRACER_CAPTURE_CONTENT

``false`` keeps prompts and completions out of records (``{"redacted": true}``). Default: ``true``.
"""

AITRACER_PII_DETECTION = "AITRACER_PII_DETECTION"
"""
.. envvar:: AITRACER_PII_DETECTION

``false`` turns PII detection off. Default: ``true``.
"""

AITRACER_PII_ACTION = "AITRACER_PII_ACTION"
"""
.. envvar:: AITRACER_PII_ACTION

``mask`` (default, ``[EMAIL]``), ``redact`` (``***``), ``hash`` (``[EMAIL:<12 hex>]``) or ``none`` (count only).
"""

AITRACER_PII_TYPES = "AITRACER_PII_TYPES"
"""
.. envvar:: AITRACER_PII_TYPES

Comma list of the PII types to detect. Default: all of them.
"""

AITRACER_PII_SALT = "AITRACER_PII_SALT"
"""
.. envvar:: AITRACER_PII_SALT

Key of the HMAC the ``hash`` action uses. Default: random per process (hashes then only correlate within it).
"""

AITRACER_PII_NLP_MODEL = "AITRACER_PII_NLP_MODEL"
"""
.. envvar:: AITRACER_PII_NLP_MODEL

spaCy pipeline (name or path) for the optional ``person`` / ``street_address`` types (``pip install
'otel-aitracer[nlp]'``, e.g. ``en_core_web_lg``). Default: none, the two types are found by rules.
"""

AITRACER_SPOOL_DIR = "AITRACER_SPOOL_DIR"
"""
.. envvar:: AITRACER_SPOOL_DIR

Directory of the durable spool where records for the AITracer API wait until it acknowledges them
(one SQLite file per destination). Default: ``$XDG_CACHE_HOME/otel-aitracer/spool`` (``~/.cache/…``).
"""

AITRACER_SPOOL_MAX_MB = "AITRACER_SPOOL_MAX_MB"
"""
.. envvar:: AITRACER_SPOOL_MAX_MB

Size cap of the spool in MiB (compressed bodies); beyond it new records are dropped as ``spool_full``. Default: ``256``.
"""

AITRACER_SPOOL_TTL_HOURS = "AITRACER_SPOOL_TTL_HOURS"
"""
.. envvar:: AITRACER_SPOOL_TTL_HOURS

Records still unsent after this long are dropped as ``ttl_expired``. Default: ``24``.
"""

AITRACER_SPOOL_FSYNC = "AITRACER_SPOOL_FSYNC"
"""
.. envvar:: AITRACER_SPOOL_FSYNC

``true`` syncs every spool write to disk (survives power loss, not only a killed process). Default: ``false``.
"""

AITRACER_MAX_RECORD_BYTES = "AITRACER_MAX_RECORD_BYTES"
"""
.. envvar:: AITRACER_MAX_RECORD_BYTES

Byte budget of one record (its JSON); longer content is cut, with a marker giving the original size. Default: ``524288``.
"""

AITRACER_DECISION_LOG = "AITRACER_DECISION_LOG"
"""
.. envvar:: AITRACER_DECISION_LOG

File of hash-chained decision records, one per model call of an agent run (``register(decision_log=)``). Default: none.
"""

AITRACER_JSONL_MIRROR = "AITRACER_JSONL_MIRROR"
"""
.. envvar:: AITRACER_JSONL_MIRROR

File of one JSON line per span start and end of an agent run (``register(jsonl_mirror=)``). Default: none.
"""

AITRACER_K8S_ENDPOINT = "AITRACER_K8S_ENDPOINT"
"""
.. envvar:: AITRACER_K8S_ENDPOINT

Where records go inside Kubernetes when neither an API key nor a store is set: the in-cluster
``otel-aitracer serve``. Default: ``http://otel-aitracer.observability.svc.cluster.local:4318``;
``off`` keeps them in the local store.
"""

AITRACER_ANOMALY_THRESHOLDS = "AITRACER_ANOMALY_THRESHOLDS"
"""
.. envvar:: AITRACER_ANOMALY_THRESHOLDS

L4 anomaly thresholds that override a project's baseline, as JSON: ``{"checkout": {"latency_ms": 3000,
"cost": 0.05, "token_ratio": 20}, "*": {...}}`` (``*``: every project). Default: none (static defaults until
a project has 30 scored calls, then 1.5 × the p95 of its recent calls).
"""

AITRACER_ALERTS = "AITRACER_ALERTS"
"""
.. envvar:: AITRACER_ALERTS

The alerts file (TOML: rules per project and their Slack / Sentry destinations), checked as records are
written, in process and in ``serve`` (``serve --alerts FILE`` sets it). Default: no alerts.
"""
