"""LMTP delivery of many small messages: groupware side by side with Dovecot's LMTP.

Target (mail-gateways issue): 10,000 small messages over one LMTP connection, ratio
groupware / Dovecot-LMTP >= 0.5 (messages per second).

Dovecot runs as a throwaway instance on loopback (passwd-file user, maildir under a
temporary directory, mail owned by ``nobody``); groupware as ``groupware serve`` with an
LMTP listener on the embedded default (SQLite). Both get the same messages (~2 KB, each
with its own Message-ID) over one connection with Python's ``smtplib.LMTP``, one
transaction per message; the rate of the first and last 1,000 is reported as well.
Run: ``python -m bench.bench_lmtp [count] [size]``.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import free_port, start_server

DOVECOT = "/usr/sbin/dovecot"
CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = gw-bench-{port}
protocols = lmtp
ssl = no
listen = 127.0.0.1
default_internal_user = nobody
default_internal_group = {group}
default_login_user = nobody
first_valid_uid = 1
mail_location = maildir:{root}/home/%n/Maildir
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0
  }}
}}
service stats {{
  client_limit = 10000
}}
"""


def message(i: int, size: int) -> bytes:
    head = (f"From: sender@example.org\r\nTo: alice@example.test\r\nSubject: bench {i}\r\n"
            f"Message-ID: <bench-{i}-{time.time_ns()}@example.org>\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n").encode()
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def drive(port: int, messages: list[bytes]) -> tuple[float, list[float]]:
    """Deliver every message over one LMTP connection; (total s, per-message stamps)."""
    stamps = []
    with smtplib.LMTP("127.0.0.1", port) as client:
        client.ehlo("bench")
        t0 = time.perf_counter()
        for msg in messages:
            refused = client.sendmail("sender@example.org", ["alice@example.test"], msg)
            if refused:
                raise RuntimeError(f"refused: {refused}")
            stamps.append(time.perf_counter())
        total = time.perf_counter() - t0
    return total, [s - t0 for s in stamps]


def rates(total: float, stamps: list[float]) -> tuple[float, float, float]:
    n = len(stamps)
    k = min(1000, n)
    first = k / stamps[k - 1]
    last = k / (stamps[-1] - (stamps[n - k - 1] if n > k else 0.0))
    return n / total, first, last


def run_dovecot(messages: list[bytes], workdir: Path) -> tuple[float, float, float]:
    root = workdir / "dovecot"
    for sub in ("run", "state", "home/alice"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    (root / "passwd").write_text(
        f"alice@example.test:{{PLAIN}}x:{nobody.pw_uid}:{nobody.pw_gid}::{root}/home/alice\n")
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(CONF.format(root=root, port=port, group=group))
    for path in (workdir.parent, workdir, root):
        os.chmod(path, 0o755)
    home = root / "home"
    for path in [home, *home.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_port(port)
        total, stamps = drive(port, messages)
        stored = len(list((root / "home/alice/Maildir/new").iterdir()))
        if stored != len(messages):
            raise RuntimeError(f"dovecot stored {stored} of {len(messages)}")
        return rates(total, stamps)
    finally:
        subprocess.run([DOVECOT, "-c", str(conf), "stop"], capture_output=True, timeout=30,
                       check=False)
        proc.wait(30)


def run_groupware(messages: list[bytes], workdir: Path) -> tuple[float, float, float]:
    url = f"sqlite:///{workdir}/groupware.sqlite3"
    server = start_server(workdir, url, listeners=[
        {"protocol": "lmtp", "address": "127.0.0.1", "port": 0, "tls": "none"},
        {"protocol": "imap", "address": "127.0.0.1", "port": 0, "tls": "none"},
    ])
    try:
        server.cli("user", "add", "alice@example.test", "--password-stdin",
                   input="alice-Secret-1\n")
        total, stamps = drive(server.port("lmtp"), messages)
        import imaplib

        client = imaplib.IMAP4("127.0.0.1", server.port("imap"))
        client.login("alice@example.test", "alice-Secret-1")
        _, data = client.select("INBOX", readonly=True)
        client.logout()
        if int(data[0]) != len(messages):
            raise RuntimeError(f"groupware stored {data[0]!r} of {len(messages)}")
        return rates(total, stamps)
    finally:
        server.stop()


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
    if not Path(DOVECOT).exists() or not Path("/usr/lib/dovecot/lmtp").exists():
        print("dovecot-lmtpd is not installed (apt-get install dovecot-lmtpd)")
        return 2
    messages = [message(i, size) for i in range(count)]
    work = Path(tempfile.mkdtemp(prefix="gw-bench-lmtp-"))
    try:
        (work / "gw").mkdir()
        (work / "dc").mkdir()
        ours = run_groupware(messages, work / "gw")
        theirs = run_dovecot(messages, work / "dc")
    finally:
        if os.environ.get("KEEP") is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"LMTP delivery of {count} x {size} B messages over one connection")
    for name, (avg, first, last) in (("groupware", ours), ("dovecot-lmtp", theirs)):
        print(f"  {name:13s} {avg:8.1f} msg/s  (first 1,000: {first:7.1f}/s, "
              f"last 1,000: {last:7.1f}/s)")
    ratio = ours[0] / theirs[0]
    print(f"  ratio groupware/dovecot: {ratio:.2f} (target >= 0.5)")
    return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
