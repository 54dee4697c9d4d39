"""Bounds-checked little-endian reader and writer for MAPI wire structures.

Every structure in MS-OXCDATA is little-endian and unpadded; the only exceptions
(GLOBCNT, big-endian, MS-OXCDATA 2.2.1.1) are handled by the callers. A truncated
buffer, an impossible count or an oversized string raises
:class:`~groupware.mapi.errors.MapiFormatError`, never ``struct.error`` or
``IndexError``, so callers can hand peer bytes straight to a decoder.
"""

from __future__ import annotations

import struct
import uuid

from groupware.mapi.errors import MapiFormatError

_U16 = struct.Struct("<H")
_I16 = struct.Struct("<h")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")

DEFAULT_MAX_STRING = 1 << 20
"""Longest null-terminated string (in bytes) a reader accepts unless told otherwise."""


class Reader:
    """Reads from an immutable buffer; every read checks the remaining length first."""

    __slots__ = ("_buf", "_end", "_pos")

    def __init__(self, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        self._buf = bytes(data)
        self._pos = offset
        self._end = len(self._buf)
        if not 0 <= offset <= self._end:
            raise MapiFormatError(f"offset {offset} outside a {self._end}-byte buffer")

    @property
    def position(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def at_end(self) -> bool:
        return self._pos >= self._end

    def expect_end(self, what: str) -> None:
        """Fail when bytes are left over: a structure that should fill a buffer did not."""
        if self._pos != self._end:
            raise MapiFormatError(f"{self.remaining} trailing bytes after {what}")

    def _take(self, n: int, what: str) -> bytes:
        if n < 0:
            raise MapiFormatError(f"negative length {n} for {what}")
        if n > self._end - self._pos:
            raise MapiFormatError(
                f"truncated {what}: need {n} bytes at offset {self._pos}, "
                f"{self._end - self._pos} left"
            )
        chunk = self._buf[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def take(self, n: int, what: str = "bytes") -> bytes:
        return self._take(n, what)

    def u8(self, what: str = "byte") -> int:
        return self._take(1, what)[0]

    def u16(self, what: str = "uint16") -> int:
        return int(_U16.unpack(self._take(2, what))[0])

    def i16(self, what: str = "int16") -> int:
        return int(_I16.unpack(self._take(2, what))[0])

    def u32(self, what: str = "uint32") -> int:
        return int(_U32.unpack(self._take(4, what))[0])

    def i32(self, what: str = "int32") -> int:
        return int(_I32.unpack(self._take(4, what))[0])

    def u64(self, what: str = "uint64") -> int:
        return int(_U64.unpack(self._take(8, what))[0])

    def i64(self, what: str = "int64") -> int:
        return int(_I64.unpack(self._take(8, what))[0])

    def f32(self, what: str = "float") -> float:
        return float(_F32.unpack(self._take(4, what))[0])

    def f64(self, what: str = "double") -> float:
        return float(_F64.unpack(self._take(8, what))[0])

    def uint(self, width: int, what: str = "count") -> int:
        """An unsigned little-endian integer of 1, 2, 4 or 8 bytes (COUNT fields)."""
        if width not in (1, 2, 4, 8):
            raise MapiFormatError(f"unsupported integer width {width} for {what}")
        return int.from_bytes(self._take(width, what), "little")

    def guid(self, what: str = "GUID") -> uuid.UUID:
        """A GUID with Data1-3 little-endian, as MS-OXCDATA 2.11.1 PtypGuid stores it."""
        return uuid.UUID(bytes_le=self._take(16, what))

    def count(self, width: int, element_size: int, what: str, limit: int) -> int:
        """A COUNT field, checked against ``limit`` and against the bytes left.

        ``element_size`` is the smallest wire size of one counted element; a count that
        could not fit in the remaining buffer is refused before anything is allocated.
        """
        n = self.uint(width, f"{what} count")
        if n > limit:
            raise MapiFormatError(f"{what} count {n} exceeds the limit of {limit}")
        if element_size > 0 and n * element_size > self.remaining:
            raise MapiFormatError(
                f"{what} count {n} cannot fit in the {self.remaining} bytes left"
            )
        return n

    def cstring8(self, what: str = "string", max_bytes: int = DEFAULT_MAX_STRING) -> bytes:
        """Bytes up to (not including) a single 0x00 terminator, which is consumed."""
        end = self._buf.find(b"\x00", self._pos, min(self._end, self._pos + max_bytes + 1))
        if end < 0:
            if self._end - self._pos > max_bytes:
                raise MapiFormatError(f"{what} longer than {max_bytes} bytes")
            raise MapiFormatError(f"unterminated {what} at offset {self._pos}")
        raw = self._buf[self._pos : end]
        self._pos = end + 1
        return raw

    def cstring16(self, what: str = "string", max_bytes: int = DEFAULT_MAX_STRING) -> str:
        """A UTF-16LE string up to (not including) a 0x0000 terminator on an even offset."""
        start = self._pos
        limit = min(self._end, start + max_bytes + 2)
        pos = self._buf.find(b"\x00\x00", start, limit)
        while pos >= 0 and (pos - start) % 2:
            pos = self._buf.find(b"\x00\x00", pos + 1, limit)
        if pos < 0:
            if self._end - start > max_bytes:
                raise MapiFormatError(f"{what} longer than {max_bytes} bytes")
            raise MapiFormatError(f"unterminated UTF-16 {what} at offset {start}")
        raw = self._buf[self._pos : pos]
        self._pos = pos + 2
        return decode_utf16(raw, what)


def decode_utf16(raw: bytes, what: str = "string") -> str:
    """UTF-16LE to ``str``; lone surrogates are refused rather than passed on."""
    try:
        return raw.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise MapiFormatError(f"invalid UTF-16LE in {what}: {exc.reason}") from None


def encode_utf16(text: str, what: str = "string") -> bytes:
    """``str`` to UTF-16LE; refuses lone surrogates (which have no UTF-16 form)."""
    try:
        return text.encode("utf-16-le")
    except UnicodeEncodeError as exc:
        raise MapiFormatError(f"{what} cannot be encoded as UTF-16: {exc.reason}") from None


class Writer:
    """Appends little-endian fields to a growing buffer; range-checks every integer."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    def raw(self, data: bytes) -> None:
        self._buf += data

    def uint(self, value: int, width: int, what: str = "integer") -> None:
        if width not in (1, 2, 4, 8):
            raise MapiFormatError(f"unsupported integer width {width} for {what}")
        if not 0 <= value < (1 << (8 * width)):
            raise MapiFormatError(f"{what} {value} does not fit in {width} unsigned bytes")
        self._buf += value.to_bytes(width, "little")

    def sint(self, value: int, width: int, what: str = "integer") -> None:
        """A two's-complement integer; accepts the signed and the unsigned range."""
        bits = 8 * width
        if not -(1 << (bits - 1)) <= value < (1 << bits):
            raise MapiFormatError(f"{what} {value} does not fit in {width} bytes")
        self._buf += (value & ((1 << bits) - 1)).to_bytes(width, "little")

    def u8(self, value: int, what: str = "byte") -> None:
        self.uint(value, 1, what)

    def u16(self, value: int, what: str = "uint16") -> None:
        self.uint(value, 2, what)

    def u32(self, value: int, what: str = "uint32") -> None:
        self.uint(value, 4, what)

    def u64(self, value: int, what: str = "uint64") -> None:
        self.uint(value, 8, what)

    def f32(self, value: float) -> None:
        try:
            self._buf += _F32.pack(value)
        except (OverflowError, struct.error) as exc:
            raise MapiFormatError(f"float {value!r} does not fit in 32 bits") from exc

    def f64(self, value: float) -> None:
        self._buf += _F64.pack(value)

    def guid(self, value: uuid.UUID) -> None:
        self._buf += value.bytes_le

    def cstring8(self, raw: bytes, what: str = "string") -> None:
        if b"\x00" in raw:
            raise MapiFormatError(f"{what} contains a NUL byte and cannot be terminated")
        self._buf += raw
        self._buf += b"\x00"

    def cstring16(self, text: str, what: str = "string") -> None:
        if "\x00" in text:
            raise MapiFormatError(f"{what} contains U+0000 and cannot be terminated")
        self._buf += encode_utf16(text, what)
        self._buf += b"\x00\x00"
