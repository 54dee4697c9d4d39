"""Maildir file names and Maildir++ folder names.

File names (https://cr.yp.to/proto/maildir.html, Dovecot's extensions):
``<unique>[,S=<size>][,W=<vsize>][:2,<flags>]``. The part before ``:`` never changes
once the file exists, so it is the message's backend key; flags live after ``:2,``
in ASCII order (``DFPRST`` then Dovecot's keyword letters ``a``-``z``).

Folder names (Maildir++): a folder is the directory ``.<a>.<b>`` for ``a/b`` under
the root, the root itself is INBOX and INBOX's children are ``.INBOX.<child>``.
Names are modified UTF-7 (RFC 3501 5.1.3) like Dovecot writes them; the hierarchy
separator ``.`` and ``/``/``\\`` inside a name are escaped as Dovecot's
``listescape`` plugin does (``\\2e``, ``\\2f``, ``\\5c``).
"""

from __future__ import annotations

import base64
import re

from storage.backends.maildir.fileio import safe_hostname, unique_token

INFO_SEP = ":2,"
STANDARD_FLAGS = "DFPRST"

_SIZE_FIELD = re.compile(r",S=(\d+)")


def new_base_name(size: int, vsize: int, mid: int) -> str:
    """A unique base name for a message we write: time, pid and a counter make it
    unique on this host, the MID (``G``) tells our files from other programs' when
    a retried transaction writes again."""
    return f"{unique_token()}G{mid:x}.{safe_hostname()},S={size},W={vsize}"


def split_name(filename: str) -> tuple[str, str | None]:
    """(base, flags) of a maildir file name; flags is None for a file without info
    (usually in ``new/``)."""
    base, sep, info = filename.partition(":")
    if not sep:
        return filename, None
    if info.startswith("2,"):
        return base, info[2:]
    return base, ""  # experimental info ("1,...") or garbage: no flags we know


def join_name(base: str, flags: str | None) -> str:
    return base if flags is None else f"{base}{INFO_SEP}{flags}"


def normalize_flags(flags: str) -> str:
    """Flags de-duplicated in ASCII order, as the spec requires."""
    return "".join(sorted(set(flags)))


def size_in_name(base: str) -> int | None:
    m = _SIZE_FIELD.search(base)
    return int(m.group(1)) if m else None


def is_message_name(filename: str) -> bool:
    """Dot files in ``new/`` and ``cur/`` are not messages (editors' and tools'
    temporaries); neither are names with a path separator."""
    return bool(filename) and not filename.startswith(".") and "/" not in filename


# --- folder names ----------------------------------------------------------------------

_ESCAPES = {".": "\\2e", "/": "\\2f", "\\": "\\5c"}


def encode_mutf7(text: str) -> str:
    """RFC 3501 5.1.3 modified UTF-7."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            b64 = base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")
            out.append(f"&{b64}-")
            pending.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def decode_mutf7(text: str) -> str:
    """Inverse of :func:`encode_mutf7` (for names other programs created)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i)
        if end < 0:
            out.append(text[i:])
            break
        chunk = text[i + 1:end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = end + 1
    return "".join(out)


def encode_folder_part(name: str) -> str:
    """One level of a Maildir++ name: separator escaped, then modified UTF-7."""
    escaped = "".join(_ESCAPES.get(ch, ch) for ch in name) or "_"
    return encode_mutf7(escaped)


HIDDEN_DIR = "groupware-folders"
"""Folders IMAP clients must not see (the MAPI root, the IPM subtree, Finder,
Views ...) live below this directory: no leading dot, so Dovecot does not list it."""
TOP_OF_STORE = "ipm_subtree"

VISIBLE_ROLES = frozenset({
    "inbox", "outbox", "sent", "deleted", "drafts", "calendar", "contacts", "tasks",
    "notes", "journal", "junk", "conversation_history", "sync_issues", "conflicts",
    "local_failures", "server_failures",
})
"""Special folders a user sees (MS-OXOSFLD: below the IPM subtree); folders with any
other role are structure."""


def hidden_key(role: str | None, fid: int) -> str:
    return f"{HIDDEN_DIR}/{role or 'folder'}-{fid:016x}"


def is_hidden_key(key: str) -> bool:
    return key.startswith(HIDDEN_DIR + "/")


def child_key(parent_key: str | None, name: str) -> str:
    """The Maildir++ directory of ``name`` under a parent folder of the same root.

    ``parent_key`` is None for a folder at the top (its parent is not in this
    maildir, or is the IPM subtree), ``""`` for a child of INBOX.
    """
    part = encode_folder_part(name)
    if parent_key is None:
        return f".{part}"
    if parent_key == "":
        return f".INBOX.{part}"
    return f"{parent_key}.{part}"


def folder_key(parent_key: str | None, name: str, role: str | None, fid: int) -> str:
    """Where a folder goes: INBOX is the root, structure is hidden, the IPM subtree's
    children are at the top, everything else below its parent."""
    if role == "inbox":
        return ""
    if (role is not None and role not in VISIBLE_ROLES) or (
            parent_key is not None and is_hidden_key(parent_key)
            and not parent_key.startswith(f"{HIDDEN_DIR}/{TOP_OF_STORE}-")):
        return hidden_key(role, fid)
    if parent_key is not None and is_hidden_key(parent_key):
        parent_key = None
    return child_key(parent_key, name)
