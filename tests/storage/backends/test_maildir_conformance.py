"""The maildir backend passes the shared conformance suite (through MapiStore, on the
test database: SQLite by default, PostgreSQL with GROUPWARE_TEST_DATABASE)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.storage.mapistore.conformance import *  # noqa: F403


@pytest.fixture
def backend_uri(tmp_path: Path) -> str:
    return f"maildir://{tmp_path}/mail/{{user}}"
