"""pam_exec + our helper, driven by pamtester and by saslauthd -a pam + testsaslauthd:
the pam_mapi use case (SMTP AUTH of an MTA against groupware users and features)."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GROUPWARE
from tests.interop.provision import PASSWORDS, Installation, provision

pytestmark = pytest.mark.interop


@pytest.fixture
def installation(tmp_path: Path, database_url: str) -> Installation:
    return provision(tmp_path, database_url)


@pytest.fixture
def pam_service(installation: Installation) -> Iterator[tuple[str, str]]:
    """Two PAM services written into /etc/pam.d: one for SMTP, one for IMAP."""
    names = []
    for feature in ("smtp", "imap"):
        name = f"gwtest-{feature}-{secrets.token_hex(4)}"
        helper = f"{GROUPWARE} --config {installation.config} auth pam-exec --service {feature}"
        Path("/etc/pam.d", name).write_text(
            f"auth required pam_exec.so expose_authtok quiet log={installation.log} {helper}\n"
            f"account required pam_exec.so quiet log={installation.log} {helper}\n")
        names.append(name)
    yield names[0], names[1]
    for name in names:
        Path("/etc/pam.d", name).unlink(missing_ok=True)


def pamtester(service: str, user: str, password: str) -> bool:
    result = subprocess.run(["pamtester", service, user, "authenticate", "acct_mgmt"],
                            input=password + "\n", capture_output=True, text=True, timeout=60)
    return result.returncode == 0


def test_pamtester(installation: Installation, pam_service: tuple[str, str]) -> None:
    smtp, imap = pam_service
    assert pamtester(smtp, "alice", PASSWORDS["alice"])          # non-ASCII, ':' inside
    assert pamtester(smtp, "ALICE@example.test", PASSWORDS["alice"])
    assert not pamtester(smtp, "alice", "wrong")
    assert not pamtester(smtp, "nobody", "x")
    assert not pamtester(smtp, "carol", PASSWORDS["carol"])      # disabled user
    assert pamtester(smtp, "bob", PASSWORDS["bob"])              # imap off, smtp on
    assert not pamtester(imap, "bob", PASSWORDS["bob"])
    log = installation.log.read_text()
    for reason in ("wrong password", "unknown user", "user disabled", "feature imap disabled"):
        assert f"reason={reason}" in log, log


def test_saslauthd_pam(installation: Installation, pam_service: tuple[str, str],
                       tmp_path: Path) -> None:
    smtp, imap = pam_service
    run_dir = tmp_path / "saslauthd"
    run_dir.mkdir()
    proc = subprocess.Popen(["saslauthd", "-a", "pam", "-m", str(run_dir), "-n", "1", "-d"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # it signals its whole group on exit
    try:
        deadline = time.monotonic() + 10
        while not (run_dir / "mux").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

        def test(user: str, password: str, service: str) -> bool:
            r = subprocess.run(["testsaslauthd", "-u", user, "-p", password, "-s", service,
                                "-f", str(run_dir / "mux")],
                               capture_output=True, text=True, timeout=60)
            return r.returncode == 0 and "OK" in r.stdout

        assert test("alice", PASSWORDS["alice"], smtp)
        assert not test("alice", "wrong", smtp)
        assert test("bob", PASSWORDS["bob"], smtp)
        assert not test("bob", PASSWORDS["bob"], imap)
    finally:
        proc.terminate()
        proc.wait(10)


def test_checkpassword_protocol(installation: Installation, tmp_path: Path) -> None:
    """Dovecot's checkpassword interface: fd 3, SERVICE, exec of the reply program."""
    reply = tmp_path / "reply.sh"
    reply.write_text("#!/bin/sh\necho \"USER=$USER AUTHORIZED=$AUTHORIZED\"\n")
    reply.chmod(0o755)

    def check(user: str, password: str, service: str, authorized: str = "") -> tuple[int, str]:
        data = tmp_path / "fd3"
        data.write_bytes(f"{user}\0{password}\0".encode() + b"12345\0")
        env = {"SERVICE": service, "TCPREMOTEIP": "192.0.2.44", "PATH": "/usr/bin:/bin"}
        if authorized:
            env["AUTHORIZED"] = authorized
        # Dovecot hands the credentials on fd 3; a shell redirection does the same.
        r = subprocess.run(["sh", "-c", f'exec "$0" "$@" 3<{data}', GROUPWARE, "--config",
                            str(installation.config), "auth", "checkpassword", str(reply)],
                           env=env, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout

    code, out = check("alice", PASSWORDS["alice"], "imap", authorized="1")
    assert code == 0 and out.strip() == "USER=alice AUTHORIZED=2"
    assert check("alice", "wrong", "imap")[0] == 1
    assert check("bob", PASSWORDS["bob"], "imap")[0] == 1
    assert check("bob", PASSWORDS["bob"], "pop3")[0] == 0
