"""Property values on the wire: PropertyValue and its typed/tagged/flagged wrappers.

MS-OXCDATA 2.11.1 gives each property type its wire form; 2.11.2-2.11.6 wrap one
value with its type, its tag, or a presence flag. The width of COUNT fields depends
on where the bytes travel (MS-OXCDATA 2.11.1.1), so every function here takes a
:class:`WireContext`:

* :data:`ROP` — ROP buffers (EMSMDB, FastTransfer excluded): PtypBinary byte counts are
  16 bits, PtypMultiple* value counts 32 bits, restriction/rule-action counts 16 bits.
* :data:`EXTENDED_RULES` — MS-OXORULE 2.2.4 extended rules: every count is 32 bits.

NSPI is *not* here: it carries the same values as NDR (MS-OXNSPI 2.2.2), which the
RPC layer's NDR codec encodes. Strings: PtypString is UTF-16LE with a 0x0000
terminator and PtypString8 is 8-bit text with one 0x00 terminator in both contexts.

Python forms: integers, errors and currency are ``int`` (Integer16/32/64 decode
signed; the encoder also accepts the unsigned range), PtypTime is the raw FILETIME
``int`` (see :func:`filetime_to_datetime`), PtypGuid is :class:`uuid.UUID`,
PtypBinary/PtypServerId are ``bytes``, PtypNull is ``None``, multi-valued types are
tuples, PtypRestriction is a :mod:`~groupware.mapi.restrictions` node and
PtypRuleAction is :class:`RuleActions`.
"""

from __future__ import annotations

import datetime as _dt
import enum
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from groupware.mapi.buffer import DEFAULT_MAX_STRING, Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.proptypes import MV_INSTANCE, PropType, format_tag, make_tag, tag_type
from groupware.types import PropTag

if TYPE_CHECKING:
    from groupware.mapi.restrictions import Restriction


@dataclass(frozen=True)
class WireContext:
    """Widths of COUNT fields and the limits a decoder enforces (MS-OXCDATA 2.11.1.1)."""

    binary_count: int = 2
    """Width of the byte count of PtypBinary / PtypServerId values."""
    value_count: int = 4
    """Width of the value count of PtypMultiple* values."""
    struct_count: int = 2
    """Width of RestrictCount (MS-OXCDATA 2.12.1-2.12.2) and of rule-action counts."""
    string8_encoding: str = "cp1252"
    """Codec of PtypString8 text: the logon's code page, Western European by default."""
    max_values: int = 1 << 16
    """Most values one multi-valued property may carry."""
    max_string: int = DEFAULT_MAX_STRING
    """Longest string, in bytes, a decoder accepts."""
    max_depth: int = 32
    """Deepest nesting of restrictions (And/Or/Not/SubObject/Count/Comment)."""


ROP = WireContext()
"""ROP buffers (MS-OXCROPS): 16-bit binary counts, 32-bit multi-value counts."""
EXTENDED_RULES = WireContext(binary_count=4, value_count=4, struct_count=4)
"""Extended rules (MS-OXORULE 2.2.4): every count is 32 bits."""


@dataclass(frozen=True)
class RuleActions:
    """PtypRuleAction (MS-OXORULE 2.2.5): the action blocks, each kept as raw bytes.

    On the wire: NoOfActions (COUNT) then per block ActionLength (COUNT) and that many
    bytes (ActionType, ActionFlavor, ActionFlags, ActionData). Decoding the blocks is
    the rules engine's business; this layer only frames them.
    """

    blocks: tuple[bytes, ...] = ()


if TYPE_CHECKING:
    PropValue: TypeAlias = (
        bool
        | int
        | float
        | str
        | bytes
        | uuid.UUID
        | RuleActions
        | Restriction
        | tuple[int, ...]
        | tuple[float, ...]
        | tuple[str, ...]
        | tuple[bytes, ...]
        | tuple[uuid.UUID, ...]
        | None
    )
else:
    PropValue = object


class ValueFlag(enum.IntEnum):
    """Flag byte of FlaggedPropertyValue (MS-OXCDATA 2.11.5)."""

    PRESENT = 0x00  # a PropertyValue follows
    ABSENT = 0x01  # no value: the property is not set
    ERROR = 0x0A  # a PtypErrorCode follows instead of the value


