"""Errors otel-aitracer raises, and only where the application asked for them.

::

    AITracerError
    ├── APIError            the AITracer API answered with an error
    │   └── RateLimitError  ... with 429
    ├── ConfigurationError  a bad argument, raised at construction time
    └── ValidationError     a bad record given to ``log()``; names the field
"""

from __future__ import annotations


class AITracerError(Exception):
    """Base class of every otel-aitracer error."""


class APIError(AITracerError):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimitError(APIError):
    pass


class ConfigurationError(AITracerError, ValueError):
    pass


class ValidationError(AITracerError, ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
