"""The real ``groupware serve`` process: start, probe, stop, and refuse to start cleanly."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from storage.db import Database, schema
from tests.conftest import GROUPWARE, RunningServer, start_server, write_config


def _get(url: str) -> tuple[int, str, bytes]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=10, context=ctx) as resp:
            return resp.status, resp.headers.get("content-type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type", ""), exc.read()


def test_healthz_metrics_and_clean_sigterm(running_server: RunningServer) -> None:
    http = running_server.port("http", "none")
    https = running_server.port("http", "implicit")
    status, ctype, body = _get(f"http://127.0.0.1:{http}/healthz")
    assert status == 200 and ctype == "application/json"
    report = json.loads(body)
    assert report["status"] == "ok" and report["database"] == "ok"
    status, _ctype, body = _get(f"https://127.0.0.1:{https}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, _ctype, body = _get(f"http://127.0.0.1:{http}/metrics")
    assert status == 200
    assert b'groupware_db_interaction_seconds_count{desc="healthz"}' in body
    assert _get(f"http://127.0.0.1:{http}/no-such-thing")[0] == 404

    # An idle keep-alive connection must not hold the shutdown.
    idle = socket.create_connection(("127.0.0.1", http))
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(4096).startswith(b"HTTP/1.1 200")
    t0 = time.monotonic()
    running_server.process.send_signal(signal.SIGTERM)
    running_server.process.wait(10)
    elapsed = time.monotonic() - t0
    idle.close()
    assert running_server.process.returncode == 0
    assert elapsed < 5.0
    log = running_server.log()
    assert "stopped" in log
    assert "Traceback" not in log


def test_sigint_stops_cleanly_even_if_inherited_as_ignored(tmp_path: Path,
                                                          database_url: str) -> None:
    """Shells and CI runners start background jobs with SIGINT ignored; Ctrl-C or
    SIGINT must still stop the server gracefully."""
    cfg = tmp_path / "g.toml"
    write_config(cfg, tmp_path / "var", database_url,
                 [{"protocol": "http", "port": 0, "address": "127.0.0.1"}])
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [GROUPWARE, "--config", str(cfg), "serve", "--quiet", "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # noqa: PLW1509
    deadline = time.monotonic() + 30
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert time.monotonic() - t0 < 5.0
    assert "stopped" in err


def test_generated_key_is_private(running_server: RunningServer) -> None:
    key = running_server.data_dir / "tls" / "key.pem"
    mode = stat.S_IMODE(key.stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)
    assert (running_server.data_dir / "tls" / "cert.pem").read_bytes().startswith(
        b"-----BEGIN CERTIFICATE-----")


def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path, database_url: str) -> None:
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        with pytest.raises(RuntimeError) as info:
            start_server(tmp_path, database_url, listeners=[
                {"protocol": "http", "address": "127.0.0.1", "port": 0},
                {"protocol": "http", "address": "127.0.0.1", "port": port},
            ])
    finally:
        blocker.close()
    text = str(info.value)
    assert "server exited with 2" in text
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in text
    assert "Traceback" not in text


def _serve(config: Path, *extra: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GROUPWARE, "--config", str(config), "serve", *extra],
                          capture_output=True, text=True, timeout=timeout)


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text("[server]\nthread_pool_size = -3\n")
    result = _serve(cfg)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "groupware: configuration error: server.thread_pool_size: must be between 1 and 256"
    ]


def test_unavailable_protocol_is_refused(tmp_path: Path, database_url: str) -> None:
    cfg = tmp_path / "g.toml"
    write_config(cfg, tmp_path / "var", database_url,
                 [{"protocol": "http", "port": 0, "address": "127.0.0.1"},
                  {"protocol": "xmpp", "port": 0, "address": "127.0.0.1", "name": "chat"}])
    result = _serve(cfg)
    assert result.returncode == 2, result.stderr
    assert "listeners.chat.protocol: xmpp is not available" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_data_dir_is_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = subprocess.run([GROUPWARE, "--data-dir", str(blocker / "var"), "serve"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "data directory" in result.stderr and "cannot create it" in result.stderr
    assert "Traceback" not in result.stderr


def test_old_schema_refuses_to_start(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    revisions = schema.history()
    if len(revisions) > 1:
        db = Database(db_url, pool_size=1)
        schema.upgrade(db, revisions[-2][0])
        db.close()
        expected = "run `groupware db upgrade`"
    else:
        expected = "has no schema yet"
    cfg = tmp_path / "g.toml"
    write_config(cfg, tmp_path / "var", db_url,
                 [{"protocol": "http", "port": 0, "address": "127.0.0.1"}])
    result = _serve(cfg)
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # ... and the command it names fixes it.
    up = subprocess.run([GROUPWARE, "--config", str(cfg), "db", "upgrade"],
                        capture_output=True, text=True, timeout=60)
    assert up.returncode == 0 and "database upgraded" in up.stdout
    current = subprocess.run([GROUPWARE, "--config", str(cfg), "db", "current"],
                             capture_output=True, text=True, timeout=60)
    assert current.stdout.strip() == f"{schema.head_revision()} (up to date)"


def test_json_logs_carry_fields(tmp_path: Path, database_url: str) -> None:
    cfg = tmp_path / "g.toml"
    write_config(cfg, tmp_path / "var", database_url,
                 [{"protocol": "http", "port": 0, "address": "127.0.0.1"}])
    cfg.write_text(cfg.read_text().replace('log_level = "DEBUG"',
                                           'log_level = "INFO"\nlog_format = "json"'))
    proc = subprocess.Popen([GROUPWARE, "--config", str(cfg), "serve", "--quiet",
                             "--ready-file", str(tmp_path / "ready.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    messages = [r["msg"] for r in records]
    assert any(m.startswith("ready in") for m in messages)
    assert all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
