"""Header field values: decoding (RFC 2047, 5322, 6532, IDN) and encoding for output.

Decoding is lenient and never raises: malformed encoded words stay as they were,
unknown charsets fall back (see :mod:`.charsets`), unparsable dates give ``None``.
Encoding is deterministic — the same value always gives the same bytes — because
IMAP sizes of generated messages must never change.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import re
from dataclasses import dataclass

from groupware.convert.charsets import decode_text

_ENCODED_WORD = re.compile(
    r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([qQbB])\?([^?\s]*)\?=", re.ASCII
)
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; whitespace between adjacent words goes away."""
    if "=?" not in value:
        return value
    value = _BETWEEN_WORDS.sub(r"\1\2", value)
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            out.append(decode_text(b"".join(pending), pending_charset))
            pending.clear()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        if match.start() != pos:
            flush()
            out.append(value[pos : match.start()])
        charset, kind, text = match.group(1), match.group(2).lower(), match.group(3)
        raw = _decode_word(kind, text)
        if raw is None:
            flush()
            out.append(match.group(0))
        else:
            # Multi-byte characters may be split across words of the same charset.
            if pending and charset.lower() != (pending_charset or "").lower():
                flush()
            pending_charset = charset
            pending.append(raw)
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out).replace("\x00", "")


def _decode_word(kind: str, text: str) -> bytes | None:
    if kind == "q":
        try:
            return binascii.a2b_qp(text.replace("_", " ").encode("ascii"), header=False)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None
    data = text.encode("ascii", "replace")
    data += b"=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None


def collapse(value: str) -> str:
    """Runs of whitespace to one space: how text headers are compared and stored."""
    return " ".join(value.split())


# --- addresses ------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """A decoded mailbox: display name (may be empty) and the address."""

    name: str
    addr: str

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2]


def idn_to_unicode(addr: str) -> str:
    """``user@xn--bcher-kva.example`` -> ``user@bücher.example`` (unchanged if invalid)."""
    local, at, domain = addr.rpartition("@")
    if not at or "xn--" not in domain.lower():
        return addr
    labels = []
    for label in domain.split("."):
        if label.lower().startswith("xn--"):
            try:
                labels.append(label.encode("ascii").decode("idna"))
            except (UnicodeError, ValueError):
                return addr
        else:
            labels.append(label)
    return f"{local}@{'.'.join(labels)}"


def idn_to_ascii(addr: str) -> str:
    """The inverse of :func:`idn_to_unicode`; non-encodable domains stay as they are."""
    local, at, domain = addr.rpartition("@")
    if not at or domain.isascii():
        return addr
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except (UnicodeError, ValueError):
        return addr


def parse_addresses(raw: str | None) -> list[Address]:
    """An address-list header -> mailboxes (groups flattened, names decoded)."""
    if not raw:
        return []
    try:
        pairs = email.utils.getaddresses([raw])
    except Exception:
        return []
    result = []
    for name, addr in pairs:
        if not addr and not name:
            continue
        result.append(Address(collapse(decode_words(name)), idn_to_unicode(addr.strip())))
    return result


def format_address(address: Address) -> str:
    """A mailbox for output: quoted or RFC 2047-encoded name, IDNA domain."""
    addr = idn_to_ascii(address.addr)
    if not address.name:
        return addr if addr else "<>"
    name = address.name
    if name.isascii() and "=?" not in name:
        if re.search(r'[()<>\[\]:;@\\,."]', name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{addr}>"
    return f"{encode_words(name)} <{addr}>"


# --- dates ----------------------------------------------------------------------------


def parse_date(raw: str | None) -> dt.datetime | None:
    """An RFC 5322 date (obsolete forms too) -> aware UTC datetime, or ``None``."""
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        stamp = email.utils.mktime_tz(parsed)
        return dt.datetime.fromtimestamp(stamp, dt.UTC)
    except (ValueError, OverflowError, TypeError, IndexError, OSError):
        return None


def format_date(when: dt.datetime) -> str:
    """RFC 5322 date-time in UTC (``+0000``): stable whatever the local zone."""
    return email.utils.format_datetime(when.astimezone(dt.UTC))


# --- message ids ----------------------------------------------------------------------

_MSG_ID = re.compile(r"<[^<>\s]*>")


def parse_msg_ids(raw: str | None) -> list[str]:
    """``<a@b> <c@d>`` -> ["<a@b>", "<c@d>"]; bare ids without brackets kept as one."""
    if not raw:
        return []
    found = _MSG_ID.findall(raw)
    if found:
        return found
    stripped = raw.strip()
    return [stripped] if stripped else []


# --- encoding for output --------------------------------------------------------------

_MAX_WORD = 75


def encode_words(text: str) -> str:
    """Text -> RFC 2047 ``=?utf-8?b?...?=`` words, each at most 75 characters.

    Words are split on character boundaries so no UTF-8 sequence is cut.
    """
    words: list[str] = []
    chunk = ""
    budget = (_MAX_WORD - len("=?utf-8?b??=")) // 4 * 3
    for char in text:
        if len((chunk + char).encode("utf-8")) > budget:
            words.append(chunk)
            chunk = ""
        chunk += char
    if chunk or not words:
        words.append(chunk)
    return " ".join(
        "=?utf-8?b?" + base64.b64encode(word.encode("utf-8")).decode("ascii") + "?="
        for word in words
    )


def needs_encoding(text: str) -> bool:
    return not text.isascii() or "=?" in text or any(ord(c) < 32 and c != "\t" for c in text)


def encode_unstructured(text: str) -> str:
    """An unstructured value (Subject, Thread-Topic ...) safe for a 7-bit header."""
    text = text.replace("\r", " ").replace("\n", " ")
    return encode_words(text) if needs_encoding(text) else text


def fold(name: str, value: str, limit: int = 78) -> bytes:
    """``Name: value`` CRLF, folded at whitespace so lines stay within ``limit``.

    A word longer than the line stays whole (RFC 5322 allows up to 998).
    """
    line = f"{name}: "
    lines: list[str] = []
    for word in value.split(" "):
        if len(line) + len(word) > limit and line.strip() and not line.endswith(": "):
            lines.append(line.rstrip(" "))
            line = " "
        line += word + " "
    lines.append(line.rstrip(" "))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
