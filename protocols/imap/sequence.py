"""Sequence sets (RFC 9051 9, ``sequence-set``): message numbers or UIDs, ``*`` and ``$``.

A set is kept as the ranges the client sent (``*`` stays symbolic) because its meaning
depends on the mailbox size at execution time, which the parser does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["MAX_NZ_NUMBER", "SeqRange", "SequenceSet", "format_sequence_set"]

MAX_NZ_NUMBER = 0xFFFFFFFF
"""Largest message number or UID (``nz-number`` is a 32-bit unsigned value)."""


@dataclass(frozen=True, slots=True)
class SeqRange:
    """``seq-number [":" seq-number]``; ``None`` stands for ``*`` (the largest in use)."""

    start: int | None
    end: int | None

    def bounds(self, largest: int) -> tuple[int, int]:
        """Low and high number once ``*`` is known; ``4:2`` is the same as ``2:4``."""
        low = largest if self.start is None else self.start
        high = largest if self.end is None else self.end
        return (low, high) if low <= high else (high, low)


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A parsed ``sequence-set``, or ``$`` (the SEARCHRES saved result, RFC 5182)."""

    ranges: tuple[SeqRange, ...] = ()
    saved: bool = False

    def contains(self, number: int, largest: int) -> bool:
        """Whether ``number`` is in the set for a mailbox whose largest value is ``largest``."""
        if self.saved:
            raise ValueError("'$' must be replaced by the saved search result first")
        for rng in self.ranges:
            low, high = rng.bounds(largest)
            if low <= number <= high:
                return True
        return False

    def iter_numbers(self, largest: int) -> Iterator[int]:
        """Ascending, de-duplicated numbers of the set, clipped to ``1..largest``.

        Meant for message sequence numbers, which are dense; UID sets should be
        intersected with the mailbox's UID list with :meth:`contains` instead.
        """
        if self.saved:
            raise ValueError("'$' must be replaced by the saved search result first")
        spans = sorted(rng.bounds(largest) for rng in self.ranges)
        last = 0
        for low, high in spans:
            yield from range(max(low, last + 1), min(high, largest) + 1)
            last = max(last, min(high, largest))

    def is_static(self) -> bool:
        """True when the set names numbers only (no ``*`` and no ``$``)."""
        return not self.saved and all(
            r.start is not None and r.end is not None for r in self.ranges
        )

    def to_bytes(self) -> bytes:
        """Wire form, as a client or a ``[MODIFIED ...]`` response code would send it."""
        if self.saved:
            return b"$"

        def one(value: int | None) -> str:
            return "*" if value is None else str(value)

        parts = [
            one(r.start) if r.start == r.end else f"{one(r.start)}:{one(r.end)}"
            for r in self.ranges
        ]
        return ",".join(parts).encode("ascii")


def format_sequence_set(numbers: Iterable[int], *, keep_order: bool = False) -> bytes:
    """Compact ``1:3,7,9:10`` form of a collection of numbers (for UIDPLUS, VANISHED ...).

    ``keep_order`` keeps the caller's order (only ascending runs are merged): COPYUID's
    two UID sets must correspond element by element.  Returns ``b""`` for an empty
    collection; callers decide whether that is legal.
    """
    ordered = list(numbers) if keep_order else sorted(set(numbers))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts).encode("ascii")
