"""GLOBSET and IDSET encoding for ICS state (MS-OXCFXICS 2.2.2.4-2.2.2.6, 3.1.5.4).

A GLOBSET is a set of 48-bit GLOBCNTs serialized as commands over a *common byte
stack* of high-order bytes (GLOBCNTs are big-endian, so shared prefixes are
high-order bytes):

* Push (0x01-0x06): push that many bytes. If the stack then holds 6 bytes, they are
  one GLOBCNT, which joins the set, and the push is undone at once.
* Pop (0x50): undo the last push.
* Bitmask (0x42, stack of 5 bytes): StartingValue and Bitmask bytes; StartingValue is
  in the set and bit *i* adds StartingValue + *i* + 1.
* Range (0x52): LowValue and HighValue, each 6 - (stack size) bytes, inclusive.
* End (0x00).

An IDSET is a sequence of (replica, GLOBSET) pairs: REPLID-based (2-byte replica id,
2.2.2.4.1) as used inside the server and in MetaTagIdsetGiven on some paths, or
REPLGUID-based (16-byte GUID, 2.2.2.4.2) as sent to clients in ICS state
properties. The encoder compresses with shared prefixes, bitmasks and ranges; the
decoder accepts any valid command sequence, with limits.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.ids import GLOBCNT_MAX, ReplicaMap, make_id, split_id

CMD_END = 0x00
CMD_BITMASK = 0x42
CMD_POP = 0x50
CMD_RANGE = 0x52

MAX_RANGES = 1 << 20
"""Most ranges one decoded GLOBSET may hold; bounds memory for hostile state blobs."""
MAX_REPLICAS = 1 << 12


@dataclass(frozen=True)
class GlobSet:
    """A set of GLOBCNTs as sorted, disjoint, non-adjacent inclusive ranges."""

    ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_ranges(cls, ranges: Iterable[tuple[int, int]]) -> GlobSet:
        """Normalize any ranges: sort, merge overlapping and adjacent ones."""
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(ranges):
            if not 0 <= lo <= hi <= GLOBCNT_MAX:
                raise MapiFormatError(f"invalid GLOBCNT range {lo}-{hi}")
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return cls(tuple(merged))

    @classmethod
    def from_values(cls, values: Iterable[int]) -> GlobSet:
        return cls.from_ranges((v, v) for v in values)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect.bisect_right(self.ranges, (value, GLOBCNT_MAX + 1)) - 1
        return i >= 0 and self.ranges[i][0] <= value <= self.ranges[i][1]

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.ranges:
            yield from range(lo, hi + 1)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def union(self, other: GlobSet) -> GlobSet:
        return GlobSet.from_ranges(self.ranges + other.ranges)

    def difference(self, other: GlobSet) -> GlobSet:
        out: list[tuple[int, int]] = []
        for lo, hi in self.ranges:
            cur = lo
            for olo, ohi in other.ranges:
                if ohi < cur or olo > hi:
                    continue
                if olo > cur:
                    out.append((cur, olo - 1))
                cur = max(cur, ohi + 1)
                if cur > hi:
                    break
            if cur <= hi:
                out.append((cur, hi))
        return GlobSet(tuple(out))

    def intersection(self, other: GlobSet) -> GlobSet:
        return self.difference(self.difference(other))

    # --- wire form ------------------------------------------------------------------

    def encode(self, w: Writer) -> None:
        """Commands for this set, ending with End (MS-OXCFXICS 3.1.5.4.3.1)."""
        _encode(w, list(self.ranges), 0)
        w.u8(CMD_END)

    def to_bytes(self) -> bytes:
        w = Writer()
        self.encode(w)
        return w.getvalue()

    @classmethod
    def decode(cls, r: Reader, limit: int = MAX_RANGES) -> GlobSet:
        """Run the commands up to End (MS-OXCFXICS 3.1.5.4.3.2)."""
        stack: list[bytes] = []
        depth = 0  # total bytes on the stack
        found: list[tuple[int, int]] = []

        def add(lo: int, hi: int) -> None:
            if len(found) >= limit:
                raise MapiFormatError(f"GLOBSET holds more than {limit} ranges")
            found.append((lo, hi))

        while True:
            cmd = r.u8("GLOBSET command")
            if cmd == CMD_END:
                break
            prefix = b"".join(stack)
            if 0x01 <= cmd <= 0x06:
                if depth + cmd > 6:
                    raise MapiFormatError(f"Push of {cmd} bytes overflows the 6-byte stack")
                data = r.take(cmd, "Push bytes")
                if depth + cmd == 6:
                    value = int.from_bytes(prefix + data, "big")
                    add(value, value)
                else:
                    stack.append(data)
                    depth += cmd
            elif cmd == CMD_POP:
                if not stack:
                    raise MapiFormatError("Pop on an empty GLOBSET stack")
                depth -= len(stack.pop())
            elif cmd == CMD_BITMASK:
                if depth != 5:
                    raise MapiFormatError(f"Bitmask needs 5 stacked bytes, not {depth}")
                start = r.u8("StartingValue")
                mask = r.u8("Bitmask")
                base = int.from_bytes(prefix, "big") << 8
                run_lo = start
                run_hi = start
                for bit in range(8):
                    if mask & (1 << bit):
                        value = start + bit + 1
                        if value > 0xFF:
                            raise MapiFormatError("Bitmask runs past the low byte")
                        if value == run_hi + 1:
                            run_hi = value
                        else:
                            add(base | run_lo, base | run_hi)
                            run_lo = run_hi = value
                add(base | run_lo, base | run_hi)
            elif cmd == CMD_RANGE:
                if depth >= 6:
                    raise MapiFormatError("Range with a full stack")
                width = 6 - depth
                lo = int.from_bytes(prefix + r.take(width, "LowValue"), "big")
                hi = int.from_bytes(prefix + r.take(width, "HighValue"), "big")
                if lo > hi:
                    raise MapiFormatError("Range LowValue is above HighValue")
                add(lo, hi)
            else:
                raise MapiFormatError(f"unknown GLOBSET command 0x{cmd:02X}")
        return cls.from_ranges(found)

    @classmethod
    def from_bytes(cls, data: bytes) -> GlobSet:
        r = Reader(data)
        result = cls.decode(r)
        r.expect_end("GLOBSET")
        return result


def _b6(value: int) -> bytes:
    return value.to_bytes(6, "big")


def _common(a: bytes, b: bytes) -> int:
    n = 0
    while n < 6 and a[n] == b[n]:
        n += 1
    return n


def _encode(w: Writer, ranges: list[tuple[int, int]], depth: int) -> None:
    """Encode ranges whose values all share their first ``depth`` bytes."""
    if not ranges:
        return
    lo, hi = _b6(ranges[0][0]), _b6(ranges[-1][1])
    common = _common(lo, hi)
    if common == 6:  # a single value: one Push completes it (implicit Pop)
        w.u8(6 - depth)
        w.raw(lo[depth:])
        return
    if common > depth:
        w.u8(common - depth)
        w.raw(lo[depth:common])
        _encode_split(w, ranges, common)
        w.u8(CMD_POP)
        return
    _encode_split(w, ranges, depth)


def _encode_split(w: Writer, ranges: list[tuple[int, int]], depth: int) -> None:
    """Ranges sharing ``depth`` bytes whose overall span differs in byte ``depth``."""
    if len(ranges) == 1:
        lo, hi = _b6(ranges[0][0]), _b6(ranges[0][1])
        w.u8(CMD_RANGE)
        w.raw(lo[depth:])
        w.raw(hi[depth:])
        return
    if depth == 5:
        _encode_low_byte(w, ranges)
        return
    # Group consecutive ranges that stay within one value of byte ``depth``; a range
    # that spans several values of that byte is encoded alone with Range.
    group: list[tuple[int, int]] = []
    key: int | None = None
    for rng in ranges:
        a, b = _b6(rng[0])[depth], _b6(rng[1])[depth]
        if a == b and a == key:
            group.append(rng)
            continue
        _encode_group(w, group, depth)
        group, key = [rng], (a if a == b else None)
    _encode_group(w, group, depth)


def _encode_group(w: Writer, group: list[tuple[int, int]], depth: int) -> None:
    if not group:
        return
    if len(group) == 1:
        lo, hi = _b6(group[0][0]), _b6(group[0][1])
        if _common(lo, hi) == depth:
            w.u8(CMD_RANGE)
            w.raw(lo[depth:])
            w.raw(hi[depth:])
            return
    _encode(w, group, depth)


def _encode_low_byte(w: Writer, ranges: list[tuple[int, int]]) -> None:
    """Five bytes are stacked: cover the low bytes with Bitmask, Range or Push."""
    i = 0
    while i < len(ranges):
        start = ranges[i][0] & 0xFF
        j = i
        mask = 0
        # Gather following ranges that fit entirely in [start, start + 8].
        while j < len(ranges) and (ranges[j][1] & 0xFF) <= start + 8:
            for v in range(ranges[j][0] & 0xFF, (ranges[j][1] & 0xFF) + 1):
                if v != start:
                    mask |= 1 << (v - start - 1)
            j += 1
        if j - i >= 2:
            w.u8(CMD_BITMASK)
            w.u8(start)
            w.u8(mask)
            i = j
            continue
        lo, hi = ranges[i][0] & 0xFF, ranges[i][1] & 0xFF
        if lo == hi:
            w.u8(1)
            w.raw(bytes([lo]))
        else:
            w.u8(CMD_RANGE)
            w.raw(bytes([lo, hi]))
        i += 1


Replica = int | uuid.UUID


class IdSet:
    """A set of ids grouped by replica (REPLID or REPLGUID), each a :class:`GlobSet`."""

    __slots__ = ("_sets",)

    def __init__(self, sets: Mapping[Replica, GlobSet] | None = None) -> None:
        self._sets: dict[Replica, GlobSet] = {
            k: v for k, v in (sets or {}).items() if v
        }

    @classmethod
    def from_ids(cls, ids: Iterable[int]) -> IdSet:
        """From packed FIDs/MIDs/CNs (REPLID-keyed)."""
        by_replica: dict[Replica, list[int]] = {}
        for value in ids:
            replid, globcnt = split_id(value)
            by_replica.setdefault(replid, []).append(globcnt)
        return cls({k: GlobSet.from_values(v) for k, v in by_replica.items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdSet) and self._sets == other._sets

    def __hash__(self) -> int:
        return hash(frozenset(self._sets.items()))

    def __repr__(self) -> str:
        return f"IdSet({self._sets!r})"

    def __bool__(self) -> bool:
        return bool(self._sets)

    @property
    def replicas(self) -> tuple[Replica, ...]:
        return tuple(self._sets)

    def globset(self, replica: Replica) -> GlobSet:
        return self._sets.get(replica, GlobSet())

    def __contains__(self, value: object) -> bool:
        """Membership of a packed id (REPLID-keyed sets)."""
        if not isinstance(value, int):
            return False
        replid, globcnt = split_id(value)
        return globcnt in self.globset(replid)

    def ids(self) -> Iterator[int]:
        """Packed ids of a REPLID-keyed set, replica by replica."""
        for replica, gs in sorted(self._sets.items(), key=lambda kv: _sort_key(kv[0])):
            if not isinstance(replica, int):
                raise MapiFormatError("ids() needs a REPLID-based IDSET")
            for globcnt in gs:
                yield make_id(replica, globcnt)

    def union(self, other: IdSet) -> IdSet:
        keys = set(self._sets) | set(other._sets)
        return IdSet({k: self.globset(k).union(other.globset(k)) for k in keys})

    def difference(self, other: IdSet) -> IdSet:
        return IdSet({k: v.difference(other.globset(k)) for k, v in self._sets.items()})

    def add(self, value: int) -> IdSet:
        return self.union(IdSet.from_ids([value]))

    def to_guid_based(self, replicas: ReplicaMap) -> IdSet:
        return IdSet(
            {replicas.guid(k) if isinstance(k, int) else k: v for k, v in self._sets.items()}
        )

    def to_replid_based(self, replicas: ReplicaMap) -> IdSet:
        return IdSet(
            {k if isinstance(k, int) else replicas.replid(k): v for k, v in self._sets.items()}
        )

    # --- wire form ------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """REPLID-based or REPLGUID-based, by the kind of keys (never mixed)."""
        kinds = {isinstance(k, int) for k in self._sets}
        if len(kinds) > 1:
            raise MapiFormatError("an IDSET cannot mix REPLIDs and REPLGUIDs")
        w = Writer()
        for replica, gs in sorted(self._sets.items(), key=lambda kv: _sort_key(kv[0])):
            if isinstance(replica, int):
                w.u16(replica, "REPLID")
            else:
                w.guid(replica)
            gs.encode(w)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, guid_based: bool) -> IdSet:
        """Parse a whole buffer of (replica, GLOBSET) pairs."""
        r = Reader(data)
        sets: dict[Replica, GlobSet] = {}
        while not r.at_end():
            if len(sets) >= MAX_REPLICAS:
                raise MapiFormatError(f"IDSET names more than {MAX_REPLICAS} replicas")
            key: Replica = r.guid("REPLGUID") if guid_based else r.u16("REPLID")
            gs = GlobSet.decode(r)
            sets[key] = sets[key].union(gs) if key in sets else gs
        return cls(sets)


def _sort_key(replica: Replica) -> tuple[int, bytes]:
    if isinstance(replica, int):
        return (0, replica.to_bytes(2, "big"))
    return (1, replica.bytes_le)
