"""PidTagReplyRecipientEntries: a FlatEntryList of one-off entry ids (MS-OXCDATA 2.3.3).

A FlatEntryList is Count (4 bytes), Size (4 bytes, of what follows), then per entry
Size (4 bytes) + EntryID, each padded to a multiple of 4 bytes.
"""

from __future__ import annotations

import struct

from groupware.mapi.entryids import OneOffEntryId
from groupware.mapi.errors import MapiFormatError

MAX_ENTRIES = 1024


def encode_one_offs(entries: list[tuple[str, str]]) -> bytes:
    """(display name, SMTP address) pairs -> FlatEntryList bytes."""
    body = bytearray()
    for name, addr in entries:
        raw = OneOffEntryId(name, "SMTP", addr).to_bytes()
        body += struct.pack("<I", len(raw)) + raw + b"\x00" * (-len(raw) % 4)
    return struct.pack("<II", len(entries), len(body)) + bytes(body)


def decode_one_offs(data: bytes) -> list[tuple[str, str]]:
    """FlatEntryList bytes -> (name, address) of every one-off entry; others skipped.

    Truncated or foreign entries are skipped, never raised: the list is advisory
    (PidTagReplyRecipientNames carries the names too).
    """
    out: list[tuple[str, str]] = []
    if len(data) < 8:
        return out
    count, _size = struct.unpack_from("<II", data, 0)
    pos = 8
    for _ in range(min(count, MAX_ENTRIES)):
        if pos + 4 > len(data):
            break
        (length,) = struct.unpack_from("<I", data, pos)
        pos += 4
        raw = data[pos : pos + length]
        pos += length + (-length % 4)
        try:
            entry = OneOffEntryId.from_bytes(raw)
        except MapiFormatError:
            continue
        out.append((entry.display_name, entry.email_address))
    return out
