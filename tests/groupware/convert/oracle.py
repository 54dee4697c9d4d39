"""An independent view of a MIME message, through the standard library's email package.

The round-trip tests compare what a mail client would see of the original and of
our regenerated message: the visible header fields (decoded and normalised by kind)
and the decoded content of every leaf part. Structure is not compared: MS-OXCMAIL
legitimately flattens nested multiparts.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
from email.message import Message as StdMessage

STRUCTURAL = {
    "content-type", "content-transfer-encoding", "mime-version", "content-disposition",
    "content-id", "content-location", "content-length",
}
ADDRESS_HEADERS = {"from", "sender", "reply-to", "to", "cc", "bcc"}


def _decode(value: str) -> str:
    """RFC 2047 through the stdlib; unknown charsets read as UTF-8, then cp1252."""
    from email.header import decode_header

    try:
        chunks = decode_header(value)
    except Exception:
        return " ".join(value.split())
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        for codec in (charset, "utf-8", "cp1252"):
            try:
                out.append(chunk.decode(codec or "ascii"))
                break
            except (LookupError, UnicodeDecodeError):
                continue
        else:
            out.append(chunk.decode("latin-1"))
    return " ".join("".join(out).split())


def _text(data: bytes, charset: str | None) -> str:
    for codec in (charset, "utf-8", "cp1252"):
        try:
            return data.decode(codec or "ascii")
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def header_view(msg: StdMessage) -> dict[str, object]:
    """Visible header fields, normalised per kind, keyed by lower-case name."""
    view: dict[str, object] = {}
    names = {k.lower() for k in msg}
    if "from" not in names and "sender" in names:
        msg["From"] = msg["Sender"]  # MS-OXCMAIL: no From means the sender is the author
        names.add("from")
    for name in sorted(names - STRUCTURAL):
        values = [str(v) for v in msg.get_all(name, [])]
        if name in ADDRESS_HEADERS:
            pairs = email.utils.getaddresses(values)
            view[name] = sorted(
                (_decode(n), a.lower()) for n, a in pairs if a or n
            ) or None
        elif name == "date":
            try:
                view[name] = email.utils.parsedate_to_datetime(values[0]).timestamp()
            except (TypeError, ValueError, IndexError):
                view[name] = None
        elif name in ("x-priority",):
            view[name] = values[0].strip()[:1]
        elif name == "keywords":
            view[name] = sorted(w.strip() for v in values for w in _decode(v).split(","))
        else:
            view[name] = [_decode(v) for v in values] if name != "subject" else _decode(values[0])
    def addrs(key: str) -> list[str]:
        value = view.get(key)
        return [a for _, a in value] if isinstance(value, list) else []

    if "sender" in view and addrs("sender") == addrs("from"):
        view.pop("sender", None)  # Sender equal to From is not written again
    return {k: v for k, v in view.items() if v is not None}


def leaf_contents(msg: StdMessage) -> list[bytes]:
    """Decoded content of every non-multipart leaf, text with newlines normalised."""
    out: list[bytes] = []
    for part in _leaves(msg):
        payload = part.get_payload(decode=True)
        if payload is None:
            continue
        textual = part.get_content_maintype() in ("text", "multipart")
        if textual and not part.get_filename():
            text = _text(payload, part.get_content_charset())
            payload = text.replace("\r\n", "\n").rstrip("\n").encode("utf-8")
        out.append(payload)
    return sorted(out)


def _leaves(msg: StdMessage) -> list[StdMessage]:
    """Leaf parts; of an alternative's text parts only the first of each type counts."""
    if not msg.is_multipart():
        return [msg]
    out: list[StdMessage] = []
    seen: set[str] = set()
    alternative = msg.get_content_type() == "multipart/alternative"
    for child in msg.get_payload():
        if alternative and not child.is_multipart():
            ctype = child.get_content_type()
            if ctype in ("text/plain", "text/html") and ctype in seen:
                continue
            seen.add(ctype)
        out.extend(_leaves(child))
    return out


def parse(data: bytes) -> StdMessage:
    return email.message_from_bytes(data, policy=email.policy.compat32)
