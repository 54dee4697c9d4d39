"""SEARCH/SORT/THREAD criteria grammar (RFC 9051 6.4.4 ``search-key``, RFC 3501 additions).

Recursive over ``(...)``, ``NOT`` and ``OR``; every level is charged against the reader's
depth limit so ``NOT NOT NOT ...`` cannot exhaust the Python stack.
"""

from __future__ import annotations

from .reader import Reader
from .search_keys import (
    DATE_KEYS,
    TEXT_KEYS,
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchKey,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchRecent,
    SearchSequence,
    SearchSize,
    SearchText,
    SearchWithin,
)

__all__ = ["parse_charset", "parse_search_keys", "parse_search_return"]

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}

SEARCH_RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})
_ENTRY_TYPES = frozenset({"PRIV", "SHARED", "ALL"})


def parse_search_return(r: Reader) -> tuple[str, ...] | None:
    """``RETURN (MIN MAX ALL COUNT SAVE)`` if present (cursor before its leading space)."""
    if r.text[r.pos:r.pos + 8].upper() != b" RETURN ":
        return None
    r.pos += 8
    options = r.paren_list(r.keyword)
    for option in options:
        if option not in SEARCH_RETURN_OPTIONS:
            raise r.fail(f"unsupported search return option {option}")
    return tuple(dict.fromkeys(options))


def parse_charset(r: Reader) -> str:
    """``charset = atom / quoted``, upper-cased."""
    raw = r.quoted() if r.peek_is(b'"') else r.atom("charset")
    try:
        return raw.decode("ascii").upper()
    except UnicodeDecodeError as exc:
        raise r.fail("invalid charset name") from exc


def parse_search_keys(r: Reader) -> SearchKey:
    """``search-key *(SP search-key)`` up to the end of the command, as one key."""
    keys = [_search_key(r)]
    while r.maybe_sp():
        keys.append(_search_key(r))
    return keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))


def _search_key(r: Reader) -> SearchKey:
    r.count()
    char = r.peek()
    if char == 0x28:  # "("
        r.expect(b"(")
        r.enter()
        keys = [_search_key(r)]
        while r.maybe_sp():
            keys.append(_search_key(r))
        r.expect(b")")
        r.leave()
        return SearchAnd(tuple(keys))
    if char is not None and (0x30 <= char <= 0x39 or char in b"*$"):
        return SearchSequence(r.sequence_set())
    name = r.keyword("search key")
    if name == "ALL":
        return SearchAll()
    if name in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[name]
        return SearchFlag(flag, present)
    if name in ("NEW", "OLD", "RECENT"):
        return SearchRecent(name)
    if name in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        return SearchFlag(r.atom("keyword").decode("ascii"), name == "KEYWORD")
    if name in TEXT_KEYS:
        r.sp()
        return SearchText(name, r.astring())
    if name in DATE_KEYS:
        r.sp()
        return SearchDate(name, r.date())
    if name in ("LARGER", "SMALLER"):
        r.sp()
        return SearchSize(name, r.number64())
    if name in ("OLDER", "YOUNGER"):
        r.sp()
        return SearchWithin(name, r.number(nonzero=True))
    if name == "HEADER":
        r.sp()
        field = r.astring("header field name")
        if not field or any(not 0x21 <= b <= 0x7E or b == 0x3A for b in field):
            raise r.fail("invalid header field name")
        r.sp()
        return SearchHeader(field.decode("ascii"), r.astring())
    if name == "UID":
        r.sp()
        return SearchSequence(r.sequence_set(), uid=True)
    if name == "NOT":
        r.sp()
        r.enter()
        inner = _search_key(r)
        r.leave()
        return SearchNot(inner)
    if name == "OR":
        r.sp()
        r.enter()
        left = _search_key(r)
        r.sp()
        right = _search_key(r)
        r.leave()
        return SearchOr(left, right)
    if name == "MODSEQ":
        r.sp()
        entry_name: bytes | None = None
        entry_type: str | None = None
        if not 0x30 <= (r.peek() or 0) <= 0x39:
            entry_name = r.string()
            r.sp()
            entry_type = r.keyword("entry type")
            if entry_type not in _ENTRY_TYPES:
                raise r.fail("invalid MODSEQ entry type")
            r.sp()
        return SearchModSeq(r.number64(), entry_name, entry_type)
    raise r.fail(f"unknown search key {name}")
