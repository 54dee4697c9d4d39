"""A minimal TNEF writer for tests (MS-OXTNEF 2.1.3): attributes and MAPI property lists.

Independent of the decoder under test: it is written from the spec's layout, so a
stream it produces checks the decoder's reading of the same layout.
"""

from __future__ import annotations

import struct
import uuid

SIGNATURE = 0x223E9F78


def attribute(level: int, attr_id: int, data: bytes) -> bytes:
    return (struct.pack("<BII", level, attr_id, len(data)) + data
            + struct.pack("<H", sum(data) & 0xFFFF))


def stream(*attributes: bytes) -> bytes:
    return struct.pack("<IH", SIGNATURE, 0x1234) + b"".join(attributes)


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def prop_string(prop_id: int, text: str) -> bytes:
    raw = (text + "\x00").encode("utf-16-le")
    return struct.pack("<HHII", 0x001F, prop_id, 1, len(raw)) + _pad(raw)


def prop_string8(prop_id: int, text: str) -> bytes:
    raw = text.encode("cp1252") + b"\x00"
    return struct.pack("<HHII", 0x001E, prop_id, 1, len(raw)) + _pad(raw)


def prop_int(prop_id: int, value: int) -> bytes:
    return struct.pack("<HHi", 0x0003, prop_id, value)


def prop_bool(prop_id: int, value: bool) -> bytes:
    return struct.pack("<HHI", 0x000B, prop_id, int(value))


def prop_binary(prop_id: int, data: bytes) -> bytes:
    return struct.pack("<HHII", 0x0102, prop_id, 1, len(data)) + _pad(data)


def prop_named_string(guid: uuid.UUID, name: str, prop_id: int, text: str) -> bytes:
    key = (name + "\x00").encode("utf-16-le")
    raw = (text + "\x00").encode("utf-16-le")
    return (struct.pack("<HH", 0x001F, prop_id) + guid.bytes_le + struct.pack("<II", 1, len(key))
            + _pad(key) + struct.pack("<II", 1, len(raw)) + _pad(raw))


def prop_object_message(prop_id: int, inner: bytes) -> bytes:
    iid = uuid.UUID("00020307-0000-0000-c000-000000000046").bytes_le
    data = iid + inner
    return struct.pack("<HHII", 0x000D, prop_id, 1, len(data)) + _pad(data)


def props(*items: bytes) -> bytes:
    return struct.pack("<I", len(items)) + b"".join(items)
