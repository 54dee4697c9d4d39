"""The naive base-class defaults (through a minimal file backend) pass the suite too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.storage.mapistore.conformance import *  # noqa: F403


@pytest.fixture
def backend_uri(tmp_path: Path) -> str:
    return f"testfile://{tmp_path}/files/{{user}}"
