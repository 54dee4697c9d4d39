"""Checks and normal forms for everything a caller hands the store, before any write.

Bad input is refused with an error carrying its MAPI code (unknown property type:
ecInvalidType; a value that does not fit its type: ecInvalidType; out of range:
ecBadValue; too big: ecTooBig), and nothing is written. Accepted values are brought
to one normal form so backends, tables and restrictions see one representation:

* PtypString8 is stored as PtypString (same id, type 0x001F): the store is Unicode.
* Integers are kept signed (an unsigned 0xFFFFFFFF in a PtypInteger32 becomes -1),
  which is how the ROP codec decodes them too; PtypErrorCode stays unsigned.
* Multi-valued values are tuples; binaries are ``bytes``; a PtypTime may be given as
  an aware ``datetime`` and becomes a FILETIME integer.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from groupware.mapi.proptypes import MV_FLAG, MV_INSTANCE, PropType, format_tag
from groupware.mapi.restrictions import Restriction
from groupware.mapi.values import RuleActions, datetime_to_filetime
from groupware.types import PropTag
from storage.blobs import BlobStore
from storage.mapistore import tags
from storage.mapistore.errors import (
    InvalidParameter,
    InvalidPropertyType,
    InvalidPropertyValue,
    MessageTooBig,
    ValueTooBig,
)
from storage.mapistore.model import AttachmentContent, BlobValue, MessageContent, Props


@dataclass(frozen=True)
class Limits:
    """Sizes and counts the store accepts (from ``[mapistore]``)."""

    max_message_size: int = 64 << 20
    max_value_size: int = 32 << 20
    max_properties: int = 8192
    max_recipients: int = 8192
    max_attachments: int = 1024
    max_embedding_depth: int = 8
    max_multi_values: int = 1 << 16
    blob_threshold: int = 32768


_STORABLE = frozenset(PropType) - {PropType.UNSPECIFIED, PropType.OBJECT}
_INT_RANGE = {
    PropType.INTEGER16: 16,
    PropType.INTEGER32: 32,
    PropType.INTEGER64: 64,
    PropType.CURRENCY: 64,
}
_STRINGS = (PropType.STRING, PropType.STRING8)
_BLOB_TYPES = (PropType.STRING, PropType.STRING8, PropType.BINARY)


def _fail_type(where: str, tag: int, expected: str, value: object) -> InvalidPropertyType:
    return InvalidPropertyType(
        f"{where}: property {format_tag(tag)} needs {expected}, got {type(value).__name__}")


def _element(where: str, tag: int, ptype: PropType, value: Any) -> tuple[Any, int]:
    """(normal form, size in bytes) of one single value."""
    bits = _INT_RANGE.get(ptype)
    if bits is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail_type(where, tag, "an integer", value)
        if not -(1 << (bits - 1)) <= value < (1 << bits):
            raise InvalidPropertyValue(f"{where}: {format_tag(tag)} value {value} "
                                       f"does not fit {bits} bits")
        if value >= 1 << (bits - 1):
            value -= 1 << bits
        return value, bits // 8
    if ptype in (PropType.FLOATING32, PropType.FLOATING64, PropType.FLOATING_TIME):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail_type(where, tag, "a number", value)
        value = float(value)
        if not math.isfinite(value):
            raise InvalidPropertyValue(f"{where}: {format_tag(tag)} is not a finite number")
        return value, 8
    if ptype == PropType.BOOLEAN:
        if isinstance(value, bool):
            return value, 1
        if isinstance(value, int) and value in (0, 1):
            return bool(value), 1
        raise _fail_type(where, tag, "a boolean", value)
    if ptype == PropType.ERROR_CODE:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail_type(where, tag, "an error code", value)
        if not -(1 << 31) <= value < (1 << 32):
            raise InvalidPropertyValue(f"{where}: {format_tag(tag)} error code out of range")
        return value & 0xFFFFFFFF, 4
    if ptype == PropType.TIME:
        if isinstance(value, dt.datetime):
            value = datetime_to_filetime(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail_type(where, tag, "a FILETIME integer or datetime", value)
        if not 0 <= value < (1 << 63):
            raise InvalidPropertyValue(f"{where}: {format_tag(tag)} time out of range")
        return value, 8
    if ptype in _STRINGS:
        if not isinstance(value, str):
            raise _fail_type(where, tag, "a string", value)
        return value, len(value.encode("utf-8", "surrogatepass"))
    if ptype in (PropType.BINARY, PropType.SERVER_ID):
        if not isinstance(value, bytes | bytearray | memoryview):
            raise _fail_type(where, tag, "bytes", value)
        data = bytes(value)
        return data, len(data)
    if ptype == PropType.GUID:
        if not isinstance(value, uuid.UUID):
            raise _fail_type(where, tag, "a uuid.UUID", value)
        return value, 16
    if ptype == PropType.NULL:
        if value is not None:
            raise _fail_type(where, tag, "None", value)
        return None, 0
    if ptype == PropType.RESTRICTION:
        if not isinstance(value, Restriction):
            raise _fail_type(where, tag, "a restriction", value)
        return value, 64
    if ptype == PropType.RULE_ACTION:
        if not isinstance(value, RuleActions):
            raise _fail_type(where, tag, "rule actions", value)
        return value, sum(len(b) for b in value.blocks)
    raise InvalidPropertyType(f"{where}: property {format_tag(tag)} cannot be stored")


_GOOD_TAGS: dict[int, tuple[PropTag, PropType]] = {}
"""Tags already checked (a few hundred in practice); bounded by _MAX_GOOD_TAGS."""
_MAX_GOOD_TAGS = 65536


def check_tag(where: str, tag: object) -> tuple[PropTag, PropType]:
    """The normal tag (String8 -> String) and its type; ecInvalidType when unknown."""
    if type(tag) is int:
        known = _GOOD_TAGS.get(tag)
        if known is not None:
            return known
    result = _check_tag(where, tag)
    if len(_GOOD_TAGS) < _MAX_GOOD_TAGS:
        _GOOD_TAGS[int(tag)] = result  # type: ignore[call-overload]
    return result


def _check_tag(where: str, tag: object) -> tuple[PropTag, PropType]:
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag <= 0xFFFFFFFF:
        raise InvalidPropertyType(f"{where}: {tag!r} is not a property tag")
    type_word = tag & 0xFFFF
    if type_word & MV_INSTANCE:
        raise InvalidPropertyType(f"{where}: {format_tag(tag)} has the MVI flag; "
                                  "only table columns may")
    try:
        ptype = PropType(type_word)
    except ValueError:
        raise InvalidPropertyType(
            f"{where}: property {format_tag(tag)} has unknown type 0x{type_word:04X}"
        ) from None
    if (tag >> 16) == 0:
        raise InvalidPropertyType(f"{where}: property id 0 is not a property")
    if ptype.element_type not in _STORABLE or ptype not in _STORABLE:
        raise InvalidPropertyType(
            f"{where}: {ptype.canonical_name} properties ({format_tag(tag)}) are not stored")
    if ptype.element_type == PropType.STRING8:
        ptype = PropType.MULTIPLE_STRING if ptype.is_multi else PropType.STRING
        tag = (tag & 0xFFFF0000) | ptype
    return PropTag(tag), ptype


def normalize_value(where: str, tag: int, value: Any, limits: Limits) -> tuple[PropTag, Any, int]:
    """(normal tag, normal value, size) of one property; raises on bad input."""
    ntag, ptype = check_tag(where, tag)
    if isinstance(value, BlobValue):
        if ptype.element_type not in _BLOB_TYPES or ptype.is_multi:
            raise InvalidPropertyType(f"{where}: {format_tag(tag)} cannot be a blob value")
        size = value.size
    elif ptype & MV_FLAG:
        if not isinstance(value, tuple | list):
            raise _fail_type(where, tag, "a tuple of values", value)
        if len(value) > limits.max_multi_values:
            raise ValueTooBig(f"{where}: {format_tag(tag)} has {len(value)} values "
                              f"(at most {limits.max_multi_values})")
        parts = [_element(where, tag, ptype.element_type, v) for v in value]
        value = tuple(p[0] for p in parts)
        size = sum(p[1] for p in parts) + 4 * len(parts)
    else:
        value, size = _element(where, tag, ptype, value)
    if size > limits.max_value_size:
        raise ValueTooBig(f"{where}: {format_tag(tag)} is {size} bytes "
                          f"(at most {limits.max_value_size})")
    return ntag, value, size


def normalize_props(where: str, props: Mapping[Any, Any], limits: Limits,
                    *, drop: frozenset[PropTag] = frozenset()) -> tuple[Props, int]:
    """A validated copy of ``props`` (without ``drop`` tags) and its size in bytes."""
    if not isinstance(props, Mapping):
        raise InvalidParameter(f"{where}: properties must be a mapping")
    if len(props) > limits.max_properties:
        raise ValueTooBig(f"{where}: {len(props)} properties (at most {limits.max_properties})")
    out: Props = {}
    total = 0
    for tag, value in props.items():
        ntag, nvalue, size = normalize_value(where, tag, value, limits)
        if ntag in drop:
            continue
        out[ntag] = nvalue
        total += size + 8
    return out, total


def normalize_tags(where: str, tag_list: Any) -> list[PropTag]:
    """Validated tags for get/delete (String8 asked as String)."""
    return [check_tag(where, t)[0] for t in tag_list]


def normalize_content(content: MessageContent, limits: Limits, *, depth: int = 0,
                      where: str = "message") -> tuple[MessageContent, int]:
    """A validated copy of a message and its size (MIME original not included).

    Computed properties are dropped; recipients get PidTagRowid and attachments
    PidTagAttachNumber when missing (0, 1, 2 ... in order); duplicates are refused.
    """
    if not isinstance(content, MessageContent):
        raise InvalidParameter(f"{where}: expected MessageContent")
    if depth > limits.max_embedding_depth:
        raise ValueTooBig(f"{where}: embedded messages nested deeper than "
                          f"{limits.max_embedding_depth}")
    props, size = normalize_props(where, content.props, limits,
                                  drop=tags.COMPUTED_MESSAGE_TAGS)
    if len(content.recipients) > limits.max_recipients:
        raise ValueTooBig(f"{where}: {len(content.recipients)} recipients "
                          f"(at most {limits.max_recipients})")
    if len(content.attachments) > limits.max_attachments:
        raise ValueTooBig(f"{where}: {len(content.attachments)} attachments "
                          f"(at most {limits.max_attachments})")
    recipients: list[Props] = []
    seen: set[int] = set()
    for i, recipient in enumerate(content.recipients):
        rprops, rsize = normalize_props(f"{where} recipient {i}", recipient, limits)
        row_id = rprops.setdefault(tags.ROWID, i)
        if not isinstance(row_id, int) or row_id in seen:
            raise InvalidPropertyValue(f"{where}: duplicate recipient row id {row_id!r}")
        seen.add(row_id)
        recipients.append(rprops)
        size += rsize
    attachments: list[AttachmentContent] = []
    seen = set()
    for i, attachment in enumerate(content.attachments):
        if not isinstance(attachment, AttachmentContent):
            raise InvalidParameter(f"{where}: attachment {i} is not an AttachmentContent")
        aprops, asize = normalize_props(f"{where} attachment {i}", attachment.props, limits,
                                        drop=frozenset({tags.ATTACH_DATA_OBJECT}))
        number = aprops.setdefault(tags.ATTACH_NUMBER, i)
        if not isinstance(number, int) or number in seen:
            raise InvalidPropertyValue(f"{where}: duplicate attachment number {number!r}")
        seen.add(number)
        embedded = None
        if attachment.embedded is not None:
            embedded, esize = normalize_content(attachment.embedded, limits, depth=depth + 1,
                                                where=f"{where} attachment {i}")
            aprops[tags.ATTACH_METHOD] = tags.ATTACH_EMBEDDED_MSG
            asize += esize
        aprops.setdefault(tags.ATTACH_SIZE, _clamp32(asize))
        attachments.append(AttachmentContent(aprops, embedded))
        size += asize
    if content.mime is not None:
        from storage.blobs.interface import check_blob_ref

        check_blob_ref(content.mime)
    if size > limits.max_message_size:
        raise MessageTooBig(f"{where} is {size} bytes (at most {limits.max_message_size})")
    return MessageContent(props, recipients, attachments, content.mime), size


def _clamp32(n: int) -> int:
    return min(n, (1 << 31) - 1)


def offload_large_values(content: MessageContent, blobs: BlobStore,
                         threshold: int) -> MessageContent:
    """Move string/binary values larger than ``threshold`` bytes into the blob store.

    Runs before the transaction (blob writes are idempotent and may be slow); the
    content it returns references them as :class:`BlobValue`.
    """
    def bag(props: Props) -> Props:
        out: Props = {}
        for tag, value in props.items():
            if isinstance(value, str) and len(value) * 4 > threshold:
                raw = value.encode("utf-8", "surrogatepass")
                out[tag] = BlobValue(blobs.put(raw), len(raw)) if len(raw) > threshold else value
            elif isinstance(value, bytes) and len(value) > threshold:
                out[tag] = BlobValue(blobs.put(value), len(value))
            else:
                out[tag] = value
        return out

    return MessageContent(
        bag(content.props),
        [bag(r) for r in content.recipients],
        [AttachmentContent(bag(a.props),
                           None if a.embedded is None
                           else offload_large_values(a.embedded, blobs, threshold))
         for a in content.attachments],
        content.mime,
    )
