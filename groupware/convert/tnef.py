"""TNEF (winmail.dat, application/ms-tnef) decoding (MS-OXTNEF).

A TNEF stream (2.1.3.1) is a signature, a key and a sequence of attributes, each
level (message or attachment), id, length, data and checksum. Message properties
come from attMsgProps (2.1.3.3.21, a MAPI property list, 2.1.3.5), attachments
start at attAttachRendData and gather attAttachTitle, attAttachData and
attAttachment (their MAPI properties). Older attributes (attSubject, attBody,
attMessageClass ...) fill in what the property lists leave out. Embedded messages
(PtypObject with IID_IMessage) are TNEF streams themselves and decode recursively.

The decoder is bounded (sizes, counts, depth) and raises only ConversionError;
:func:`apply_tnef` is the MIME hook and never raises.
"""

from __future__ import annotations

import logging
import struct
import uuid
from dataclasses import dataclass

from groupware.convert import _tags as t
from groupware.convert.errors import ConversionError
from groupware.convert.mime_to_mapi import register_tnef
from groupware.convert.model import (
    Attachment,
    Message,
    NamedProp,
    PropKey,
    Props,
    PropValue,
    Recipient,
)
from groupware.mapi.proptypes import MV_FLAG, PropType, make_tag

log = logging.getLogger(__name__)

SIGNATURE = 0x223E9F78
LVL_MESSAGE, LVL_ATTACHMENT = 0x01, 0x02
ATT_SUBJECT = 0x00018004
ATT_BODY = 0x0002800C
ATT_MESSAGE_CLASS = 0x00078008
ATT_MSG_PROPS = 0x00069003
ATT_RECIP_TABLE = 0x00069004
ATT_ATTACH_REND_DATA = 0x00069002
ATT_ATTACH_DATA = 0x0006800F
ATT_ATTACH_TITLE = 0x00018010
ATT_ATTACHMENT = 0x00069005
ATT_OEM_CODEPAGE = 0x00069007
ATT_DATE_SENT = 0x00038005
IID_IMESSAGE = uuid.UUID("00020307-0000-0000-c000-000000000046")
MAX_PROPS = 65_536
MAX_DEPTH = 8

_LEGACY_CLASSES = {
    "IPM.Microsoft Schedule.MtgReq": "IPM.Schedule.Meeting.Request",
    "IPM.Microsoft Schedule.MtgRespP": "IPM.Schedule.Meeting.Resp.Pos",
    "IPM.Microsoft Schedule.MtgRespN": "IPM.Schedule.Meeting.Resp.Neg",
    "IPM.Microsoft Schedule.MtgRespA": "IPM.Schedule.Meeting.Resp.Tent",
    "IPM.Microsoft Schedule.MtgCncl": "IPM.Schedule.Meeting.Canceled",
    "IPM.Microsoft Mail.Note": "IPM.Note",
}
_FIXED = {PropType.INTEGER16: ("<h", 4), PropType.INTEGER32: ("<i", 4),
          PropType.FLOATING32: ("<f", 4), PropType.FLOATING64: ("<d", 8),
          PropType.CURRENCY: ("<q", 8), PropType.FLOATING_TIME: ("<d", 8),
          PropType.ERROR_CODE: ("<i", 4), PropType.BOOLEAN: ("<I", 4),
          PropType.INTEGER64: ("<q", 8), PropType.TIME: ("<q", 8)}


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > self.end:
            raise ConversionError(f"TNEF data truncated at byte {self.pos}")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u16(self) -> int:
        return int(struct.unpack("<H", self.take(2))[0])

    def padded(self, size: int) -> bytes:
        out = self.take(size)
        self.take(-size % 4)
        return out


@dataclass
class _Attr:
    level: int
    id: int
    data: bytes


def _attributes(data: bytes) -> list[_Attr]:
    r = _Reader(data)
    if len(data) < 6 or r.u32() != SIGNATURE:
        raise ConversionError("not a TNEF stream (bad signature)")
    r.u16()  # legacy key
    out: list[_Attr] = []
    while r.pos < r.end:
        level = r.take(1)[0]
        attr_id = r.u32()
        length = r.u32()
        payload = r.take(length)
        checksum = r.u16()
        if sum(payload) & 0xFFFF != checksum:
            log.info("TNEF attribute %#x has a bad checksum; kept", attr_id)
        out.append(_Attr(level, attr_id, payload))
    return out