class StringType(enum.IntEnum):
    """StringType of TypedString (MS-OXCDATA 2.11.7)."""

    NONE = 0x00  # no string present
    EMPTY = 0x01  # the empty string
    STRING8 = 0x02  # 8-bit string in the logon's code page
    REDUCED_UNICODE = 0x03  # Unicode whose high bytes are all zero, sent as 8-bit
    UNICODE = 0x04  # UTF-16LE


# --- time helpers -------------------------------------------------------------------

_FILETIME_EPOCH = _dt.datetime(1601, 1, 1, tzinfo=_dt.UTC)
FILETIME_MAX = (1 << 63) - 1
"""Largest FILETIME Windows accepts; MAPI uses it (0x7FFF...) as "never"."""


def filetime_to_datetime(filetime: int) -> _dt.datetime:
    """PtypTime -> aware UTC datetime (clamped to what ``datetime`` can hold)."""
    micro = max(0, filetime) // 10
    try:
        return _FILETIME_EPOCH + _dt.timedelta(microseconds=micro)
    except OverflowError:
        return _dt.datetime.max.replace(tzinfo=_dt.UTC)


def datetime_to_filetime(when: _dt.datetime) -> int:
    """Aware (or naive-as-UTC) datetime -> FILETIME, 100 ns ticks since 1601."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    delta = when - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


# --- single values ------------------------------------------------------------------

_INT_WIDTH = {PropType.INTEGER16: 2, PropType.INTEGER32: 4, PropType.INTEGER64: 8,
              PropType.CURRENCY: 8}


def _want(value: object, kinds: type | tuple[type, ...], ptype: PropType) -> None:
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise MapiFormatError(f"{ptype.canonical_name} value must not be a bool")
    if not isinstance(value, kinds):
        raise MapiFormatError(
            f"{ptype.canonical_name} value must be {kinds}, not {type(value).__name__}"
        )


def _encode_string8(text: str, ctx: WireContext) -> bytes:
    try:
        return text.encode(ctx.string8_encoding)
    except UnicodeEncodeError as exc:
        raise MapiFormatError(
            f"PtypString8 text not representable in {ctx.string8_encoding}: {exc.reason}"
        ) from None
    except LookupError:
        raise MapiFormatError(f"unknown 8-bit codec {ctx.string8_encoding!r}") from None


def _decode_string8(raw: bytes, ctx: WireContext) -> str:
    try:
        return raw.decode(ctx.string8_encoding)
    except UnicodeDecodeError as exc:
        raise MapiFormatError(
            f"PtypString8 bytes not valid {ctx.string8_encoding}: {exc.reason}"
        ) from None
    except LookupError:
        raise MapiFormatError(f"unknown 8-bit codec {ctx.string8_encoding!r}") from None


def _encode_element(w: Writer, ptype: PropType, value: object, ctx: WireContext) -> None:
    """One single-valued value of ``ptype`` (MS-OXCDATA 2.11.1)."""
    if ptype in _INT_WIDTH:
        _want(value, int, ptype)
        assert isinstance(value, int)
        w.sint(value, _INT_WIDTH[ptype], ptype.canonical_name)
    elif ptype is PropType.ERROR_CODE:
        _want(value, int, ptype)
        assert isinstance(value, int)
        w.sint(value, 4, "PtypErrorCode")
    elif ptype is PropType.TIME:
        _want(value, int, ptype)
        assert isinstance(value, int)
        w.sint(value, 8, "PtypTime")
    elif ptype is PropType.FLOATING32:
        _want(value, (int, float), ptype)
        assert isinstance(value, (int, float))
        w.f32(float(value))
    elif ptype in (PropType.FLOATING64, PropType.FLOATING_TIME):
        _want(value, (int, float), ptype)
        assert isinstance(value, (int, float))
        w.f64(float(value))
    elif ptype is PropType.BOOLEAN:
        _want(value, bool, ptype)
        w.u8(1 if value else 0)
    elif ptype is PropType.GUID:
        _want(value, uuid.UUID, ptype)
        assert isinstance(value, uuid.UUID)
        w.guid(value)
    elif ptype is PropType.STRING:
        _want(value, str, ptype)
        assert isinstance(value, str)
        w.cstring16(value, "PtypString")
    elif ptype is PropType.STRING8:
        _want(value, str, ptype)
        assert isinstance(value, str)
        w.cstring8(_encode_string8(value, ctx), "PtypString8")
    elif ptype in (PropType.BINARY, PropType.SERVER_ID):
        _want(value, (bytes, bytearray), ptype)
        assert isinstance(value, (bytes, bytearray))
        w.uint(len(value), ctx.binary_count, f"{ptype.canonical_name} length")
        w.raw(bytes(value))
    elif ptype is PropType.NULL:
        if value is not None:
            raise MapiFormatError("PtypNull carries no value")
    elif ptype is PropType.RESTRICTION:
        from groupware.mapi.restrictions import Restriction, encode_restriction

        _want(value, Restriction, ptype)
        assert isinstance(value, Restriction)
        encode_restriction(w, value, ctx)
    elif ptype is PropType.RULE_ACTION:
        _want(value, RuleActions, ptype)
        assert isinstance(value, RuleActions)
        w.uint(len(value.blocks), ctx.struct_count, "NoOfActions")
        for block in value.blocks:
            w.uint(len(block), ctx.struct_count, "ActionLength")
            w.raw(block)
    else:
        raise MapiFormatError(f"{ptype.canonical_name} has no inline value to encode")


def _decode_element(r: Reader, ptype: PropType, ctx: WireContext, depth: int) -> PropValue:
    if ptype is PropType.INTEGER16:
        return r.i16("PtypInteger16")
    if ptype is PropType.INTEGER32:
        return r.i32("PtypInteger32")
    if ptype in (PropType.INTEGER64, PropType.CURRENCY, PropType.TIME):
        return r.i64(ptype.canonical_name)
    if ptype is PropType.ERROR_CODE:
        return r.u32("PtypErrorCode")
    if ptype is PropType.FLOATING32:
        return r.f32("PtypFloating32")
    if ptype in (PropType.FLOATING64, PropType.FLOATING_TIME):
        return r.f64(ptype.canonical_name)
    if ptype is PropType.BOOLEAN:
        return r.u8("PtypBoolean") != 0
    if ptype is PropType.GUID:
        return r.guid("PtypGuid")
    if ptype is PropType.STRING:
        return r.cstring16("PtypString", ctx.max_string)
    if ptype is PropType.STRING8:
        return _decode_string8(r.cstring8("PtypString8", ctx.max_string), ctx)
    if ptype in (PropType.BINARY, PropType.SERVER_ID):
        n = r.count(ctx.binary_count, 1, ptype.canonical_name, ctx.max_string)
        return r.take(n, ptype.canonical_name)
    if ptype is PropType.NULL:
        return None
    if ptype is PropType.RESTRICTION:
        from groupware.mapi.restrictions import decode_restriction

        return decode_restriction(r, ctx, depth)
    if ptype is PropType.RULE_ACTION:
        n = r.count(ctx.struct_count, ctx.struct_count, "NoOfActions", ctx.max_values)
        blocks = []
        for _ in range(n):
            size = r.count(ctx.struct_count, 1, "ActionLength", ctx.max_string)
            blocks.append(r.take(size, "ActionBlock"))
        return RuleActions(tuple(blocks))
    raise MapiFormatError(f"{ptype.canonical_name} has no inline value to decode")


_MIN_ELEMENT_SIZE = {PropType.STRING: 2, PropType.STRING8: 1}


def encode_value(w: Writer, ptype: PropType, value: object, ctx: WireContext = ROP) -> None:
    """Write a PropertyValue (MS-OXCDATA 2.11.2.1) of a known type."""
    if ptype.is_multi:
        if not isinstance(value, (tuple, list)):
            raise MapiFormatError(f"{ptype.canonical_name} value must be a tuple or list")
        if len(value) > ctx.max_values:
            raise MapiFormatError(f"{len(value)} values exceed the limit of {ctx.max_values}")
        w.uint(len(value), ctx.value_count, f"{ptype.canonical_name} count")
        element = ptype.element_type
        for item in value:
            _encode_element(w, element, item, ctx)
    else:
        _encode_element(w, ptype, value, ctx)


def decode_value(
    r: Reader, ptype: PropType, ctx: WireContext = ROP, depth: int = 0
) -> PropValue:
    """Read a PropertyValue (MS-OXCDATA 2.11.2.1) whose type the caller knows."""
    if not ptype.is_multi:
        return _decode_element(r, ptype, ctx, depth)
    element = ptype.element_type
    size = element.fixed_size or _MIN_ELEMENT_SIZE.get(element, ctx.binary_count)
    n = r.count(ctx.value_count, size, ptype.canonical_name, ctx.max_values)
    items = [_decode_element(r, element, ctx, depth) for _ in range(n)]
    return tuple(items)  # type: ignore[return-value]


def value_to_bytes(ptype: PropType, value: object, ctx: WireContext = ROP) -> bytes:
    w = Writer()
    encode_value(w, ptype, value, ctx)
    return w.getvalue()


def value_from_bytes(data: bytes, ptype: PropType, ctx: WireContext = ROP) -> PropValue:
    r = Reader(data)
    value = decode_value(r, ptype, ctx)
    r.expect_end(ptype.canonical_name)
    return value


def read_prop_type(r: Reader, what: str = "property type") -> PropType:
    """A 16-bit type word that must name a known type (MVI flag refused)."""
    raw = r.u16(what)
    try:
        return PropType(raw)
    except ValueError:
        raise MapiFormatError(f"unknown {what} 0x{raw:04X}") from None


def tag_prop_type(tag: int) -> PropType:
    """The type of a tag, refusing unknown types (MVI is ignored for decoding)."""
    raw = tag_type(tag) & ~MV_INSTANCE
    try:
        return PropType(raw)
    except ValueError:
        raise MapiFormatError(f"unknown property type in tag {format_tag(tag)}") from None


# --- wrappers -----------------------------------------------------------------------


@dataclass(frozen=True)
class TypedPropertyValue:
    """MS-OXCDATA 2.11.3: PropertyType (2 bytes) then PropertyValue."""

    prop_type: PropType
    value: PropValue

    def encode(self, w: Writer, ctx: WireContext = ROP) -> None:
        w.u16(self.prop_type)
        encode_value(w, self.prop_type, self.value, ctx)

    @classmethod
    def decode(cls, r: Reader, ctx: WireContext = ROP, depth: int = 0) -> TypedPropertyValue:
        ptype = read_prop_type(r)
        return cls(ptype, decode_value(r, ptype, ctx, depth))


@dataclass(frozen=True)
class TaggedPropertyValue:
    """MS-OXCDATA 2.11.4: PropertyTag (4 bytes) then PropertyValue of the tag's type."""

    tag: PropTag
    value: PropValue

    @property
    def prop_type(self) -> PropType:
        return tag_prop_type(self.tag)

    def encode(self, w: Writer, ctx: WireContext = ROP) -> None:
        w.u32(self.tag, "property tag")
        encode_value(w, self.prop_type, self.value, ctx)

    @classmethod
    def decode(cls, r: Reader, ctx: WireContext = ROP, depth: int = 0) -> TaggedPropertyValue:
        tag = PropTag(r.u32("property tag"))
        return cls(tag, decode_value(r, tag_prop_type(tag), ctx, depth))

    @classmethod
    def of(cls, prop_id: int, ptype: PropType, value: PropValue) -> TaggedPropertyValue:
        return cls(make_tag(prop_id, ptype), value)


