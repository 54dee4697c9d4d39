"""A throwaway, unprivileged Dovecot over a maildir our backend wrote, driven by imaplib.

Dovecot's ``imap`` binary speaks IMAP pre-authenticated on stdin/stdout, so
:class:`imaplib.IMAP4_stream` talks to it without a listener or password database.
As root it runs as ``nobody`` (Dovecot refuses root), so the maildir lives in a
world-traversable temporary directory and is handed to ``nobody`` before each session.
"""

from __future__ import annotations

import imaplib
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

IMAP_BINARY = Path("/usr/lib/dovecot/imap")
NOBODY = (65534, 65534)

_CONFIG = """\
base_dir = {work}/run
state_dir = {work}/state
log_path = {work}/log
mail_location = maildir:{root}
ssl = no
protocols = imap
"""


def available() -> bool:
    return IMAP_BINARY.exists()


def as_root() -> bool:
    return os.geteuid() == 0


@contextmanager
def shared_directory() -> Iterator[Path]:
    """A directory both we and the unprivileged Dovecot can reach."""
    path = Path(tempfile.mkdtemp(prefix="gw-maildir-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _hand_over(top: Path) -> None:
    if not as_root():
        return
    for dirpath, dirnames, filenames in os.walk(top):
        os.chown(dirpath, *NOBODY)
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), *NOBODY)


@contextmanager
def session(root: Path, work: Path) -> Iterator[imaplib.IMAP4_stream]:
    """An imaplib client on a Dovecot serving the maildir ``root``."""
    for sub in ("run", "state"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    conf = work / "dovecot.conf"
    conf.write_text(_CONFIG.format(work=work, root=root))
    _hand_over(work)
    _hand_over(root)
    user = "nobody" if as_root() else os.environ.get("USER", "test")
    prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if as_root() \
        else []
    command = [*prefix, "env", f"USER={user}", f"HOME={work}", "PATH=/usr/bin:/bin",
               str(IMAP_BINARY), "-c", str(conf)]
    client = imaplib.IMAP4_stream(shlex.join(command))
    try:
        yield client
    finally:
        with suppress(imaplib.IMAP4.abort, OSError):
            client.logout()


def check(response: tuple[str, list[object]]) -> list[object]:
    typ, data = response
    if typ != "OK":
        raise AssertionError(f"dovecot answered {typ}: {data!r}")
    return data


Fetched = dict[bytes, tuple[int, set[str], str, int]]


def fetch_messages(client: imaplib.IMAP4_stream, mailbox: str) -> Fetched:
    """body -> (uid, flags, INTERNALDATE, RFC822.SIZE) of every message in ``mailbox``."""
    check(client.select(quote(mailbox)))
    data = check(client.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"))
    out: Fetched = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        m = re.search(rb"UID (\d+)", head)
        f = re.search(rb"FLAGS \(([^)]*)\)", head)
        d = re.search(rb'INTERNALDATE "([^"]+)"', head)
        z = re.search(rb"RFC822.SIZE (\d+)", head)
        assert m and f and d and z, head
        out[body] = (int(m.group(1)), set(f.group(1).decode().split()), d.group(1).decode(),
                     int(z.group(1)))
    return out


def quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'
