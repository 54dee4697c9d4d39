"""Mailbox-name encoding: IMAP's modified UTF-7 (RFC 3501 5.1.3) and UTF-8 pass-through.

Clients that have not enabled ``UTF8=ACCEPT`` (RFC 6855) or IMAP4rev2 exchange mailbox
names in modified UTF-7; the store keeps names as Python ``str``.  The codec is small and
strict on decoding (non-canonical forms such as an encoded printable character are
refused) because two spellings of one name would let a client create look-alike folders.
"""

from __future__ import annotations

import binascii

__all__ = [
    "MailboxNameError",
    "decode_mailbox_name",
    "decode_mutf7",
    "encode_mailbox_name",
    "encode_mutf7",
]


class MailboxNameError(ValueError):
    """The bytes are not a valid mailbox name in the encoding in force."""


def _is_direct(code: int) -> bool:
    """Printable US-ASCII characters stand for themselves (``&`` is escaped as ``&-``)."""
    return 0x20 <= code <= 0x7E


def encode_mutf7(name: str) -> bytes:
    """Encode ``name`` in modified UTF-7."""
    out = bytearray()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be", "surrogatepass")
            b64 = binascii.b2a_base64(utf16, newline=False).rstrip(b"=").replace(b"/", b",")
            out.extend(b"&" + b64 + b"-")
            pending.clear()

    for char in name:
        code = ord(char)
        if _is_direct(code):
            flush()
            out.extend(b"&-" if char == "&" else char.encode("ascii"))
        else:
            pending.append(char)
    flush()
    return bytes(out)


def decode_mutf7(data: bytes) -> str:
    """Decode modified UTF-7, refusing anything a conforming encoder would not produce."""
    out: list[str] = []
    i = 0
    length = len(data)
    while i < length:
        byte = data[i]
        if byte != 0x26:  # "&"
            if not _is_direct(byte):
                raise MailboxNameError(f"byte 0x{byte:02x} is not allowed in modified UTF-7")
            out.append(chr(byte))
            i += 1
            continue
        end = data.find(b"-", i + 1)
        if end < 0:
            raise MailboxNameError("unterminated '&' sequence in modified UTF-7")
        chunk = data[i + 1 : end]
        i = end + 1
        if not chunk:
            out.append("&")
            continue
        if data.startswith(b"&", i) and not data.startswith(b"&-", i):
            raise MailboxNameError("adjacent base64 runs must be one run in modified UTF-7")
        out.append(_decode_b64_run(chunk))
    return "".join(out)


_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


def _decode_b64_run(chunk: bytes) -> str:
    if any(b not in _B64_ALPHABET for b in chunk):
        raise MailboxNameError("invalid character in modified base64")
    if len(chunk) % 4 == 1:
        raise MailboxNameError("truncated modified base64 run")
    padded = chunk.replace(b",", b"/") + b"=" * (-len(chunk) % 4)
    raw = binascii.a2b_base64(padded, strict_mode=True)
    if len(raw) % 2:
        raise MailboxNameError("modified base64 run is not whole UTF-16 units")
    # Non-zero leftover bits mean a non-canonical encoding of the same characters.
    if binascii.b2a_base64(raw, newline=False).rstrip(b"=") != padded.rstrip(b"="):
        raise MailboxNameError("non-canonical modified base64 run")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise MailboxNameError("invalid UTF-16 in modified UTF-7") from exc
    if any(_is_direct(ord(c)) for c in text):
        raise MailboxNameError("printable ASCII must not be base64-encoded in modified UTF-7")
    return text


def encode_mailbox_name(name: str, *, utf8: bool) -> bytes:
    """Wire form of a mailbox name: UTF-8 once UTF8=ACCEPT/IMAP4rev2 is on, else mUTF-7."""
    if utf8:
        return name.encode("utf-8")
    return encode_mutf7(name)


def decode_mailbox_name(data: bytes, *, utf8: bool) -> str:
    """Mailbox name from the wire.

    In UTF-8 mode the bytes are UTF-8 and ``&`` has no special meaning (RFC 6855 3).
    Otherwise 7-bit names are modified UTF-7; names carrying 8-bit bytes are accepted
    when they are valid UTF-8, since some clients send raw UTF-8 without enabling it.
    """
    if utf8 or any(b >= 0x80 for b in data):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MailboxNameError("mailbox name is not valid UTF-8") from exc
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise MailboxNameError("control character in mailbox name")
        return text
    return decode_mutf7(data)
