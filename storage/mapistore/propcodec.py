"""Compact binary form of property bags and whole messages, for database columns.

Not a wire format: it only has to round-trip what :mod:`.validation` lets in, fast.
A bag is ``version (1) | count (u32)`` then per property ``tag (u32) | kind (u8) |
payload``; kind 0 is an inline value in the form of its type, kind 1 a
:class:`~storage.mapistore.model.BlobValue` (32-byte SHA-256 + u64 size). Strings
are UTF-8 with a u32 byte length, floats are always 8-byte doubles (a PtypFloating32
value keeps its Python value exactly), times are signed 64-bit FILETIMEs.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from groupware.mapi.proptypes import MV_FLAG, PropType
from groupware.mapi.restrictions import restriction_from_bytes, restriction_to_bytes
from groupware.mapi.values import EXTENDED_RULES, value_from_bytes, value_to_bytes
from groupware.types import PropTag
from storage.blobs import BlobRef
from storage.mapistore.errors import InvalidPropertyValue
from storage.mapistore.model import AttachmentContent, BlobValue, MessageContent, Props

VERSION = 1
MESSAGE_VERSION = 2

_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_TAG_KIND = struct.Struct("<IB")
_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")

_FIXED: dict[int, struct.Struct] = {
    PropType.INTEGER16: _I16,
    PropType.INTEGER32: _I32,
    PropType.FLOATING32: _F64,
    PropType.FLOATING64: _F64,
    PropType.CURRENCY: _I64,
    PropType.FLOATING_TIME: _F64,
    PropType.ERROR_CODE: _U32,
    PropType.INTEGER64: _I64,
    PropType.TIME: _I64,
}


def _encode_element(out: list[bytes], ptype: int, value: Any) -> None:
    fixed = _FIXED.get(ptype)
    if fixed is not None:
        out.append(fixed.pack(value))
    elif ptype == PropType.BOOLEAN:
        out.append(b"\x01" if value else b"\x00")
    elif ptype in (PropType.STRING, PropType.STRING8):
        raw = value.encode("utf-8", "surrogatepass")
        out.append(_U32.pack(len(raw)))
        out.append(raw)
    elif ptype in (PropType.BINARY, PropType.SERVER_ID):
        out.append(_U32.pack(len(value)))
        out.append(bytes(value))
    elif ptype == PropType.GUID:
        out.append(value.bytes)
    elif ptype == PropType.NULL:
        pass
    elif ptype == PropType.RESTRICTION:
        raw = restriction_to_bytes(value, EXTENDED_RULES)
        out.append(_U32.pack(len(raw)))
        out.append(raw)
    elif ptype == PropType.RULE_ACTION:
        raw = value_to_bytes(PropType.RULE_ACTION, value, EXTENDED_RULES)
        out.append(_U32.pack(len(raw)))
        out.append(raw)
    else:
        raise InvalidPropertyValue(f"property type 0x{ptype:04X} cannot be stored")


def encode_props(props: Mapping[PropTag, Any]) -> bytes:
    """Pack a validated property bag."""
    out: list[bytes] = [_U8.pack(VERSION), _U32.pack(len(props))]
    for tag, value in props.items():
        if isinstance(value, BlobValue):
            out.append(_TAG_KIND.pack(tag, 1))
            out.append(bytes.fromhex(value.ref))
            out.append(_U64.pack(value.size))
            continue
        out.append(_TAG_KIND.pack(tag, 0))
        ptype = tag & 0xFFFF
        if ptype & MV_FLAG:
            base = ptype & ~MV_FLAG
            out.append(_U32.pack(len(value)))
            for element in value:
                _encode_element(out, base, element)
        else:
            _encode_element(out, ptype, value)
    return b"".join(out)


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise InvalidPropertyValue("stored property data is truncated")
        chunk = self.buf[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, st: struct.Struct) -> Any:
        end = self.pos + st.size
        if end > len(self.buf):
            raise InvalidPropertyValue("stored property data is truncated")
        (value,) = st.unpack_from(self.buf, self.pos)
        self.pos = end
        return value

    def sized(self) -> bytes:
        return self.take(self.unpack(_U32))


def _decode_element(r: _Reader, ptype: int) -> Any:
    fixed = _FIXED.get(ptype)
    if fixed is not None:
        return r.unpack(fixed)
    if ptype == PropType.BOOLEAN:
        return r.take(1) != b"\x00"
    if ptype in (PropType.STRING, PropType.STRING8):
        return r.sized().decode("utf-8", "surrogatepass")
    if ptype in (PropType.BINARY, PropType.SERVER_ID):
        return r.sized()
    if ptype == PropType.GUID:
        return uuid.UUID(bytes=r.take(16))
    if ptype == PropType.NULL:
        return None
    if ptype == PropType.RESTRICTION:
        return restriction_from_bytes(r.sized(), EXTENDED_RULES)
    if ptype == PropType.RULE_ACTION:
        return value_from_bytes(r.sized(), PropType.RULE_ACTION, EXTENDED_RULES)
    raise InvalidPropertyValue(f"stored property has unknown type 0x{ptype:04X}")


_SIZED = frozenset({PropType.STRING, PropType.STRING8, PropType.BINARY, PropType.SERVER_ID,
                    PropType.RESTRICTION, PropType.RULE_ACTION})
_WIDTH: dict[int, int] = {**{t: st.size for t, st in _FIXED.items()}, PropType.BOOLEAN: 1,
                          PropType.GUID: 16, PropType.NULL: 0}


def _skip_element(r: _Reader, ptype: int) -> None:
    """Step over one value without decoding it (a read that wants other tags)."""
    width = _WIDTH.get(ptype)
    if width is None:
        if ptype not in _SIZED:
            raise InvalidPropertyValue(f"stored property has unknown type 0x{ptype:04X}")
        width = r.unpack(_U32)
    end = r.pos + width
    if end > len(r.buf):
        raise InvalidPropertyValue("stored property data is truncated")
    r.pos = end


def _read_bag(r: _Reader, wanted: frozenset[int] | None) -> Props:
    version = r.unpack(_U8)
    if version != VERSION:
        raise InvalidPropertyValue(f"unknown stored property format {version}")
    count = r.unpack(_U32)
    props: Props = {}
    for _ in range(count):
        if r.pos + _TAG_KIND.size > len(r.buf):
            raise InvalidPropertyValue("stored property data is truncated")
        tag, kind = _TAG_KIND.unpack_from(r.buf, r.pos)
        r.pos += _TAG_KIND.size
        if kind == 1:
            ref = r.take(32).hex()
            size = r.unpack(_U64)
            if wanted is None or tag in wanted:
                props[PropTag(tag)] = BlobValue(BlobRef(ref), size)
            continue
        ptype = tag & 0xFFFF
        if wanted is not None and tag not in wanted:
            if ptype & MV_FLAG:
                for _ in range(r.unpack(_U32)):
                    _skip_element(r, ptype & ~MV_FLAG)
            else:
                _skip_element(r, ptype)
            continue
        if ptype & MV_FLAG:
            base = ptype & ~MV_FLAG
            n = r.unpack(_U32)
            value: Any = tuple(_decode_element(r, base) for _ in range(n))
        else:
            value = _decode_element(r, ptype)
        if wanted is None or tag in wanted:
            props[PropTag(tag)] = value
    return props


def decode_props(data: bytes, wanted: frozenset[int] | None = None) -> Props:
    """Unpack a bag; with ``wanted``, keep only those tags (the rest is skipped)."""
    return _read_bag(_Reader(data), wanted)


def iter_blob_refs(props: Mapping[PropTag, Any]) -> Iterator[BlobRef]:
    for value in props.values():
        if isinstance(value, BlobValue):
            yield value.ref


def message_blob_refs(content: MessageContent) -> Iterator[BlobRef]:
    """Every blob a message references: MIME, large values, attachments, embedded."""
    if content.mime is not None:
        yield content.mime
    yield from iter_blob_refs(content.props)
    for recipient in content.recipients:
        yield from iter_blob_refs(recipient)
    for attachment in content.attachments:
        yield from iter_blob_refs(attachment.props)
        if attachment.embedded is not None:
            yield from message_blob_refs(attachment.embedded)


# --- whole messages (embedded messages are stored this way) -------------------------


def encode_message(content: MessageContent) -> bytes:
    out: list[bytes] = [_U8.pack(MESSAGE_VERSION)]
    _put_message(out, content)
    return b"".join(out)


def _put_sized(out: list[bytes], data: bytes) -> None:
    out.append(_U32.pack(len(data)))
    out.append(data)


def _put_message(out: list[bytes], content: MessageContent) -> None:
    _put_sized(out, encode_props(content.props))
    out.append(_U32.pack(len(content.recipients)))
    for recipient in content.recipients:
        _put_sized(out, encode_props(recipient))
    out.append(_U32.pack(len(content.attachments)))
    for attachment in content.attachments:
        _put_sized(out, encode_props(attachment.props))
        if attachment.embedded is None:
            out.append(b"\x00")
        else:
            out.append(b"\x01")
            _put_message(out, attachment.embedded)
    if content.mime is None:
        out.append(b"\x00")
    else:
        out.append(b"\x01")
        out.append(bytes.fromhex(content.mime))


def decode_message(data: bytes) -> MessageContent:
    r = _Reader(data)
    version = r.unpack(_U8)
    if version != MESSAGE_VERSION:
        raise InvalidPropertyValue(f"unknown stored message format {version}")
    return _get_message(r)


def _get_message(r: _Reader) -> MessageContent:
    bag: Callable[[], Props] = lambda: decode_props(r.sized())  # noqa: E731
    props = bag()
    recipients = [bag() for _ in range(r.unpack(_U32))]
    attachments: list[AttachmentContent] = []
    for _ in range(r.unpack(_U32)):
        aprops = bag()
        embedded = _get_message(r) if r.take(1) == b"\x01" else None
        attachments.append(AttachmentContent(aprops, embedded))
    mime = BlobRef(r.take(32).hex()) if r.take(1) == b"\x01" else None
    return MessageContent(props, recipients, attachments, mime)
