"""SEARCH evaluation, SORT keys (RFC 5256) and THREAD (REFERENCES, ORDEREDSUBJECT).

Pure functions over :class:`Candidate` records. The session decides what each
candidate must carry (``needs_info``/``needs_mime``) so a flag-only search never
reads a message, and a header search parses only the header.

String matching is a case-insensitive substring test on decoded text (RFC 9051
6.4.4: "the matching is case-insensitive"); header values are RFC 2047-decoded,
bodies are searched in their transfer-decoded text parts.
"""

from __future__ import annotations

import datetime
import email.header
import email.utils
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .mime_headers import parse_address_list, unfold
from .mime_structure import Part, binary_content, parse_message
from .search_keys import (
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

__all__ = [
    "Candidate",
    "base_subject",
    "matches",
    "needs_info",
    "needs_mime",
    "sort_key",
    "thread_orderedsubject",
    "thread_references",
    "uses_modseq",
]

SUPPORTED_CHARSETS = frozenset({"US-ASCII", "UTF-8", "ISO-8859-1", "LATIN1"})


@dataclass
class Candidate:
    """One message as the evaluator sees it; ``raw`` only when a key needs it."""

    msn: int
    uid: int
    flags: frozenset[str]
    modseq: int
    size: int = 0
    internal_date: float = 0.0
    raw: bytes | None = None
    _root: Part | None = field(default=None, repr=False)
    _headers: dict[str, list[str]] | None = field(default=None, repr=False)

    def root(self) -> Part:
        if self._root is None:
            self._root = parse_message(self.raw or b"")
        return self._root

    def headers(self) -> dict[str, list[str]]:
        """Top-level header fields, RFC 2047-decoded, by lower-case name."""
        if self._headers is None:
            out: dict[str, list[str]] = {}
            for f in self.root().fields:
                name = f.name.decode("latin-1").lower()
                out.setdefault(name, []).append(decode_words(unfold(f.value)))
            self._headers = out
        return self._headers

    def header(self, name: str) -> str:
        values = self.headers().get(name.lower())
        return values[0] if values else ""


def decode_words(value: bytes) -> str:
    """A header value with RFC 2047 encoded words decoded (lenient)."""
    text = value.decode("utf-8", "replace")
    if "=?" not in text:
        return text
    try:
        parts = email.header.decode_header(text)
    except Exception:
        return text
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            try:
                out.append(chunk.decode(charset or "latin-1", "replace"))
            except LookupError:
                out.append(chunk.decode("latin-1"))
        else:
            out.append(chunk)
    return "".join(out)


# --- what a search needs ----------------------------------------------------------------


def _walk(key: SearchKey) -> Iterable[SearchKey]:
    yield key
    if isinstance(key, SearchNot):
        yield from _walk(key.key)
    elif isinstance(key, SearchOr):
        yield from _walk(key.left)
        yield from _walk(key.right)
    elif isinstance(key, SearchAnd):
        for k in key.keys:
            yield from _walk(k)


def needs_mime(key: SearchKey) -> bool:
    return any(isinstance(k, SearchText | SearchHeader)
               or (isinstance(k, SearchDate) and k.op.startswith("SENT"))
               for k in _walk(key))


def needs_info(key: SearchKey) -> bool:
    return any(isinstance(k, SearchSize | SearchWithin)
               or (isinstance(k, SearchDate) and not k.op.startswith("SENT"))
               for k in _walk(key))


def uses_modseq(key: SearchKey) -> bool:
    return any(isinstance(k, SearchModSeq) for k in _walk(key))


# --- evaluation ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    return text.casefold()


def _body_text(c: Candidate) -> str:
    """Transfer-decoded text of the message's text parts (and other leaves as bytes)."""
    root = c.root()
    raw = c.raw or b""
    texts: list[str] = []

    def visit(part: Part, path: tuple[int, ...]) -> None:
        if part.is_multipart:
            for i, child in enumerate(part.children, 1):
                visit(child, (*path, i))
            return
        if part.message is not None:
            texts.append(raw[part.body_start:part.end].decode("utf-8", "replace"))
            return
        try:
            data = binary_content(raw, root, path or (1,)) if path else raw[
                root.body_start:root.end]
            if not path and part.encoding.lower() in (b"base64", b"quoted-printable"):
                data = binary_content(raw, root, (1,))
        except ValueError:
            data = raw[part.body_start:part.end]
        charset = "utf-8"
        for k, v in part.params or ():
            if k.lower() == b"charset":
                charset = v.decode("ascii", "replace")
        try:
            texts.append((data or b"").decode(charset, "replace"))
        except LookupError:
            texts.append((data or b"").decode("latin-1"))

    visit(root, ())
    return "\n".join(texts)


def _addresses_text(c: Candidate, name: str) -> str:
    return " ".join(c.headers().get(name, []))


def _sent_date(c: Candidate) -> datetime.date | None:
    value = c.header("date")
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.date()


def _internal_date(c: Candidate) -> datetime.date:
    return datetime.datetime.fromtimestamp(c.internal_date, datetime.UTC).date()


def matches(key: SearchKey, c: Candidate, *, largest_msn: int, largest_uid: int,
            saved: Sequence[int], charset: str, now: float) -> bool:
    """Whether ``c`` satisfies ``key`` (``saved`` are the UIDs of ``$``)."""

    def m(k: SearchKey) -> bool:
        if isinstance(k, SearchAll):
            return True
        if isinstance(k, SearchAnd):
            return all(m(x) for x in k.keys)
        if isinstance(k, SearchOr):
            return m(k.left) or m(k.right)
        if isinstance(k, SearchNot):
            return not m(k.key)
        if isinstance(k, SearchFlag):
            present = any(f.lower() == k.flag.lower() for f in c.flags)
            return present is k.present
        if isinstance(k, SearchRecent):
            return k.kind == "OLD"  # no session ever sees \Recent messages here
        if isinstance(k, SearchSequence):
            if k.sequence.saved:
                return c.uid in saved
            if k.uid:
                return k.sequence.contains(c.uid, largest_uid)
            return k.sequence.contains(c.msn, largest_msn)
        if isinstance(k, SearchModSeq):
            return c.modseq >= k.modseq
        if isinstance(k, SearchSize):
            return c.size > k.size if k.op == "LARGER" else c.size < k.size
        if isinstance(k, SearchWithin):
            age = now - c.internal_date
            return age <= k.seconds if k.op == "YOUNGER" else age >= k.seconds
        if isinstance(k, SearchDate):
            day = _sent_date(c) if k.op.startswith("SENT") else _internal_date(c)
            if day is None:
                return False
            op = k.op.removeprefix("SENT")
            if op == "BEFORE":
                return day < k.date
            if op == "ON":
                return day == k.date
            return day >= k.date
        if isinstance(k, SearchHeader):
            values = c.headers().get(k.field.lower())
            if values is None:
                return False
            needle = _fold(_decode_needle(k.value, charset))
            return any(needle in _fold(v) for v in values)
        if isinstance(k, SearchText):
            needle = _fold(_decode_needle(k.value, charset))
            f = k.field
            if f in ("FROM", "TO", "CC", "BCC"):
                return needle in _fold(_addresses_text(c, f.lower()))
            if f == "SUBJECT":
                return needle in _fold(c.header("subject"))
            if f == "BODY":
                return needle in _fold(_body_text(c))
            headers = " ".join(v for vs in c.headers().values() for v in vs)
            return needle in _fold(headers) or needle in _fold(_body_text(c))
        return False

    return m(key)


def _decode_needle(value: bytes, charset: str) -> str:
    if charset in ("ISO-8859-1", "LATIN1"):
        return value.decode("latin-1")
    return value.decode("utf-8", "replace")


# --- SORT (RFC 5256) ----------------------------------------------------------------------

_SUBJ_BLOB = re.compile(r"^\[[^\[\]]*\]\s*")
_SUBJ_REFWD = re.compile(r"^(re|fwd?)\s*(\[[^\[\]]*\])?\s*:\s*", re.IGNORECASE)
_SUBJ_TRAILER = re.compile(r"\s*\(fwd\)\s*$", re.IGNORECASE)


def base_subject(subject: str) -> str:
    """RFC 5256 2.1 base subject (case-folded, whitespace collapsed)."""
    s = " ".join(subject.split())
    while True:
        before = s
        while True:
            t = _SUBJ_TRAILER.sub("", s)
            if t == s:
                break
            s = t
        while True:
            t = _SUBJ_REFWD.sub("", s)
            if t == s:
                t2 = _SUBJ_BLOB.sub("", s)
                if t2 != s and t2:
                    s = t2
                    continue
                break
            s = t
        if s.lower().startswith("[fwd:") and s.endswith("]"):
            s = s[5:-1].strip()
        if s == before:
            break
    return s.casefold()


def _first_address(c: Candidate, name: str, *, display: bool) -> str:
    values = c.headers().get(name)
    if not values:
        return ""
    try:
        addrs = parse_address_list(values[0].encode("utf-8"))
    except ValueError:
        return ""
    for a in addrs:
        if a.mailbox is None or a.host is None:
            continue
        if display and a.name:
            return decode_words(a.name).casefold()
        return a.mailbox.decode("utf-8", "replace").casefold()
    return ""


def sort_key(criterion: str, c: Candidate) -> object:
    """The value one RFC 5256 sort criterion compares for ``c``."""
    if criterion == "ARRIVAL":
        return c.internal_date
    if criterion == "DATE":
        value = c.header("date")
        try:
            return email.utils.parsedate_to_datetime(value).timestamp() if value else (
                c.internal_date)
        except (TypeError, ValueError, IndexError):
            return c.internal_date
    if criterion == "SIZE":
        return c.size
    if criterion == "SUBJECT":
        return base_subject(c.header("subject"))
    if criterion in ("FROM", "TO", "CC"):
        return _first_address(c, criterion.lower(), display=False)
    if criterion in ("DISPLAYFROM", "DISPLAYTO"):
        return _first_address(c, criterion[7:].lower(), display=True)
    raise ValueError(criterion)


# --- THREAD (RFC 5256 3) ----------------------------------------------------------------

_MSGID = re.compile(r"<[^<>]+>")


@dataclass
class _Node:
    msg: Candidate | None = None
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)


