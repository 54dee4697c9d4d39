"""NDR 2.0 marshalling primitives (C706 chapter 14, MS-RPCE 2.2.5 / 3.1.1.5.x).

Only the little-endian, ASCII, IEEE data representation is produced and accepted:
every Windows client uses it, and the PDU layer rejects other ``drep`` labels.

The Reader and Writer are the building blocks for hand-written NSPI/RFR/EMSMDB
request and response structures. NDR's one tricky rule is pointer *deferral*: the
referent of an embedded pointer is not written where the pointer is but after the
outermost construct that contains it, depth first (C706 14.3.12.3). Both classes
keep a queue of deferred referents that the caller flushes at the end of each
top-level parameter (``flush()``), exactly where MIDL-generated stubs write them.

Decoding a pointer therefore cannot return the referent at once: ``Reader.unique``
returns a :class:`Deferred` cell that is filled in when the caller flushes.

Every count and size is bounded so that hostile stub data fails with
:class:`NdrError`, never with an uncaught exception or an unbounded allocation.

A hand-written decoder for ``NspiGetProps(hRpc, dwFlags, [in, unique] STAT* pStat,
[in, unique] PropertyTagArray_r* pPropTags)`` shape, for orientation::

    def read_tags(r: Reader) -> list[int]:
        # PropertyTagArray_r is a conformant structure: its max_count comes first.
        maximum = r.conformance()
        r.u32()                           # cValues
        return r.conformant_varying_array(lambda x: x.u32(), max_count=maximum)

    r = Reader(stub)
    handle = r.context_handle()
    flags = r.u32()
    stat = r.unique(Stat.decode)          # Deferred[Stat]
    r.flush()                             # end of the pStat parameter
    tags = r.unique(read_tags)
    r.flush()
    r.expect_end()
    return GetPropsRequest(handle, flags, stat.value, tags.value)
"""

from __future__ import annotations

import struct
import uuid
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from protocols.rpc.errors import NdrError

T = TypeVar("T")

DEFAULT_MAX_SIZE = 16 << 20
"""Largest stub a Writer will build or a Reader will accept (bytes)."""
DEFAULT_MAX_COUNT = 1 << 20
"""Largest conformance/variance count accepted for any single array or string."""
DEFAULT_MAX_DEPTH = 64
"""Deepest nesting of deferred referents (pointer chains, linked lists)."""
DEFAULT_MAX_POINTERS = 1 << 18
"""Most non-null pointers one stub may contain."""

FIRST_REFERENT_ID = 0x00020000
"""Windows starts referent ids here and steps by 4; any non-zero value is valid."""


@dataclass
class Deferred(Generic[T]):
    """Cell for the referent of a pointer, filled when the reader flushes.

    ``present`` says whether the pointer was non-null; ``value`` is only valid once
    resolved. Aliased full pointers share one cell.
    """

    present: bool
    _value: T | None = None
    _resolved: bool = False

    @property
    def value(self) -> T | None:
        """The referent, or None for a null pointer."""
        if self.present and not self._resolved:
            raise NdrError("pointer referent read before the deferred queue was flushed")
        return self._value

    def get(self) -> T:
        """The referent of a pointer that must not be null."""
        if not self.present:
            raise NdrError("unexpected null pointer")
        if not self._resolved:
            raise NdrError("pointer referent read before the deferred queue was flushed")
        return cast(T, self._value)

    def _set(self, value: T) -> None:
        self._value = value
        self._resolved = True


@dataclass(frozen=True)
class ContextHandle:
    """ndr_context_handle (C706 14.3.11, MS-RPCE 2.2.5.3.3): 20 opaque bytes on the wire."""

    attributes: int
    uuid: uuid.UUID

    @classmethod
    def null(cls) -> ContextHandle:
        return cls(0, uuid.UUID(int=0))

    @property
    def is_null(self) -> bool:
        return self.attributes == 0 and self.uuid.int == 0


