"""Run a throwaway, unprivileged Dovecot ``imap`` process over a temporary maildir.

Dovecot's imap binary speaks IMAP on stdin/stdout in pre-authenticated mode, so no
listener, password database or port is needed: the messages are dropped into
``Maildir/new`` and one FETCH is issued for all of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
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
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def fetch(messages: list[bytes], items: str, workdir: Path) -> list[bytes]:
    """``FETCH 1:* (items)`` over ``messages``; the raw response of each, in order."""
    root = workdir / "dovecot"
    for sub in ("Maildir/new", "Maildir/cur", "Maildir/tmp", "run", "state"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, msg in enumerate(messages, 1):
        (root / "Maildir" / "new" / f"{i:05d}.test").write_bytes(msg)
    (root / "dovecot.conf").write_text(_CONFIG.format(root=root))
    if os.geteuid() == 0:
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, 65534, 65534)
        os.chmod(workdir, 0o755)
    user = "nobody" if os.geteuid() == 0 else os.environ.get("USER", "test")
    env = {
        "USER": user,
        "HOME": str(root),
        "MAIL": f"maildir:{root}/Maildir",
        "PATH": "/usr/bin:/bin",
    }
    script = f"a SELECT INBOX\r\nb FETCH 1:* ({items})\r\nc LOGOUT\r\n".encode()
    result = subprocess.run(
        [*_unprivileged(), "env", *(f"{k}={v}" for k, v in env.items()), str(IMAP_BINARY),
         "-c", str(root / "dovecot.conf")],
        input=script, capture_output=True, timeout=60, check=False,
    )
    out = result.stdout
    if b"\r\nb OK" not in out:
        raise RuntimeError(f"dovecot failed: {out[-500:]!r} {result.stderr[-500:]!r}")
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
