"""The transaction runner: every SQL statement runs here, off the reactor thread.

``await db.run_interaction("append_message", fn, *args)`` runs ``fn(conn, *args)`` inside
one transaction on a bounded thread pool and retries it when the database reports a
serialization failure or deadlock (PostgreSQL SQLSTATE 40001/40P01, SQLite "database is
locked"). ``fn`` must therefore be safe to run again: no side effects outside ``conn``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from prometheus_client import Counter, Histogram
from sqlalchemy.engine import Engine

from groupware.errors import Unavailable
from storage.db.engine import create_engine, redact_url

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

INTERACTION_SECONDS = Histogram(
    "groupware_db_interaction_seconds",
    "Time spent in database interactions, by name",
    ["desc"],
)
INTERACTION_RETRIES = Counter(
    "groupware_db_interaction_retries_total",
    "Database interactions retried after a serialization failure or deadlock",
    ["desc"],
)


class InteractionFailed(Unavailable):
    """The database could not run an interaction (down, or still conflicting)."""


def is_retryable(exc: BaseException) -> bool:
    """True for errors that mean "run the same transaction again"."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "deadlock" in text


class Database:
    """An engine plus the bounded thread pool every interaction runs on."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        busy_timeout: float = 30.0,
        max_retries: int = 5,
        echo: bool = False,
    ) -> None:
        self.url = url
        self.engine: Engine = create_engine(
            url, pool_size=pool_size, busy_timeout=busy_timeout, echo=echo
        )
        self.dialect = self.engine.dialect.name
        self._max_retries = max_retries
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="db")
        self._closed = False
        self._inflight = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Database {redact_url(self.url)}>"

    async def run_interaction(
        self,
        desc: str,
        fn: Callable[Concatenate[sa.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run ``fn(conn, *args, **kwargs)`` in one transaction on the pool."""
        return await self._submit(desc, fn, False, *args, **kwargs)

    async def run_read(
        self,
        desc: str,
        fn: Callable[Concatenate[sa.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Like :meth:`run_interaction` for transactions that only read."""
        return await self._submit(desc, fn, True, *args, **kwargs)

    async def _submit(self, desc: str, fn: Callable[..., R], readonly: bool,
                      *args: Any, **kwargs: Any) -> R:
        if self._closed:
            raise InteractionFailed(f"database closed; cannot run {desc}")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: self.run_sync(desc, fn, *args, readonly=readonly, **kwargs)
        )

    def run_sync(self, desc: str, fn: Callable[..., R], *args: Any,
                 readonly: bool = False, **kwargs: Any) -> R:
        """Run an interaction on the calling thread (CLI tools, migrations, tests)."""
        with self._lock:
            self._inflight += 1
        try:
            attempt = 0
            with INTERACTION_SECONDS.labels(desc).time():
                while True:
                    try:
                        with self.engine.connect() as raw_conn:
                            conn = (raw_conn.execution_options(groupware_readonly=True)
                                    if readonly else raw_conn)
                            with conn.begin():
                                return fn(conn, *args, **kwargs)
                    except sa.exc.DBAPIError as exc:
                        if is_retryable(exc) and attempt < self._max_retries:
                            attempt += 1
                            INTERACTION_RETRIES.labels(desc).inc()
                            delay = min(0.5, 0.01 * 2**attempt) * (0.5 + random.random())  # noqa: S311
                            logger.info("retrying %s after %s (attempt %d)", desc,
                                        type(exc.orig).__name__, attempt)
                            time.sleep(delay)
                            continue
                        if exc.connection_invalidated or isinstance(
                            exc, sa.exc.OperationalError
                        ):
                            logger.error("database unavailable during %s: %s", desc, exc.orig)
                            raise InteractionFailed(f"database unavailable during {desc}") from exc
                        raise
        finally:
            with self._lock:
                self._inflight -= 1

    @property
    def inflight(self) -> int:
        """Interactions running or queued right now (graceful shutdown waits on it)."""
        return self._inflight

    def close(self) -> None:
        """Wait for running interactions, then release every connection."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        self.engine.dispose()
