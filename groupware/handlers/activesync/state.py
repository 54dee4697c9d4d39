"""Sync state values: what a device has, serialized for the state table.

A collection's state is a view over the store's change log, not a copy of the
folder: ``cursor`` says how far along the log (ordered by (modseq, MID)) the client
has been brought, ``given`` which messages it holds (ranges of MID counters, so a
folder filled in order costs a few numbers), ``skip`` which newer versions it
already has because it made them itself (its own Adds and Changes are not echoed).
Everything is JSON, zlib-compressed.
"""

from __future__ import annotations

import bisect
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


class IdRanges:
    """A set of non-negative integers kept as sorted, disjoint, inclusive ranges."""

    __slots__ = ("_hi", "_lo")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._lo: list[int] = []
        self._hi: list[int] = []
        for lo, hi in sorted(ranges):
            if self._lo and lo <= self._hi[-1] + 1:
                self._hi[-1] = max(self._hi[-1], hi)
            else:
                self._lo.append(lo)
                self._hi.append(hi)

    def __contains__(self, value: int) -> bool:
        i = bisect.bisect_right(self._lo, value) - 1
        return i >= 0 and value <= self._hi[i]

    def __len__(self) -> int:
        return sum(h - lo + 1 for lo, h in zip(self._lo, self._hi, strict=True))

    def __iter__(self) -> Iterator[int]:
        for lo, hi in zip(self._lo, self._hi, strict=True):
            yield from range(lo, hi + 1)

    def add(self, value: int) -> None:
        if value in self:
            return
        i = bisect.bisect_right(self._lo, value)
        joins_left = i > 0 and self._hi[i - 1] == value - 1
        joins_right = i < len(self._lo) and self._lo[i] == value + 1
        if joins_left and joins_right:
            self._hi[i - 1] = self._hi[i]
            del self._lo[i], self._hi[i]
        elif joins_left:
            self._hi[i - 1] = value
        elif joins_right:
            self._lo[i] = value
        else:
            self._lo.insert(i, value)
            self._hi.insert(i, value)

    def discard(self, value: int) -> None:
        i = bisect.bisect_right(self._lo, value) - 1
        if i < 0 or value > self._hi[i]:
            return
        lo, hi = self._lo[i], self._hi[i]
        if lo == hi:
            del self._lo[i], self._hi[i]
        elif value == lo:
            self._lo[i] = value + 1
        elif value == hi:
            self._hi[i] = value - 1
        else:
            self._hi[i] = value - 1
            self._lo.insert(i + 1, value + 1)
            self._hi.insert(i + 1, hi)

    def ranges(self) -> list[list[int]]:
        return [[lo, hi] for lo, hi in zip(self._lo, self._hi, strict=True)]

    def copy(self) -> IdRanges:
        out = IdRanges()
        out._lo = list(self._lo)
        out._hi = list(self._hi)
        return out


@dataclass
class CollectionState:
    """Where one device stands in one folder."""

    cursor_cn: int = 0
    """Every change with modseq < cursor_cn, or == cursor_cn and MID <= cursor_mid, is
    done (sent, skipped, or not for this client)."""
    cursor_mid: int = -1
    """-1: every change with modseq == cursor_cn is done too."""
    given: IdRanges = field(default_factory=IdRanges)
    skip: dict[int, int] = field(default_factory=dict)
    """MID -> modseq the client already has (its own changes)."""
    klass: str = "Email"
    filter_type: int = 0
    retries: int = 0
    """Times the client came back with the previous SyncKey (loop detection)."""
    first_sent: int = 0
    """MID of the first item of the last response (skipped when it keeps failing)."""
    broken: list[int] = field(default_factory=list)
    """MIDs skipped because they broke the client's sync again and again."""
    options: dict[str, Any] = field(default_factory=dict)
    """The collection's Options as the client last sent them (reused when absent)."""
    last_cutoff: float = 0.0
    """The FilterType window's start at the last export (items older are gone)."""

    def done(self, modseq: int, mid: int) -> bool:
        if modseq != self.cursor_cn:
            return modseq < self.cursor_cn
        return self.cursor_mid < 0 or mid <= self.cursor_mid

    def to_bytes(self) -> bytes:
        return zlib.compress(json.dumps({
            "c": self.cursor_cn, "m": self.cursor_mid, "g": self.given.ranges(),
            "s": {str(k): v for k, v in self.skip.items()}, "k": self.klass,
            "f": self.filter_type, "r": self.retries, "fs": self.first_sent,
            "b": self.broken, "o": self.options, "lc": self.last_cutoff,
        }, separators=(",", ":")).encode())

    @classmethod
    def from_bytes(cls, data: bytes) -> CollectionState:
        raw = json.loads(zlib.decompress(data))
        return cls(int(raw["c"]), int(raw["m"]), IdRanges((a, b) for a, b in raw["g"]),
                   {int(k): int(v) for k, v in raw["s"].items()}, str(raw["k"]),
                   int(raw["f"]), int(raw.get("r", 0)), int(raw.get("fs", 0)),
                   [int(x) for x in raw.get("b", [])], dict(raw.get("o", {})),
                   float(raw.get("lc", 0.0)))

    def copy(self) -> CollectionState:
        return CollectionState(self.cursor_cn, self.cursor_mid, self.given.copy(),
                               dict(self.skip), self.klass, self.filter_type, 0, 0,
                               list(self.broken), dict(self.options), self.last_cutoff)


@dataclass
class HierarchyState:
    """The folders a device knows: ServerId -> (ParentId, DisplayName, Type)."""

    folders: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return zlib.compress(json.dumps(
            {k: list(v) for k, v in self.folders.items()}, separators=(",", ":")).encode())

    @classmethod
    def from_bytes(cls, data: bytes) -> HierarchyState:
        raw = json.loads(zlib.decompress(data))
        return cls({k: (str(v[0]), str(v[1]), int(v[2])) for k, v in raw.items()})