class _DeferralQueue:
    """Depth-first deferred referent processing shared by Reader and Writer."""

    def __init__(self, max_depth: int) -> None:
        self._max_depth = max_depth
        self._current: deque[Callable[[], None]] = deque()
        self._flushing = False

    def push(self, action: Callable[[], None]) -> None:
        self._current.append(action)

    def flush(self) -> None:
        if self._flushing:
            # Called from inside a referent: the outer flush handles the queue.
            return
        self._flushing = True
        try:
            stack: list[deque[Callable[[], None]]] = [self._current]
            self._current = deque()
            while stack:
                top = stack[-1]
                if not top:
                    stack.pop()
                    continue
                action = top.popleft()
                action()
                if self._current:
                    if len(stack) >= self._max_depth:
                        raise NdrError(f"pointer nesting deeper than {self._max_depth}")
                    stack.append(self._current)
                    self._current = deque()
        finally:
            self._flushing = False
            self._current = deque()

    @property
    def pending(self) -> bool:
        return bool(self._current)


class Writer:
    """Builds NDR20 little-endian stub data; offsets are relative to the stub start."""

    def __init__(
        self,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_count: int = DEFAULT_MAX_COUNT,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self._buf = bytearray()
        self._max_size = max_size
        self._max_count = max_count
        self._queue = _DeferralQueue(max_depth)
        self._next_referent = FIRST_REFERENT_ID
        self._full_pointers: dict[Hashable, int] = {}

    # -- raw output ---------------------------------------------------------
    def _put(self, data: bytes) -> None:
        if len(self._buf) + len(data) > self._max_size:
            raise NdrError(f"NDR output would exceed {self._max_size} bytes")
        self._buf += data

    def __len__(self) -> int:
        return len(self._buf)

    def align(self, boundary: int) -> None:
        """Pad with zeros to a multiple of ``boundary`` (1, 2, 4 or 8)."""
        pad = -len(self._buf) % boundary
        if pad:
            self._put(b"\x00" * pad)

    def raw(self, data: bytes) -> None:
        """Bytes with no alignment (byte arrays, already-marshalled blobs)."""
        self._put(bytes(data))

    def u8(self, value: int) -> None:
        self._put(struct.pack("<B", value))

    def u16(self, value: int) -> None:
        self.align(2)
        self._put(struct.pack("<H", value))

    def u32(self, value: int) -> None:
        self.align(4)
        self._put(struct.pack("<I", value))

    def u64(self, value: int) -> None:
        """hyper: 8-byte aligned in NDR20."""
        self.align(8)
        self._put(struct.pack("<Q", value))

    def i8(self, value: int) -> None:
        self._put(struct.pack("<b", value))

    def i16(self, value: int) -> None:
        self.align(2)
        self._put(struct.pack("<h", value))

    def i32(self, value: int) -> None:
        self.align(4)
        self._put(struct.pack("<i", value))

    def i64(self, value: int) -> None:
        self.align(8)
        self._put(struct.pack("<q", value))

    def f32(self, value: float) -> None:
        self.align(4)
        self._put(struct.pack("<f", value))

    def f64(self, value: float) -> None:
        self.align(8)
        self._put(struct.pack("<d", value))

    def uuid(self, value: uuid.UUID) -> None:
        """GUID: a structure of u32, u16, u16, u8[8], so 4-byte aligned."""
        self.align(4)
        self._put(value.bytes_le)

    def context_handle(self, handle: ContextHandle) -> None:
        self.u32(handle.attributes)
        self.uuid(handle.uuid)

    # -- pointers -----------------------------------------------------------
    def _new_referent_id(self) -> int:
        referent = self._next_referent
        self._next_referent += 4
        return referent

    def unique(self, value: T | None, write: Callable[[Writer, T], None]) -> None:
        """[unique] pointer: referent id (0 for null); the referent is deferred."""
        if value is None:
            self.u32(0)
            return
        self.u32(self._new_referent_id())
        self._queue.push(lambda: write(self, value))

    def ref(self, value: T, write: Callable[[Writer, T], None], *, embedded: bool = True) -> None:
        """[ref] pointer. Embedded ones have a referent id; top-level ones have none."""
        if value is None:
            raise NdrError("[ref] pointer must not be null")
        if embedded:
            self.u32(self._new_referent_id())
            self._queue.push(lambda: write(self, value))
        else:
            write(self, value)

    def full(
        self, value: T | None, write: Callable[[Writer, T], None], *, key: Hashable | None = None
    ) -> None:
        """[ptr] full pointer: pointers with the same ``key`` share one referent id and
        the referent is written once. The default key is the object's identity, so
        pass an explicit key for values (ints, strings) that Python may intern."""
        if value is None:
            self.u32(0)
            return
        alias = key if key is not None else id(value)
        known = self._full_pointers.get(alias)
        if known is not None:
            self.u32(known)
            return
        referent = self._new_referent_id()
        self._full_pointers[alias] = referent
        self.u32(referent)
        self._queue.push(lambda: write(self, value))

    def flush(self) -> None:
        """Write all deferred referents; call at the end of each top-level parameter."""
        self._queue.flush()

    # -- arrays and strings -------------------------------------------------
    def _check_count(self, count: int) -> None:
        if count < 0 or count > self._max_count:
            raise NdrError(f"array count {count} outside 0..{self._max_count}")

    def conformance(self, max_count: int) -> None:
        """The max_count of a conformant array; for a conformant *structure* write it
        first, before the structure's members (C706 14.3.7.1)."""
        self._check_count(max_count)
        self.u32(max_count)

    def items(self, values: Iterable[T], write: Callable[[Writer, T], None]) -> None:
        for value in values:
            write(self, value)

    def conformant_array(self, values: Sequence[T], write: Callable[[Writer, T], None]) -> None:
        """[size_is] array not embedded in a structure: max_count then elements."""
        self.conformance(len(values))
        self.items(values, write)

    def varying_array(
        self, values: Sequence[T], write: Callable[[Writer, T], None], *, offset: int = 0
    ) -> None:
        """[length_is] fixed array: offset, actual_count, elements (C706 14.3.3.3)."""
        self._check_count(len(values))
        self.u32(offset)
        self.u32(len(values))
        self.items(values, write)

    def conformant_varying_array(
        self,
        values: Sequence[T],
        write: Callable[[Writer, T], None],
        *,
        max_count: int | None = None,
        with_conformance: bool = True,
    ) -> None:
        """[size_is, length_is] array: max_count, offset 0, actual_count, elements.

        With ``with_conformance=False`` the max_count was already written at the
        start of the enclosing conformant structure.
        """
        maximum = len(values) if max_count is None else max_count
        if maximum < len(values):
            raise NdrError("max_count smaller than actual_count")
        if with_conformance:
            self.conformance(maximum)
        self._check_count(len(values))
        self.u32(0)
        self.u32(len(values))
        self.items(values, write)

    def byte_array(self, data: bytes, *, conformant: bool = True) -> None:
        """[size_is(n)] unsigned char*: max_count then bytes."""
        if conformant:
            self.conformance(len(data))
        self._put(bytes(data))

    def wstring(self, value: str) -> None:
        """[string] wchar_t*: conformant varying UTF-16LE with the terminating NUL."""
        encoded = value.encode("utf-16-le") + b"\x00\x00"
        count = len(encoded) // 2
        self.conformance(count)
        self.u32(0)
        self.u32(count)
        self._put(encoded)

    def cstring(self, value: str | bytes, *, encoding: str = "latin-1") -> None:
        """[string] char*: conformant varying 8-bit characters with the NUL."""
        encoded = (value.encode(encoding) if isinstance(value, str) else bytes(value)) + b"\x00"
        self.conformance(len(encoded))
        self.u32(0)
        self.u32(len(encoded))
        self._put(encoded)

    def union_discriminant(self, tag: int, *, size: int = 4) -> None:
        """Non-encapsulated union switch (C706 14.3.8): the tag, then the caller writes
        the arm selected by it. ``size`` is the switch_type width in bytes."""
        {1: self.u8, 2: self.u16, 4: self.u32, 8: self.u64}[size](tag)

    def getvalue(self) -> bytes:
        """The stub so far, after flushing any deferred referents."""
        self.flush()
        return bytes(self._buf)


class Reader:
    """Parses NDR20 little-endian stub data with limits on every count and size."""

    def __init__(
        self,
        data: bytes,
        *,
        max_count: int = DEFAULT_MAX_COUNT,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_pointers: int = DEFAULT_MAX_POINTERS,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        if len(data) > max_size:
            raise NdrError(f"stub of {len(data)} bytes exceeds {max_size}")
        self._data = memoryview(bytes(data))
        self._pos = 0
        self._max_count = max_count
        self._max_pointers = max_pointers
        self._pointers = 0
        self._queue = _DeferralQueue(max_depth)
        self._full: dict[int, Deferred[object]] = {}

    @property
    def offset(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def _take(self, count: int) -> bytes:
        if count < 0 or self._pos + count > len(self._data):
            raise NdrError(
                f"stub truncated: need {count} bytes at offset {self._pos}, "
                f"{len(self._data) - self._pos} left"
            )
        chunk = bytes(self._data[self._pos : self._pos + count])
        self._pos += count
        return chunk

    def align(self, boundary: int) -> None:
        """Skip padding; its content is not checked (Windows leaves garbage there)."""
        pad = -self._pos % boundary
        if pad:
            self._take(pad)

    def raw(self, count: int) -> bytes:
        return self._take(count)

    def u8(self) -> int:
        return int(self._take(1)[0])

    def u16(self) -> int:
        self.align(2)
        return int(struct.unpack("<H", self._take(2))[0])

    def u32(self) -> int:
        self.align(4)
        return int(struct.unpack("<I", self._take(4))[0])

    def u64(self) -> int:
        self.align(8)
        return int(struct.unpack("<Q", self._take(8))[0])

    def i8(self) -> int:
        return int(struct.unpack("<b", self._take(1))[0])

    def i16(self) -> int:
        self.align(2)
        return int(struct.unpack("<h", self._take(2))[0])

    def i32(self) -> int:
        self.align(4)
        return int(struct.unpack("<i", self._take(4))[0])

    def i64(self) -> int:
        self.align(8)
        return int(struct.unpack("<q", self._take(8))[0])

    def f32(self) -> float:
        self.align(4)
        return float(struct.unpack("<f", self._take(4))[0])

    def f64(self) -> float:
        self.align(8)
        return float(struct.unpack("<d", self._take(8))[0])

    def uuid(self) -> uuid.UUID:
        self.align(4)
        return uuid.UUID(bytes_le=self._take(16))

    def context_handle(self) -> ContextHandle:
        attributes = self.u32()
        return ContextHandle(attributes, self.uuid())

    # -- pointers -----------------------------------------------------------
    def _count_pointer(self) -> None:
        self._pointers += 1
        if self._pointers > self._max_pointers:
            raise NdrError(f"more than {self._max_pointers} pointers in one stub")

    def unique(self, read: Callable[[Reader], T]) -> Deferred[T]:
        """[unique] (or embedded [ref]) pointer; the referent is read on ``flush()``."""
        referent = self.u32()
        if referent == 0:
            return Deferred(False)
        self._count_pointer()
        cell: Deferred[T] = Deferred(True)
        self._queue.push(lambda: cell._set(read(self)))
        return cell

    def ref(self, read: Callable[[Reader], T], *, embedded: bool = True) -> Deferred[T]:
        """[ref] pointer: never null. Top-level ones are read immediately."""
        if not embedded:
            cell: Deferred[T] = Deferred(True)
            cell._set(read(self))
            return cell
        deferred = self.unique(read)
        if not deferred.present:
            raise NdrError("null [ref] pointer")
        return deferred

    def full(self, read: Callable[[Reader], T]) -> Deferred[T]:
        """[ptr] full pointer: a repeated referent id aliases the first referent."""
        referent = self.u32()
        if referent == 0:
            return Deferred(False)
        known = self._full.get(referent)
        if known is not None:
            return known  # type: ignore[return-value]
        self._count_pointer()
        cell: Deferred[T] = Deferred(True)
        self._full[referent] = cell  # type: ignore[assignment]
        self._queue.push(lambda: cell._set(read(self)))
        return cell

    def flush(self) -> None:
        """Read all deferred referents; call at the end of each top-level parameter."""
        self._queue.flush()

    # -- arrays and strings -------------------------------------------------
    def _check_count(self, count: int, min_item_size: int) -> None:
        if count > self._max_count:
            raise NdrError(f"array count {count} exceeds limit {self._max_count}")
        if count * min_item_size > self.remaining:
            raise NdrError(f"array of {count} items cannot fit in {self.remaining} bytes")

    def conformance(self) -> int:
        """Read a max_count (for conformant structures it precedes the members)."""
        count = self.u32()
        if count > self._max_count:
            raise NdrError(f"max_count {count} exceeds limit {self._max_count}")
        return count

    def items(self, count: int, read: Callable[[Reader], T], *, min_item_size: int = 1) -> list[T]:
        """``count`` elements; ``min_item_size`` lets hostile counts fail before looping."""
        self._check_count(count, min_item_size)
        return [read(self) for _ in range(count)]

    def conformant_array(self, read: Callable[[Reader], T], *, min_item_size: int = 1) -> list[T]:
        return self.items(self.conformance(), read, min_item_size=min_item_size)

    def variance(self, max_count: int | None = None) -> int:
        """offset and actual_count of a varying array; only offset 0 is accepted."""
        offset = self.u32()
        actual = self.u32()
        if offset != 0:
            raise NdrError(f"varying array offset {offset} is not supported")
        if max_count is not None and actual > max_count:
            raise NdrError(f"actual_count {actual} exceeds max_count {max_count}")
        if actual > self._max_count:
            raise NdrError(f"actual_count {actual} exceeds limit {self._max_count}")
        return actual

    def varying_array(
        self, read: Callable[[Reader], T], *, max_count: int, min_item_size: int = 1
    ) -> list[T]:
        return self.items(self.variance(max_count), read, min_item_size=min_item_size)

    def conformant_varying_array(
        self,
        read: Callable[[Reader], T],
        *,
        max_count: int | None = None,
        min_item_size: int = 1,
    ) -> list[T]:
        """[size_is, length_is] array; pass ``max_count`` when it was read earlier at
        the start of the enclosing conformant structure."""
        maximum = self.conformance() if max_count is None else max_count
        return self.items(self.variance(maximum), read, min_item_size=min_item_size)

    def byte_array(self, count: int | None = None) -> bytes:
        """Conformant byte array (reads max_count unless ``count`` is given)."""
        size = self.conformance() if count is None else count
        self._check_count(size, 1)
        return self._take(size)

    def wstring(self) -> str:
        """[string] wchar_t*: must carry its terminating NUL, which is stripped."""
        maximum = self.conformance()
        actual = self.variance(maximum)
        if actual == 0:
            raise NdrError("[string] without terminating NUL")
        self._check_count(actual, 2)
        raw = self._take(actual * 2)
        if raw[-2:] != b"\x00\x00":
            raise NdrError("[string] wchar_t not NUL-terminated")
        try:
            return raw[:-2].decode("utf-16-le")
        except UnicodeDecodeError as exc:
            raise NdrError(f"invalid UTF-16 in [string]: {exc}") from None

    def cstring_bytes(self) -> bytes:
        """[string] char* as raw bytes without the terminating NUL."""
        maximum = self.conformance()
        actual = self.variance(maximum)
        if actual == 0:
            raise NdrError("[string] without terminating NUL")
        raw = self._take(actual)
        if raw[-1:] != b"\x00":
            raise NdrError("[string] char not NUL-terminated")
        return raw[:-1]

    def cstring(self, *, encoding: str = "latin-1") -> str:
        try:
            return self.cstring_bytes().decode(encoding)
        except UnicodeDecodeError as exc:
            raise NdrError(f"invalid {encoding} in [string]: {exc}") from None

    def union_discriminant(self, *, size: int = 4) -> int:
        """Read a non-encapsulated union's switch value (C706 14.3.8)."""
        readers: dict[int, Callable[[], int]] = {1: self.u8, 2: self.u16, 4: self.u32, 8: self.u64}
        if size not in readers:
            raise NdrError(f"unsupported union discriminant size {size}")
        return readers[size]()

    def expect_end(self) -> None:
        """Flush and require that nothing but alignment padding (< 8 bytes) is left."""
        self.flush()
        if self.remaining >= 8:
            raise NdrError(f"{self.remaining} unexpected trailing bytes in stub")
