"""Crash-safe file writes shared by the file backends (maildir, vdir).

The rule everywhere: write a temporary file in the target's file system, fsync it,
rename it into place, fsync the directory. A crash then leaves the old file or the
new one, never a torn one, and a reader (Dovecot, mutt, khal, vdirsyncer) never sees
a half-written file under a name it looks at.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def next_counter() -> int:
    """A process-wide counter: names made in the same microsecond still differ."""
    with _counter_lock:
        return next(_counter)


def safe_hostname() -> str:
    """The host name as the Maildir spec wants it in file names: ``/`` and ``:``
    escaped (as ``\\057`` and ``\\072``), so the name stays one path component."""
    host = socket.gethostname() or "localhost"
    return host.replace("/", "\\057").replace(":", "\\072").replace(",", "\\054")


def unique_token() -> str:
    """``<sec>.M<usec>P<pid>Q<counter>``: unique per host (Dovecot's delivery style)."""
    now = time.time()
    sec = int(now)
    usec = int((now - sec) * 1_000_000)
    return f"{sec}.M{usec}P{os.getpid()}Q{next_counter()}"


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(tmp_dir: Path, chunks: Iterable[bytes], *, fsync: bool,
               prefix: str = "", mtime: float | None = None) -> Path:
    """Write ``chunks`` to a new uniquely named file in ``tmp_dir`` (fsynced, and its
    modification time set to ``mtime`` when given). The caller renames it into place."""
    name = f"{prefix}{unique_token()}.{safe_hostname()}"
    path = tmp_dir / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return path


def replace_file(directory: Path, name: str, data: bytes, *, fsync: bool,
                 tmp_prefix: str = ".tmp-") -> os.stat_result:
    """Atomically (re)place ``directory/name`` with ``data``; the new file's stat."""
    tmp = write_temp(directory, [data], fsync=fsync, prefix=tmp_prefix)
    target = directory / name
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(directory)
    return target.stat()


def read_chunks(fh: BinaryIO) -> Iterable[bytes]:
    """A file object as a stream of chunks (memory stays flat for big messages)."""
    while chunk := fh.read(_CHUNK):
        yield chunk


def unlink_quietly(path: Path) -> bool:
    """Remove a file; False when it was already gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def remove_stale(directory: Path, *, older_than: float, now: float) -> int:
    """Remove files in ``directory`` not modified for ``older_than`` seconds (the
    Maildir rule for ``tmp/``: writers that crashed leave files nobody will rename)."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and \
                    now - entry.stat(follow_symlinks=False).st_mtime > older_than:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed
