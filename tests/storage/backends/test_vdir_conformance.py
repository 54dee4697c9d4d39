"""The vdir backend passes the shared conformance suite (every folder role on it, so
mail-class messages exercise its sidecar-only path and PIM classes its files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.storage.mapistore.conformance import *  # noqa: F403


@pytest.fixture
def backend_uri(tmp_path: Path) -> str:
    return f"vdir://{tmp_path}/pim/{{user}}"