@dataclass(frozen=True)
class FlaggedPropertyValue:
    """MS-OXCDATA 2.11.5: Flag (1 byte) then the value, nothing, or a PtypErrorCode.

    ``value`` holds the property value for :attr:`ValueFlag.PRESENT`, ``None`` for
    :attr:`ValueFlag.ABSENT` and the 32-bit error code for :attr:`ValueFlag.ERROR`.
    ``prop_type`` is the type of the column; :meth:`encode_with_type` writes the
    FlaggedPropertyValueWithType form of 2.11.6 (for PtypUnspecified columns).
    """

    prop_type: PropType
    flag: ValueFlag
    value: PropValue = None

    @classmethod
    def present(cls, ptype: PropType, value: PropValue) -> FlaggedPropertyValue:
        return cls(ptype, ValueFlag.PRESENT, value)

    @classmethod
    def error(cls, ptype: PropType, code: int) -> FlaggedPropertyValue:
        return cls(ptype, ValueFlag.ERROR, code)

    def encode(self, w: Writer, ctx: WireContext = ROP) -> None:
        w.u8(self.flag)
        if self.flag is ValueFlag.PRESENT:
            encode_value(w, self.prop_type, self.value, ctx)
        elif self.flag is ValueFlag.ERROR:
            encode_value(w, PropType.ERROR_CODE, self.value, ctx)
        elif self.value is not None:
            raise MapiFormatError("an absent FlaggedPropertyValue carries no value")

    def encode_with_type(self, w: Writer, ctx: WireContext = ROP) -> None:
        w.u16(self.prop_type)
        self.encode(w, ctx)

    @classmethod
    def decode(
        cls, r: Reader, ptype: PropType, ctx: WireContext = ROP, depth: int = 0
    ) -> FlaggedPropertyValue:
        raw = r.u8("FlaggedPropertyValue flag")
        try:
            flag = ValueFlag(raw)
        except ValueError:
            raise MapiFormatError(f"invalid FlaggedPropertyValue flag 0x{raw:02X}") from None
        if flag is ValueFlag.PRESENT:
            return cls(ptype, flag, decode_value(r, ptype, ctx, depth))
        if flag is ValueFlag.ERROR:
            return cls(ptype, flag, r.u32("error code"))
        return cls(ptype, flag, None)

    @classmethod
    def decode_with_type(
        cls, r: Reader, ctx: WireContext = ROP, depth: int = 0
    ) -> FlaggedPropertyValue:
        return cls.decode(r, read_prop_type(r), ctx, depth)


