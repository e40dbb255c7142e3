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
