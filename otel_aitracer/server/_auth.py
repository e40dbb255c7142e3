"""Bearer keys, each bound to the projects it may write and read.

Configured by ``AITRACER_SERVER_KEYS`` (``key=project1,project2;key2=project3``)
and/or a JSON file (``{"key": ["project1", "project2"]}``); ``*`` allows every
project. With no key configured the server is open (for a laptop or a trusted
cluster network) and says so when it starts.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..exceptions import ConfigurationError

ANY_PROJECT = "*"


@dataclass(frozen=True)
class Grant:
    """What one request may do: its projects (``*`` for all) and the project records default to."""

    projects: frozenset[str]
    default_project: str | None

    def allows(self, project: str) -> bool:
        return ANY_PROJECT in self.projects or project in self.projects


OPEN = Grant(frozenset({ANY_PROJECT}), None)


class Keys:
    def __init__(self, keys: dict[str, list[str]]) -> None:
        for key, projects in keys.items():
            if not key or not projects or not all(isinstance(p, str) and p for p in projects):
                raise ConfigurationError(f"key {key[:4]}…: needs at least one project name")
        self._keys = {key: list(projects) for key, projects in keys.items()}

    @property
    def open(self) -> bool:
        return not self._keys

    @classmethod
    def load(cls, file: str | os.PathLike[str] | None = None, spec: str | None = None) -> Keys:
        keys: dict[str, list[str]] = {}
        if file:
            try:
                loaded = orjson.loads(Path(file).read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise ConfigurationError(f"cannot read the keys file {file}: {exc}") from exc
            if not isinstance(loaded, dict) or not all(isinstance(v, list) for v in loaded.values()):
                raise ConfigurationError(f"{file}: expected {{\"key\": [\"project\", ...]}}")
            keys.update(loaded)
        for entry in filter(None, (part.strip() for part in (spec or "").split(";"))):
            key, sep, projects = entry.partition("=")
            if not sep:
                raise ConfigurationError("AITRACER_SERVER_KEYS: expected key=project1,project2;key2=project3")
            keys[key.strip()] = [p.strip() for p in projects.split(",") if p.strip()]
        return cls(keys)

    def grant(self, authorization: str | None) -> Grant | None:
        """The grant of a request's ``Authorization`` header; None when it has no valid key."""
        if self.open:
            return OPEN
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        for key, projects in self._keys.items():
            if hmac.compare_digest(key.encode(), token.strip().encode()):
                return Grant(frozenset(projects), next((p for p in projects if p != ANY_PROJECT), None))
        return None