def _date_of(c: Candidate) -> float:
    value = c.header("date")
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() if value else (
            c.internal_date)
    except (TypeError, ValueError, IndexError):
        return c.internal_date


def thread_references(msgs: Sequence[Candidate],
                      number: Callable[[Candidate], int]) -> list[tuple[int | None, list[Any]]]:
    """RFC 5256 REFERENCES threads as nested ``(number, children)`` tuples."""
    table: dict[str, _Node] = {}

    def node_for(mid: str) -> _Node:
        n = table.get(mid)
        if n is None:
            n = table[mid] = _Node()
        return n

    def is_ancestor(a: _Node, b: _Node) -> bool:
        p: _Node | None = b
        while p is not None:
            if p is a:
                return True
            p = p.parent
        return False

    def link(parent: _Node, child: _Node) -> None:
        if child.parent is not None or is_ancestor(child, parent) or parent is child:
            return
        child.parent = parent
        parent.children.append(child)

    for i, c in enumerate(msgs):
        mids = _MSGID.findall(c.header("message-id"))
        mid = mids[0] if mids else ""
        if not mid or (mid in table and table[mid].msg is not None):
            mid = f"<dummy-{i}@gw>"
        node = node_for(mid)
        node.msg = c
        refs = _MSGID.findall(c.header("references"))
        if not refs:
            refs = _MSGID.findall(c.header("in-reply-to"))[:1]
        prev: _Node | None = None
        for ref in refs:
            n = node_for(ref)
            if prev is not None:
                link(prev, n)
            prev = n
        if prev is not None and prev is not node:
            if node.parent is not None:
                node.parent.children.remove(node)
                node.parent = None
            link(prev, node)
    roots = [n for n in table.values() if n.parent is None]

    def prune(nodes: list[_Node], at_root: bool) -> list[_Node]:
        out: list[_Node] = []
        for n in nodes:
            n.children = prune(n.children, False)
            if n.msg is None:
                if not n.children:
                    continue
                if not at_root or len(n.children) == 1:
                    for ch in n.children:
                        ch.parent = n.parent
                    out.extend(n.children)
                    continue
            out.append(n)
        return out

    roots = prune(roots, True)
    # group roots by base subject (RFC 5256 3 step 5)
    subjects: dict[str, _Node] = {}
    final: list[_Node] = []
    for r in roots:
        msg = r.msg if r.msg is not None else (r.children[0].msg if r.children else None)
        subj = base_subject(msg.header("subject")) if msg is not None else ""
        if not subj:
            final.append(r)
            continue
        other = subjects.get(subj)
        if other is None:
            subjects[subj] = r
            final.append(r)
            continue
        if other.msg is None and r.msg is None:
            other.children.extend(r.children)
        elif other.msg is None:
            other.children.append(r)
        elif r.msg is None:
            r.children.append(other)
            final[final.index(other)] = r
            subjects[subj] = r
        else:
            container = _Node(children=[other, r])
            final[final.index(other)] = container
            subjects[subj] = container

    def sent(n: _Node) -> float:
        if n.msg is not None:
            return _date_of(n.msg)
        return min((sent(ch) for ch in n.children), default=0.0)

    def tie(n: _Node) -> int:
        if n.msg is not None:
            return n.msg.msn
        return min((tie(ch) for ch in n.children), default=0)

    def build(n: _Node) -> tuple[int | None, list[Any]]:
        kids = sorted(n.children, key=lambda x: (sent(x), tie(x)))
        return (number(n.msg) if n.msg is not None else None, [build(k) for k in kids])

    return [build(r) for r in sorted(final, key=lambda x: (sent(x), tie(x)))]


def thread_orderedsubject(msgs: Sequence[Candidate],
                          number: Callable[[Candidate], int]) -> list[tuple[int | None,
                                                                           list[Any]]]:
    """RFC 5256 ORDEREDSUBJECT: threads by base subject, each a flat chain by date."""
    groups: dict[str, list[Candidate]] = {}
    for c in msgs:
        groups.setdefault(base_subject(c.header("subject")), []).append(c)
    threads = [sorted(g, key=lambda c: (_date_of(c), c.msn)) for g in groups.values()]
    threads.sort(key=lambda t: (_date_of(t[0]), t[0].msn))
    out: list[tuple[int | None, list[Any]]] = []
    for t in threads:
        first, rest = t[0], t[1:]
        out.append((number(first), [(number(c), []) for c in rest]))
    return out

