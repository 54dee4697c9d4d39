"""Engine creation for the two supported databases.

SQLite (embedded default): WAL journal so readers never block the writer, foreign keys
on (off by default in SQLite), a busy timeout so a short lock wait is not an error.
PostgreSQL (production): psycopg 3, a pool sized to the thread pool, pre-ping so a
restarted server does not fail the first query.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

logger = logging.getLogger(__name__)


def create_engine(url: str, *, pool_size: int = 8, busy_timeout: float = 30.0,
                  echo: bool = False) -> Engine:
    """Create an engine for ``url`` with the per-dialect settings described above."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=2,
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
        )
        _configure_sqlite(engine, busy_timeout)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return sa.create_engine(
        parsed,
        echo=echo,
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy own transactions: pysqlite's implicit BEGIN is disabled and we
        # emit BEGIN IMMEDIATE ourselves so writers queue on the lock up front instead
        # of failing with SQLITE_BUSY on upgrade from a read lock (deadlock-prone).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Read-only interactions take a deferred BEGIN: in WAL mode they never wait.
        if conn.get_execution_options().get("groupware_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def redact_url(url: str) -> str:
    """The URL with its password replaced, for logs and ``check-config``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported elsewhere; never leak it here
        return "<unparsable URL>"
