"""The ``directory`` fixture: the same content in the SQL directory and in a real slapd,
so every test in this package runs against both implementations."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from groupware.passwords import PasswordHasher
from storage.db import Database
from tests.directory import dataset
from tests.directory.slapd import SERVICE_DN, SERVICE_PW, SUFFIX, Slapd

T = TypeVar("T")
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """One populated slapd for the read-only tests of the session."""
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    server.setup(dataset.ldap_ldif())
    server.start()
    yield server
    server.stop()


def ldap_directory(slapd: Slapd, db: Database, **overrides: Any) -> Any:
    from directory.ldap import LdapDirectory, LdapSettings
    from groupware.config.sections import LdapConfig

    cfg = LdapConfig(uri=[slapd.uri], base_dn=SUFFIX, bind_dn=SERVICE_DN,
                     bind_password=SERVICE_PW, **overrides)
    return LdapDirectory(LdapSettings.from_config(cfg), db, default_domain="example.test")


@pytest.fixture(params=["sql", "ldap"])
def directory(request: pytest.FixtureRequest, database: Database) -> Iterator[Any]:
    from directory.sql import SqlDirectory

    if request.param == "sql":
        dataset.populate_sql(database, FAST_HASHER)
        yield SqlDirectory(database)
    else:
        d = ldap_directory(request.getfixturevalue("slapd"), database)
        yield d
        d.close_sync()


@pytest.fixture
def private_slapd(tmp_path: Path) -> Iterator[Slapd]:
    """A slapd of its own, for tests that stop, restart or change it."""
    server = Slapd(tmp_path / "slapd", tls=True)
    server.setup(dataset.ldap_ldif())
    server.start()
    yield server
    server.stop()