@dataclass(frozen=True)
class TypedString:
    """MS-OXCDATA 2.11.7: StringType (1 byte) then the string in the form it names."""

    string_type: StringType
    value: str | None

    @classmethod
    def best(cls, text: str | None) -> TypedString:
        """The most compact form: none, empty, reduced Unicode if every char < 0x100."""
        if text is None:
            return cls(StringType.NONE, None)
        if text == "":
            return cls(StringType.EMPTY, "")
        if all(ord(c) < 0x100 for c in text):
            return cls(StringType.REDUCED_UNICODE, text)
        return cls(StringType.UNICODE, text)

    def encode(self, w: Writer, ctx: WireContext = ROP) -> None:
        w.u8(self.string_type)
        st = self.string_type
        if st in (StringType.NONE, StringType.EMPTY):
            if self.value not in (None, ""):
                raise MapiFormatError(f"TypedString of type {st.name} carries no text")
            return
        if self.value is None:
            raise MapiFormatError(f"TypedString of type {st.name} needs text")
        if st is StringType.UNICODE:
            w.cstring16(self.value, "TypedString")
        elif st is StringType.REDUCED_UNICODE:
            try:
                raw = self.value.encode("latin-1")
            except UnicodeEncodeError:
                raise MapiFormatError("reduced Unicode needs every character < U+0100") from None
            w.cstring8(raw, "TypedString")
        else:
            w.cstring8(_encode_string8(self.value, ctx), "TypedString")

    @classmethod
    def decode(cls, r: Reader, ctx: WireContext = ROP) -> TypedString:
        raw = r.u8("StringType")
        try:
            st = StringType(raw)
        except ValueError:
            raise MapiFormatError(f"invalid TypedString type 0x{raw:02X}") from None
        if st is StringType.NONE:
            return cls(st, None)
        if st is StringType.EMPTY:
            return cls(st, "")
        if st is StringType.UNICODE:
            return cls(st, r.cstring16("TypedString", ctx.max_string))
        text = r.cstring8("TypedString", ctx.max_string)
        if st is StringType.REDUCED_UNICODE:
            return cls(st, text.decode("latin-1"))
        return cls(st, _decode_string8(text, ctx))

