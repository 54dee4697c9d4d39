"""Fixtures shared by the whole suite.

``GROUPWARE_TEST_DATABASE`` chooses the database: ``sqlite`` (default, a fresh file per
test) or a PostgreSQL URL (the Makefile creates a throwaway database; tables are
emptied between tests). Every test that touches the database therefore runs on both.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.db import Database, metadata
from storage.db import schema as db_schema

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
GROUPWARE = str(VENV_BIN / "groupware")


def test_database_url() -> str:
    return os.environ.get("GROUPWARE_TEST_DATABASE", "sqlite")


def is_postgres() -> bool:
    return test_database_url().startswith("postgresql")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dbtemplate") / "template.sqlite3"
    db = Database(f"sqlite:///{path}", pool_size=1)
    db_schema.upgrade(db)
    db.close()
    return path


@pytest.fixture(scope="session")
def _postgres_ready() -> str | None:
    if not is_postgres():
        return None
    url = test_database_url()
    db = Database(url, pool_size=1)
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        db_schema.upgrade(db)
    finally:
        db.close()
    return url


def empty_database_url(request: pytest.FixtureRequest, directory: Path) -> str:
    """A database at the schema head with empty tables: on PostgreSQL the run's database
    emptied, on SQLite a copy of the template in ``directory``. Shared by the per-test
    fixture and the module-scoped servers."""
    if is_postgres():
        url: str = request.getfixturevalue("_postgres_ready")
        db = Database(url, pool_size=1)
        try:
            with db.engine.begin() as conn:
                names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        finally:
            db.close()
        return url
    template: Path = request.getfixturevalue("_sqlite_template")
    path = directory / "groupware.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a database at the schema head with empty tables, private to this test."""
    return empty_database_url(request, tmp_path)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url, pool_size=4)
    yield db
    db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    """A real ``groupware serve`` process on loopback."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    config_path: Path
    database_url: str
    listeners: list[dict[str, Any]]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def port(self, protocol: str, tls: str | None = None) -> int:
        for lst in self.listeners:
            if lst["protocol"] == protocol and (tls is None or lst["tls"] == tls):
                return int(lst["port"])
        raise KeyError(f"no {protocol} listener (tls={tls})")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cli(self, *args: str, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a ``groupware`` command against this server's config and database."""
        return subprocess.run(
            [GROUPWARE, "--config", str(self.config_path), *args],
            input=input, capture_output=True, text=True, env=self.env, check=check,
            timeout=120,
        )

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


def write_config(path: Path, data_dir: Path, database_url: str,
                 listeners: list[dict[str, Any]], extra: str = "") -> None:
    lines = [
        "[server]",
        f'data_dir = "{data_dir}"',
        'hostname = "localhost"',
        'log_level = "DEBUG"',
        "shutdown_timeout = 3.0",
        "thread_pool_size = 4",
        "",
        "[database]",
        f'url = "{database_url}"',
        "",
    ]
    for lst in listeners:
        lines.append("[[listeners]]")
        for k, v in lst.items():
            lines.append(f"{k} = {json.dumps(v)}")
        lines.append("")
    path.write_text("\n".join(lines) + extra)


def start_server(tmp_path: Path, database_url: str,
                 listeners: list[dict[str, Any]] | None = None,
                 extra_config: str = "", init: bool = True,
                 timeout: float = 30.0) -> RunningServer:
    """Write a config, run ``groupware init`` and ``serve``, wait until all listen."""
    data_dir = tmp_path / "var"
    config_path = tmp_path / "groupware.toml"
    if listeners is None:
        listeners = [
            {"protocol": "http", "address": "127.0.0.1", "port": 0, "tls": "none"},
            {"protocol": "http", "address": "127.0.0.1", "port": 0, "tls": "implicit"},
        ]
    write_config(config_path, data_dir, database_url, listeners, extra_config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPWARE")}
    if init:
        subprocess.run([GROUPWARE, "--config", str(config_path), "init", "--quiet-if-done",
                        "--admin-password", "admin-secret"],
                       check=True, capture_output=True, env=env, timeout=60)
    ready = tmp_path / "ready.json"
    log_path = tmp_path / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [GROUPWARE, "--config", str(config_path), "serve", "--quiet", "--ready-file", str(ready)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server not ready in {timeout}s:\n{log_path.read_text()}")
        time.sleep(0.05)
    info = json.loads(ready.read_text())
    return RunningServer(proc, data_dir, config_path, database_url, info["listeners"],
                         log_path, env)


@pytest.fixture
def running_server(tmp_path: Path, database_url: str) -> Iterator[RunningServer]:
    """A real server process with the default HTTP listeners on free loopback ports."""
    server = start_server(tmp_path, database_url)
    yield server
    server.stop()
