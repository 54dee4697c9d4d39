"""Structured logging: text for humans, JSON for collectors, with a request context.

Protocol sessions set ``protocol``, ``user`` and ``peer`` once with :func:`log_context`;
every log line emitted while handling that session carries them, including lines from
storage and the directory, without passing loggers around. The context lives in a
``contextvars.ContextVar``, so it follows coroutines across awaits.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO

_EMPTY: dict[str, str] = {}  # never mutated: every change makes a new dict
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "groupware_log_context", default=_EMPTY
)


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add fields (protocol=, user=, peer= ...) to every log record in this block."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def set_log_context(**fields: str | None) -> None:
    """Like :func:`log_context` for the rest of the current task (no block)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def current_context() -> dict[str, str]:
    return dict(_context.get())


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = _context.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s%(ctx_text)s")

    def format(self, record: logging.LogRecord) -> str:
        ctx: dict[str, str] = getattr(record, "ctx", {})
        text = " [" + " ".join(f"{k}={v}" for k, v in ctx.items()) + "]" if ctx else ""
        record.ctx_text = text
        return super().format(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "ctx", {}))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Configure the root logger once for the process; Twisted's log is bridged in app."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # SQLAlchemy and Alembic are chatty at INFO; their warnings still come through.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("sqlalchemy").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("asyncio").setLevel(max(logging.INFO, root.level))
