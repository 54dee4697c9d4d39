"""Run a throwaway, unprivileged Dovecot ``imap`` process over a temporary maildir.

Dovecot's imap binary speaks IMAP on stdin/stdout in pre-authenticated mode, so no
listener, password database or port is needed: the messages are dropped into
``Maildir/new`` and one FETCH is issued for all of them.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

IMAP_BINARY = Path("/usr/lib/dovecot/imap")

_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/log
mail_location = maildir:{root}/Maildir
ssl = no
protocols = imap
"""


def available() -> bool:
    return IMAP_BINARY.exists()


def _unprivileged() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError("running as root needs setpriv to drop to nobody")
    group = grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
    return [setpriv, "--reuid=nobody", f"--regid={group}", "--clear-groups"]


def fetch(messages: list[bytes], items: str) -> list[bytes]:
    """``FETCH 1:* (items)`` over ``messages``; the raw response of each, in order.

    The maildir lives in a fresh directory of its own (pytest's are private to root,
    and Dovecot runs as ``nobody`` when the tests run as root), removed afterwards.
    """
    workdir = Path(tempfile.mkdtemp(prefix="gw-dovecot-"))
    try:
        return _fetch(messages, items, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _fetch(messages: list[bytes], items: str, workdir: Path) -> list[bytes]:
    root = workdir / "dovecot"
    for sub in ("Maildir/new", "Maildir/cur", "Maildir/tmp", "run", "state"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, msg in enumerate(messages, 1):
        (root / "Maildir" / "new" / f"{i:05d}.test").write_bytes(msg)
    (root / "dovecot.conf").write_text(_CONFIG.format(root=root))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(workdir, 0o755)
    user = "nobody" if os.geteuid() == 0 else os.environ.get("USER", "test")
    env = {
        "USER": user,
        "HOME": str(root),
        "MAIL": f"maildir:{root}/Maildir",
        "PATH": "/usr/bin:/bin",
    }
    command = [*_unprivileged(), "env", *(f"{k}={v}" for k, v in env.items()),
               str(IMAP_BINARY), "-c", str(root / "dovecot.conf")]
    out = _converse(command, f"a SELECT INBOX\r\nb FETCH 1:* ({items})\r\n".encode())
    responses = []
    pos = 0
    pattern = re.compile(rb"\* (\d+) FETCH ")
    while (m := pattern.search(out, pos)) is not None:
        end = _response_end(out, m.start())
        responses.append(out[m.start() : end])
        pos = end
    if len(responses) != len(messages):
        raise RuntimeError(f"expected {len(messages)} FETCH responses, got {len(responses)}")
    return responses


def _converse(command: list[str], script: bytes) -> bytes:
    """Send ``script``, read until the FETCH completes, then log out.

    Closing stdin early makes Dovecot drop output it has not flushed yet, so the
    session stays open until the tagged ``b`` completion has been read.
    """
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    out = b""
    try:
        proc.stdin.write(script)
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        done = re.compile(rb"\r\nb (OK|NO|BAD) [^\r\n]*\r\n")
        while done.search(out) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot did not answer in time")
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            out += chunk
        proc.stdin.write(b"c LOGOUT\r\n")
        proc.stdin.close()
        out += proc.stdout.read()
        stderr = proc.stderr.read() if proc.stderr else b""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    if b"\r\nb OK" not in out:
        raise RuntimeError(f"dovecot failed: {out[-500:]!r} {stderr[-500:]!r}")
    return out


def _response_end(data: bytes, pos: int) -> int:
    """End of one response line, skipping over literals."""
    literal = re.compile(rb"\{(\d+)\}\r\n")
    while True:
        eol = data.index(b"\r\n", pos)
        m = literal.search(data, pos, eol + 2)
        if m is not None and m.end() == eol + 2:
            pos = m.end() + int(m.group(1))
            continue
        return eol + 2
