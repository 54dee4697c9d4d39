"""Fixtures of the message-store tests (the sql backend unless a test says otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from groupware.notifier import Event
from storage.db import Database
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.mapistore.support import SyncStore, build_store, provision


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def store(database: Database, tmp_path: Path, events: list[Event]) -> Iterator[SyncStore]:
    built = build_store(database, tmp_path, events=events)
    yield SyncStore(built)
    built.close()


@pytest.fixture
def box(store: SyncStore) -> tuple[Any, dict[SpecialFolder, int]]:
    info = provision(store)
    return info, store.special_folders(info.id)
