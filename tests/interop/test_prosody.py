"""The auth_http endpoint in a running server, spoken to exactly as Prosody's
mod_auth_http does (GET <base>/check_password?user=&pass=&server=, Basic credentials
from http_auth_credentials; 200 "true" means yes)."""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server

pytestmark = pytest.mark.interop
SECRET = "shared-secret-ü"
EXTRA = f"""
[auth]
argon2_time_cost = 1
argon2_memory_cost = 1024
argon2_parallelism = 1
user_cache_ttl = 0
http_secret = "{SECRET}"
max_failures_per_user = 3
"""


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[RunningServer]:
    srv = start_server(tmp_path, database_url, listeners=[
        {"protocol": "auth_http", "address": "127.0.0.1", "port": 0, "tls": "none"}],
        extra_config=EXTRA)
    srv.cli("user", "add", "alice@example.test", "--password-stdin", input="pw:ü\n")
    srv.cli("user", "add", "bob@example.test", "--password-stdin", input="bob-pw\n")
    srv.cli("user", "features", "bob", "--disable", "chat")
    yield srv
    srv.stop()


def call(srv: RunningServer, method: str, secret: str | None = SECRET,
         **params: str) -> tuple[int, str]:
    url = (f"http://127.0.0.1:{srv.port('auth_http')}/prosody/{method}?"
           + urllib.parse.urlencode({**params, "server": "example.test"}))
    request = urllib.request.Request(url)
    if secret is not None:
        creds = base64.b64encode(f"prosody:{secret}".encode()).decode()
        request.add_header("Authorization", f"Basic {creds}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_prosody_mod_auth_http_calls(server: RunningServer) -> None:
    assert call(server, "check_password", user="alice", **{"pass": "pw:ü"}) == (200, "true")
    assert call(server, "check_password", user="alice", **{"pass": "nope"}) == (200, "false")
    assert call(server, "check_password", user="bob", **{"pass": "bob-pw"}) == (200, "false")
    assert call(server, "user_exists", user="alice") == (200, "true")
    assert call(server, "user_exists", user="bob") == (200, "false")     # chat disabled
    assert call(server, "user_exists", user="nobody") == (200, "false")
    assert call(server, "check_password", secret=None, user="alice",
                **{"pass": "pw:ü"})[0] == 401
    assert call(server, "check_password", secret="wrong", user="alice",
                **{"pass": "pw:ü"})[0] == 401
    assert call(server, "set_password", user="alice", **{"pass": "x"})[0] == 403
    assert call(server, "check_password", user="a" * 5000, **{"pass": "x"})[0] == 400
    # throttling through the endpoint: the peer (127.0.0.1) and the user are counted
    for _ in range(2):
        call(server, "check_password", user="alice", **{"pass": "guess"})
    assert call(server, "check_password", user="alice", **{"pass": "pw:ü"}) == (200, "false")
    log = server.log()
    assert "reason=feature chat disabled" in log
    assert "reason=too many failures for this user" in log
    assert "without the shared secret refused" in log
