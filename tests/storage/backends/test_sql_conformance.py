"""The sql backend passes the shared conformance suite."""

from __future__ import annotations

import pytest

from tests.storage.mapistore.conformance import *  # noqa: F403


@pytest.fixture
def backend_uri() -> str:
    return "sql:"
