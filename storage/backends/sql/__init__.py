"""The ``sql`` backend: message content in the index's own database (the default)."""

from storage.backends.sql.backend import SqlBackend

__all__ = ["SqlBackend"]
