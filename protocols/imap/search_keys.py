"""SEARCH criteria (RFC 9051 6.4.4, RFC 7162 MODSEQ, RFC 5032 WITHIN) as a small tree.

The parser normalises spellings (``UNSEEN`` is ``SearchFlag("\\Seen", False)``) so the
evaluator deals with few node kinds; strings stay bytes because their charset is the
command's ``CHARSET`` and only the evaluator knows how to fold them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from .sequence import SequenceSet

__all__ = [
    "DATE_KEYS",
    "TEXT_KEYS",
    "SearchAll",
    "SearchAnd",
    "SearchDate",
    "SearchFlag",
    "SearchHeader",
    "SearchKey",
    "SearchModSeq",
    "SearchNot",
    "SearchOr",
    "SearchRecent",
    "SearchSequence",
    "SearchSize",
    "SearchText",
    "SearchWithin",
]

TEXT_KEYS = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
DATE_KEYS = frozenset({"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"})


@dataclass(frozen=True, slots=True)
class SearchAll:
    """``ALL``."""


@dataclass(frozen=True, slots=True)
class SearchSequence:
    """A bare sequence set (message numbers) or ``UID`` set."""

    sequence: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class SearchFlag:
    """``SEEN``/``UNSEEN``, ``KEYWORD x``/``UNKEYWORD x`` ...: flag present or absent."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class SearchRecent:
    """``NEW`` (recent and unseen), ``OLD`` (not recent) or ``RECENT`` (IMAP4rev1 only)."""

    kind: str


@dataclass(frozen=True, slots=True)
class SearchText:
    """``FROM``/``TO``/``CC``/``BCC``/``SUBJECT``/``BODY``/``TEXT`` substring search."""

    field: str
    value: bytes


@dataclass(frozen=True, slots=True)
class SearchHeader:
    """``HEADER field-name string``; an empty value matches any message with the field."""

    field: str
    value: bytes


@dataclass(frozen=True, slots=True)
class SearchDate:
    """``BEFORE``/``ON``/``SINCE`` (internal date) and ``SENT*`` (Date: header)."""

    op: str
    date: datetime.date


@dataclass(frozen=True, slots=True)
class SearchSize:
    """``LARGER n`` / ``SMALLER n`` (RFC822.SIZE)."""

    op: str
    size: int


@dataclass(frozen=True, slots=True)
class SearchWithin:
    """``OLDER n`` / ``YOUNGER n`` seconds (RFC 5032)."""

    op: str
    seconds: int


@dataclass(frozen=True, slots=True)
class SearchModSeq:
    """``MODSEQ ["/flags/\\Seen" priv|shared|all] n`` (RFC 7162 3.1.5)."""

    modseq: int
    entry_name: bytes | None = None
    entry_type: str | None = None


@dataclass(frozen=True, slots=True)
class SearchNot:
    """``NOT key``."""

    key: SearchKey


@dataclass(frozen=True, slots=True)
class SearchOr:
    """``OR key1 key2``."""

    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class SearchAnd:
    """A parenthesised list, or the implicit AND of the command's keys."""

    keys: tuple[SearchKey, ...]


SearchKey = (
    SearchAll
    | SearchSequence
    | SearchFlag
    | SearchRecent
    | SearchText
    | SearchHeader
    | SearchDate
    | SearchSize
    | SearchWithin
    | SearchModSeq
    | SearchNot
    | SearchOr
    | SearchAnd
)