def _read_props(r: _Reader, codepage: str, depth: int) -> tuple[Props, Message | None]:
    """A MAPI property list (MS-OXTNEF 2.1.3.5); also returns an embedded message."""
    count = r.u32()
    if count > MAX_PROPS:
        raise ConversionError(f"{count} TNEF properties is too many")
    props: Props = {}
    embedded: Message | None = None
    for _ in range(count):
        ptype_raw, prop_id = r.u16(), r.u16()
        key_name: int | str | None = None
        guid: uuid.UUID | None = None
        if prop_id >= 0x8000:
            guid = uuid.UUID(bytes_le=r.take(16))
            kind = r.u32()
            if kind == 0:
                key_name = r.u32()
            else:
                length = r.u32()
                key_name = r.padded(length).decode("utf-16-le", "replace").rstrip("\x00")
        multi = bool(ptype_raw & MV_FLAG)
        try:
            base = PropType(ptype_raw & ~MV_FLAG)
        except ValueError:
            raise ConversionError(f"unknown TNEF property type {ptype_raw:#x}") from None
        values: list[PropValue] = []
        if multi or base in (PropType.STRING, PropType.STRING8, PropType.BINARY, PropType.OBJECT):
            number = r.u32()
            if number > MAX_PROPS:
                raise ConversionError("too many values in one TNEF property")
        else:
            number = 1
        out_type = base
        for _ in range(number):
            value, out_type = _read_value(r, base, codepage)
            values.append(value)
        if base == PropType.OBJECT and values and isinstance(values[0], bytes):
            raw = values[0]
            is_message = len(raw) >= 16 and uuid.UUID(bytes_le=raw[:16]) == IID_IMESSAGE
            if is_message and depth < MAX_DEPTH:
                embedded = decode_tnef(raw[16:], depth + 1)
            continue
        final_type = PropType(out_type | MV_FLAG) if multi else out_type
        key: PropKey
        if guid is not None and key_name is not None:
            key = NamedProp(guid, key_name, final_type)
        else:
            key = make_tag(prop_id, final_type)
        props[key] = tuple(values) if multi else values[0]  # type: ignore[assignment]
    return props, embedded


def _read_value(r: _Reader, base: PropType, codepage: str) -> tuple[PropValue, PropType]:
    if base in _FIXED:
        fmt, size = _FIXED[base]
        raw = r.take(size)
        (value,) = struct.unpack_from(fmt, raw)
        if base == PropType.BOOLEAN:
            return bool(value), base
        return value, base
    if base == PropType.GUID:
        return uuid.UUID(bytes_le=r.take(16)), base
    if base == PropType.NULL:
        r.take(4)
        return None, base
    length = r.u32()
    raw = r.padded(length)
    if base == PropType.STRING:
        return raw.decode("utf-16-le", "replace").split("\x00", 1)[0], PropType.STRING
    if base == PropType.STRING8:
        return raw.split(b"\x00", 1)[0].decode(codepage, "replace"), PropType.STRING
    return raw, base


