"""The command line as scripts use it: exit codes, help, init, check-config, db."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from groupware import __version__
from groupware.cli import build_parser
from tests.conftest import GROUPWARE, write_config


def gw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GROUPWARE, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={"PATH": "/usr/bin:/bin"})


def _all_commands() -> list[list[str]]:
    """Every command and sub-command path the parser knows."""
    import argparse

    out: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    out.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return out


def test_version() -> None:
    result = gw("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"groupware {__version__}"


def test_python_dash_m_is_the_same_cli() -> None:
    python = str(Path(GROUPWARE).parent / "python")
    result = subprocess.run([python, "-m", "groupware", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == f"groupware {__version__}"


@pytest.mark.parametrize("command", _all_commands(), ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as info:
        parser.parse_args([*command, "--help"])
    assert info.value.code == 0


def test_help_lists_commands() -> None:
    result = gw("--help")
    assert result.returncode == 0
    for name in ("serve", "init", "db", "check-config"):
        assert name in result.stdout


def test_no_command_is_usage_error() -> None:
    result = gw()
    assert result.returncode == 2
    assert "required" in result.stderr


def test_init_is_idempotent(tmp_path: Path) -> None:
    first = gw("--data-dir", str(tmp_path / "var"), "init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created administrator admin@example.test" in first.stdout
    pw_file = tmp_path / "var" / "initial-admin-password"
    password = pw_file.read_text().strip()
    assert len(password) >= 16 and password in first.stdout
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    second = gw("--data-dir", str(tmp_path / "var"), "init", cwd=tmp_path)
    assert second.returncode == 0
    assert second.stdout.startswith("already initialised")
    quiet = gw("--data-dir", str(tmp_path / "var"), "init", "--quiet-if-done", cwd=tmp_path)
    assert quiet.stdout == ""
    assert pw_file.read_text().strip() == password


def test_init_with_domain_and_password(tmp_path: Path) -> None:
    result = gw("--data-dir", str(tmp_path / "var"), "init", "--domain", "Corp.Example",
                "--admin", "root", "--admin-password", "s3cret-ÄÖ")
    assert result.returncode == 0, result.stderr
    assert "created administrator root@corp.example" in result.stdout
    assert "s3cret" not in result.stdout  # a given password is never echoed


def test_check_config_masks_and_exits_0(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    write_config(cfg, tmp_path / "var", "postgresql+psycopg://gw:topsecret@db.internal/gw",
                 [{"protocol": "http", "port": 8080}])
    result = gw("--config", str(cfg), "check-config")
    assert result.returncode == 0, result.stderr
    assert "topsecret" not in result.stdout
    assert 'url = "postgresql+psycopg://gw:***@db.internal/gw"' in result.stdout
    assert "[[listeners]]" in result.stdout
    as_json = json.loads(gw("--config", str(cfg), "check-config", "--json").stdout)
    assert as_json["listeners"][0]["port"] == 8080
    assert as_json["server"]["data_dir"] == str(tmp_path / "var")


def test_check_config_output_is_loadable(tmp_path: Path) -> None:
    """What check-config prints (unmasked parts) is itself a valid config file."""
    printed = gw("--data-dir", str(tmp_path), "check-config").stdout
    again = tmp_path / "again.toml"
    again.write_text(printed)
    result = gw("--config", str(again), "check-config")
    assert result.returncode == 0, result.stderr
    assert result.stdout == printed


def test_check_config_bad_key(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text("[database]\nurll = 'x'\n")
    result = gw("--config", str(cfg), "check-config")
    assert result.returncode == 2
    assert result.stderr.startswith("groupware: configuration error: database.urll: unknown key")


def test_db_commands(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "var")]
    assert gw(*data, "db", "current").stdout.startswith("empty (behind head")
    up = gw(*data, "db", "upgrade")
    assert up.returncode == 0 and "database upgraded: empty ->" in up.stdout
    assert gw(*data, "db", "upgrade").stdout.startswith("database already at")
    history = gw(*data, "db", "history").stdout.splitlines()
    assert history[0].startswith("<base> -> 0001")
