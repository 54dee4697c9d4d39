"""``groupware mailbox ...`` against a real database, as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.db.tables_mapistore import folders
from tests.conftest import GROUPWARE, REPO, write_config


def _cli(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPWARE")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([GROUPWARE, "--config", str(config), *args], capture_output=True,
                          text=True, env=env, check=check, timeout=120)


def _config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "groupware.toml"
    files = tmp_path / "files"
    write_config(path, tmp_path / "var", database_url, [], extra=(
        "[mapistore]\nblob_fsync = false\n"
        'backend_modules = { testfile = "tests.storage.mapistore.filebackend:FileBackend" }\n'
        f'[mapistore.roles]\nfallback = "sql:"\ncalendar = "testfile://{files}/{{user}}"\n'))
    return path


@pytest.mark.slow
def test_mailbox_commands(tmp_path: Path, database_url: str) -> None:
    config = _config(tmp_path, database_url)
    _cli(config, "domain", "add", "example.test")
    _cli(config, "user", "add", "alice@example.test", "--no-password", "--no-mailbox")
    assert "ready" in _cli(config, "mailbox", "provision", "alice", "--locale", "fr").stdout
    shown: dict[str, Any] = json.loads(_cli(config, "mailbox", "show", "alice", "--json").stdout)
    assert shown["username"] == "alice" and shown["locale"] == "fr"
    assert shown["folders"] == 26 and shown["provisioned"] is True
    listing = json.loads(_cli(config, "mailbox", "folders", "alice", "--json").stdout)
    by_role = {row["role"]: row for row in listing}
    assert by_role["inbox"]["folder"].strip() == "Boîte de réception"
    assert by_role["calendar"]["backend"] == f"testfile://{tmp_path}/files/alice"
    assert (tmp_path / "files" / "alice").is_dir()
    ok = _cli(config, "mailbox", "repair", "alice")
    assert "nothing to fix" in ok.stdout
    # Damage the index: repair reports it (exit 1) until --fix repairs it.
    db = Database(database_url, pool_size=1)
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.update(folders).where(folders.c.role == "inbox")
                         .values(unread_count=5))
    finally:
        db.close()
    broken = _cli(config, "mailbox", "repair", "store:1", check=False)
    assert broken.returncode == 1 and "counters" in broken.stdout
    fixed = _cli(config, "mailbox", "repair", "--all", "--fix")
    assert "fixed:" in fixed.stdout
    assert _cli(config, "mailbox", "repair", "--all").returncode == 0
    moved = _cli(config, "mailbox", "move-folder", "alice", "--role", "calendar", "--to", "sql:")
    assert "moved to sql:" in moved.stdout
    listing = json.loads(_cli(config, "mailbox", "folders", "alice", "--json").stdout)
    assert {row["role"]: row for row in listing}["calendar"]["backend"] == "sql:"
    assert "purged 0 soft-deleted" in _cli(config, "mailbox", "gc").stdout
    missing = _cli(config, "mailbox", "show", "nobody", check=False)
    assert missing.returncode == 1 and "no user" in missing.stderr
