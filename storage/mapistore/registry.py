"""Backends by URI scheme: loaded by name from the configuration and checked on load.

``[mapistore] backend_modules`` adds or overrides ``scheme = "package.module:Class"``
entries; the built-ins are listed in :data:`BUILTIN_BACKENDS`. A backend is imported
the first time a URI with its scheme is needed (start-up checks every configured
URI), so an installation that uses only ``sql:`` never imports the others.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from storage.mapistore.backend import Backend
from storage.mapistore.errors import BackendNotAvailable
from storage.mapistore.model import BackendUri

logger = logging.getLogger(__name__)

BUILTIN_BACKENDS: dict[str, str] = {
    "sql": "storage.backends.sql:SqlBackend",
    "maildir": "storage.backends.maildir:MaildirBackend",
    "vdir": "storage.backends.vdir:VdirBackend",
}


def load_backend_class(scheme: str, spec: str) -> type[Backend]:
    """Import ``module:Class`` and check it is a complete backend for ``scheme``."""
    key = f"backend_modules.{scheme}"
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise BackendNotAvailable(key, f"expected 'package.module:Class', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendNotAvailable(key, f"cannot import {module_name}: {exc}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise BackendNotAvailable(key, f"{spec} is not a storage.mapistore Backend class")
    if cls.name != scheme:
        raise BackendNotAvailable(key, f"{spec} serves scheme {cls.name!r}, not {scheme!r}")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise BackendNotAvailable(key, f"{spec} does not implement: {missing}")
    return cls


class BackendRegistry:
    """One backend instance per scheme, created on first use."""

    def __init__(self, modules: Mapping[str, str] | None = None,
                 options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._specs = {**BUILTIN_BACKENDS, **dict(modules or {})}
        self._options = dict(options or {})
        self._instances: dict[str, Backend] = {}
        self._lock = threading.Lock()

    @property
    def schemes(self) -> list[str]:
        return sorted(self._specs)

    def get(self, scheme: str) -> Backend:
        """The backend for ``scheme``; BackendNotAvailable when unknown or broken."""
        scheme = scheme.lower()
        backend = self._instances.get(scheme)
        if backend is not None:
            return backend
        with self._lock:
            backend = self._instances.get(scheme)
            if backend is None:
                spec = self._specs.get(scheme)
                if spec is None:
                    raise BackendNotAvailable(
                        "mapistore", f"no backend for scheme {scheme!r} "
                        f"(known: {', '.join(self.schemes)})")
                cls = load_backend_class(scheme, spec)
                backend = cls(self._options.get(scheme))
                self._instances[scheme] = backend
                logger.debug("loaded mapistore backend %s from %s", scheme, spec)
        return backend

    def register(self, backend: Backend) -> None:
        """Use an existing instance for its scheme (tests, embedding)."""
        with self._lock:
            self._instances[backend.name] = backend
            self._specs.setdefault(backend.name, f"{type(backend).__module__}:"
                                                 f"{type(backend).__qualname__}")

    def for_uri(self, uri: BackendUri | str) -> Backend:
        parsed = uri if isinstance(uri, BackendUri) else BackendUri.parse(uri)
        return self.get(parsed.scheme)

    def check(self, uris: Iterable[str]) -> None:
        """Load the backend of every URI and let it check the URI (start-up check)."""
        for raw in uris:
            try:
                uri = BackendUri.parse(raw)
            except Exception as exc:
                raise BackendNotAvailable("mapistore", str(exc)) from None
            self.for_uri(uri).check_uri(uri)

    def close(self) -> None:
        for backend in self._instances.values():
            backend.close()
        self._instances.clear()
