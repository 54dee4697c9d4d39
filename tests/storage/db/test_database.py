"""The transaction runner: pool, retries, engine settings, failure reporting."""

from __future__ import annotations

import asyncio
import datetime
import threading

import pytest
import sqlalchemy as sa

from storage.db import Database, InteractionFailed
from storage.db.database import is_retryable
from storage.db.tables import domains
from tests.conftest import is_postgres


def _add_domain(conn: sa.Connection, name: str) -> int:
    result = conn.execute(domains.insert().values(
        name=name, created_at=datetime.datetime.now(datetime.UTC)))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def test_run_interaction_commits(database: Database) -> None:
    async def go() -> int:
        return await database.run_interaction("add_domain", _add_domain, "a.example")

    new_id = asyncio.run(go())
    names = database.run_sync(
        "names", lambda c: c.execute(sa.select(domains.c.name, domains.c.id)).all())
    assert [(r.name, r.id) for r in names] == [("a.example", new_id)]


def test_failed_interaction_rolls_back(database: Database) -> None:
    def fail(conn: sa.Connection) -> None:
        _add_domain(conn, "b.example")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        database.run_sync("fail", fail)
    count = database.run_sync("count", lambda c: c.execute(
        sa.select(sa.func.count()).select_from(domains)).scalar_one())
    assert count == 0


def test_retries_on_serialization_failure(database: Database) -> None:
    attempts = []

    def flaky(conn: sa.Connection) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            class Orig(Exception):
                sqlstate = "40001"
            raise sa.exc.OperationalError("UPDATE ...", {}, Orig("could not serialize"))
        _add_domain(conn, "c.example")
        return "done"

    assert database.run_sync("flaky", flaky) == "done"
    assert len(attempts) == 3


def test_gives_up_after_max_retries(database_url: str) -> None:
    db = Database(database_url, pool_size=1, max_retries=2)

    def always_locked(conn: sa.Connection) -> None:
        raise sa.exc.OperationalError("x", {}, Exception("database is locked"))

    try:
        with pytest.raises(InteractionFailed, match="always_locked"):
            db.run_sync("always_locked", always_locked)
    finally:
        db.close()


def test_non_retryable_errors_are_not_retried() -> None:
    assert not is_retryable(ValueError("x"))
    assert not is_retryable(sa.exc.IntegrityError("x", {}, Exception("UNIQUE constraint")))
    assert is_retryable(sa.exc.OperationalError("x", {}, Exception("deadlock detected")))


def test_concurrent_writers_all_land(database: Database) -> None:
    """Many threads writing at once: SQLite serialises them (BEGIN IMMEDIATE), PG too."""
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            database.run_sync("add", _add_domain, f"d{i}.example")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    count = database.run_sync("count", lambda c: c.execute(
        sa.select(sa.func.count()).select_from(domains)).scalar_one())
    assert count == 16


def test_dialect_settings(database: Database) -> None:
    if is_postgres():
        assert database.dialect == "postgresql"
        assert database.engine.dialect.driver == "psycopg"
        return
    assert database.dialect == "sqlite"
    mode, fks = database.run_sync("pragmas", lambda c: (
        c.exec_driver_sql("PRAGMA journal_mode").scalar(),
        c.exec_driver_sql("PRAGMA foreign_keys").scalar()), readonly=True)
    assert (mode, fks) == ("wal", 1)


def test_closed_database_refuses_work(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    db.close()

    async def go() -> None:
        await db.run_interaction("late", lambda c: None)

    with pytest.raises(InteractionFailed, match="closed"):
        asyncio.run(go())


def test_unreachable_postgres_is_reported_as_unavailable() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_size=1, max_retries=0)
    try:
        with pytest.raises(InteractionFailed, match="unavailable"):
            db.run_sync("probe", lambda c: c.execute(sa.text("SELECT 1")).scalar())
    finally:
        db.close()
