"""fetchmail (a real POP3 client) fetches over STLS, keeps the messages and, thanks to
stable UIDLs, fetches nothing new on its second run."""

from __future__ import annotations

import smtplib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer
from tests.protocols.smtp.helpers import PASSWORDS, mail_server

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from mail_server(request, tmp_path_factory.mktemp("fetchmail"))


def run_fetchmail(rc: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["fetchmail", "-f", str(rc), "-v", "--nodetach", "--nosyslog"],
                          capture_output=True, text=True, timeout=60,
                          env={"HOME": str(home), "PATH": "/usr/bin:/bin"})


def test_fetchmail_keeps_and_uses_uidl(server: RunningServer, tmp_path: Path) -> None:
    tags = [f"fm-{uuid.uuid4().hex}" for _ in range(2)]
    with smtplib.LMTP("127.0.0.1", server.port("lmtp")) as lmtp:
        for tag in tags:
            lmtp.sendmail("x@example.org", ["carol@example.test"],
                          f"Subject: {tag}\r\nFrom: x@example.org\r\n\r\nhello\r\n")
    out = tmp_path / "mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"set idfile {tmp_path / 'fetchids'}\n"
        f"poll 127.0.0.1 service {server.port('pop3', 'starttls')} protocol pop3 uidl\n"
        f'  user "carol@example.test" password "{PASSWORDS["carol"]}"\n'
        f"  sslproto 'tls1.2+' no sslcertck keep\n"
        f'  mda "cat >> {out}"\n')
    rc.chmod(0o600)
    first = run_fetchmail(rc, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    text = out.read_text()
    for tag in tags:
        assert f"Subject: {tag}" in text
    assert "STLS" in first.stdout + first.stderr
    second = run_fetchmail(rc, tmp_path)
    # Exit status 1: no new mail; nothing appended on the second run.
    assert second.returncode == 1, second.stdout + second.stderr
    assert out.read_text() == text
