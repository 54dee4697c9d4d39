"""The address-book handler over both directory implementations (SQL and a real slapd),
filled with the shared directory dataset (tests/directory/dataset.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from groupware.handlers.addressbook import AbSession, AddressBookHandler, Stat
from storage.db import Database
from tests.directory import dataset
from tests.directory.conftest import FAST_HASHER, ldap_directory
from tests.directory.slapd import Slapd

T = TypeVar("T")
CP_1252 = 1252
DEPLOYMENT = str(uuid.UUID(int=0x1234))


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def nspi_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("nspi-slapd"))
    server.setup(dataset.ldap_ldif())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sql", "ldap"])
def directory(request: pytest.FixtureRequest, database: Database) -> Iterator[Any]:
    from directory.sql import SqlDirectory

    if request.param == "sql":
        dataset.populate_sql(database, FAST_HASHER)
        yield SqlDirectory(database)
    else:
        d = ldap_directory(request.getfixturevalue("nspi_slapd"), database)
        yield d
        d.close_sync()


@pytest.fixture
def sql_directory(database: Database) -> Any:
    from directory.sql import SqlDirectory

    dataset.populate_sql(database, FAST_HASHER)
    return SqlDirectory(database)


async def _facts() -> dict[str, str]:
    return {"deployment_id": DEPLOYMENT}


def make_handler(directory: Any) -> AddressBookHandler:
    return AddressBookHandler(directory, organization="First Organization",
                              hostname="mail.example.test", base_url="https://mail.example.test",
                              server_facts=_facts, cache_ttl=3600.0)


async def bound(handler: AddressBookHandler, login: str = "alice@example.test",
                code_page: int = CP_1252) -> AbSession:
    user = await handler._directory.resolve_login(login)
    assert user is not None
    return await handler.bind(user, 0, Stat(code_page=code_page, template_locale=0x409,
                                            sort_locale=0x409))