def decode_tnef(data: bytes, depth: int = 0) -> Message:
    """A TNEF stream -> message model (properties, recipients, attachments)."""
    if depth > MAX_DEPTH:
        raise ConversionError("TNEF embedding too deep")
    attrs = _attributes(data)
    codepage = "cp1252"
    for attr in attrs:
        if attr.id == ATT_OEM_CODEPAGE and len(attr.data) >= 4:
            codepage = f"cp{struct.unpack_from('<I', attr.data)[0]}"
            try:
                "".encode(codepage)
            except LookupError:
                codepage = "cp1252"
    msg = Message()
    current: Attachment | None = None
    legacy: Props = {}
    for attr in attrs:
        if attr.level == LVL_MESSAGE:
            if attr.id == ATT_MSG_PROPS:
                props, _ = _read_props(_Reader(attr.data), codepage, depth)
                msg.props.update(props)
            elif attr.id == ATT_RECIP_TABLE:
                r = _Reader(attr.data)
                for _ in range(min(r.u32(), MAX_PROPS)):
                    row, _ = _read_props(r, codepage, depth)
                    msg.recipients.append(_recipient(row))
            elif attr.id == ATT_SUBJECT:
                legacy[t.SUBJECT] = attr.data.split(b"\x00", 1)[0].decode(codepage, "replace")
            elif attr.id == ATT_BODY:
                legacy[t.BODY] = attr.data.split(b"\x00", 1)[0].decode(codepage, "replace")
            elif attr.id == ATT_MESSAGE_CLASS:
                name = attr.data.split(b"\x00", 1)[0].decode(codepage, "replace")
                legacy[t.MESSAGE_CLASS] = _LEGACY_CLASSES.get(name, name)
        elif attr.id == ATT_ATTACH_REND_DATA:
            current = Attachment({t.ATTACH_METHOD: t.AFBYVALUE, t.OBJECT_TYPE: t.MAPI_ATTACH,
                                  t.ATTACH_NUM: len(msg.attachments)})
            msg.attachments.append(current)
        elif current is None:
            continue
        elif attr.id == ATT_ATTACH_TITLE:
            name = attr.data.split(b"\x00", 1)[0].decode(codepage, "replace")
            current.props.setdefault(t.ATTACH_FILENAME, name)
            current.props.setdefault(t.DISPLAY_NAME, name)
        elif attr.id == ATT_ATTACH_DATA:
            current.props[t.ATTACH_DATA_BIN] = attr.data
            current.props[t.ATTACH_SIZE] = len(attr.data)
        elif attr.id == ATT_ATTACHMENT:
            props, embedded = _read_props(_Reader(attr.data), codepage, depth)
            current.props.update(props)
            if embedded is not None:
                current.embedded = embedded
                current.props[t.ATTACH_METHOD] = t.AFEMBEDDEDMESSAGE
                current.props.pop(t.ATTACH_DATA_BIN, None)
    for key, value in legacy.items():
        msg.props.setdefault(key, value)
    return msg


def _recipient(row: Props) -> Recipient:
    return Recipient(row)


def apply_tnef(msg: Message, data: bytes) -> None:
    """MIME hook: merge a winmail.dat into the message it came with (never raises)."""
    try:
        inner = decode_tnef(data)
    except ConversionError as exc:
        log.info("undecodable TNEF kept as an attachment: %s", exc)
        msg.attachments.append(Attachment({
            t.ATTACH_METHOD: t.AFBYVALUE, t.ATTACH_DATA_BIN: data, t.ATTACH_SIZE: len(data),
            t.ATTACH_MIME_TAG: "application/ms-tnef", t.ATTACH_LONG_FILENAME: "winmail.dat",
            t.DISPLAY_NAME: "winmail.dat", t.OBJECT_TYPE: t.MAPI_ATTACH,
        }))
        return
    envelope = {t.SENT_REPRESENTING_NAME, t.SENT_REPRESENTING_EMAIL_ADDRESS,
                t.SENT_REPRESENTING_SMTP_ADDRESS, t.SENDER_NAME, t.SENDER_EMAIL_ADDRESS,
                t.SENDER_SMTP_ADDRESS, t.INTERNET_MESSAGE_ID, t.TRANSPORT_MESSAGE_HEADERS}
    for key, value in inner.props.items():
        if key in envelope and key in msg.props:
            continue
        msg.props[key] = value
    if t.RTF_COMPRESSED in inner.props and t.BODY not in msg.props:
        _body_from_rtf(msg)
    for attachment in inner.attachments:
        attachment.props[t.ATTACH_NUM] = len(msg.attachments)
        msg.attachments.append(attachment)


def _body_from_rtf(msg: Message) -> None:
    from groupware.convert.rtf import decompress, rtf_to_text

    blob = msg.props.get(t.RTF_COMPRESSED)
    if not isinstance(blob, bytes):
        return
    try:
        text, is_html = rtf_to_text(decompress(blob))
    except ConversionError:
        return
    if is_html:
        msg.props[t.HTML] = text.encode("utf-8")
        msg.props[t.INTERNET_CPID] = 65001
    else:
        msg.props[t.BODY] = text.replace("\n", "\r\n")


register_tnef(apply_tnef)
