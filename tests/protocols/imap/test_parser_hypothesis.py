"""Property tests: commands round-trip through a client-side writer and the parser;
garbage never raises; feeding byte by byte gives the same events as feeding at once."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.imap.commands import (
    Append,
    AppendMessage,
    Command,
    Copy,
    Enable,
    Expunge,
    Fetch,
    Id,
    List,
    Login,
    Move,
    QResync,
    Search,
    Select,
    SetQuota,
    Sort,
    SortCriterion,
    Status,
    Store,
    StoreMode,
    Thread,
)
from protocols.imap.events import (
    IdleDone,
    NeedContinuation,
    ParserLimits,
    ProtocolViolation,
    SaslResponse,
)
from protocols.imap.fetch_items import (
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchSimple,
    Partial,
    Section,
)
from protocols.imap.grammar import STATUS_ITEMS
from protocols.imap.parser import CommandParser
from protocols.imap.search_keys import (
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
from protocols.imap.sequence import SeqRange, SequenceSet

from .command_writer import Writer
from .helpers import events, events_bytewise

ATOM_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$&'+,/:;<=>?@^`|~"
)
atoms = st.text(ATOM_ALPHABET, min_size=1, max_size=12)
tags = st.text(ATOM_ALPHABET.replace("+", ""), min_size=1, max_size=8).map(str.encode)
nz = st.integers(1, 2**32 - 1)
modseq = st.integers(0, 2**63 - 1)
strings = st.binary(max_size=30).filter(lambda b: b"\x00" not in b)
mailboxes = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12).filter(
    lambda s: s.upper() != "INBOX"
)
seq_values = st.one_of(st.none(), nz)
seqsets = st.one_of(
    st.just(SequenceSet(saved=True)),
    st.lists(st.builds(SeqRange, seq_values, seq_values), min_size=1, max_size=5).map(
        lambda r: SequenceSet(tuple(r))
    ),
)
static_seqsets = st.lists(st.builds(SeqRange, nz, nz), min_size=1, max_size=4).map(
    lambda r: SequenceSet(tuple(r))
)
keywords = atoms.filter(lambda a: a.upper() != "NIL")
flags = st.one_of(
    st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]), keywords
)
flag_lists = st.lists(flags, max_size=4).map(tuple)
dates = st.dates(datetime.date(1900, 1, 1), datetime.date(2200, 12, 31))
field_names = st.text(
    "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ':(){%*"\\]'), min_size=1,
    max_size=10,
)

leaf_keys: st.SearchStrategy[SearchKey] = st.one_of(
    st.just(SearchAll()),
    st.builds(SearchSequence, seqsets, st.booleans()),
    st.builds(SearchFlag, flags, st.booleans()),
    st.builds(SearchRecent, st.sampled_from(["NEW", "OLD", "RECENT"])),
    st.builds(SearchText, st.sampled_from(["BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"]),
              strings),
    st.builds(SearchHeader, field_names, strings),
    st.builds(SearchDate, st.sampled_from(["BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON",
                                           "SENTSINCE"]), dates),
    st.builds(SearchSize, st.sampled_from(["LARGER", "SMALLER"]), modseq),
    st.builds(SearchWithin, st.sampled_from(["OLDER", "YOUNGER"]), nz),
    st.builds(SearchModSeq, modseq),
    st.builds(SearchModSeq, modseq, strings.filter(bool),
              st.sampled_from(["PRIV", "SHARED", "ALL"])),
)
search_keys = st.recursive(
    leaf_keys,
    lambda inner: st.one_of(
        st.builds(SearchNot, inner),
        st.builds(SearchOr, inner, inner),
        st.lists(inner, min_size=1, max_size=3).map(lambda k: SearchAnd(tuple(k))),
    ),
    max_leaves=8,
)

parts = st.lists(st.integers(1, 50), max_size=3).map(tuple)
partials = st.one_of(st.none(), st.builds(Partial, st.integers(0, 10**6), st.integers(1, 10**6)))
sections = st.one_of(
    parts.map(Section),
    st.builds(Section, parts, st.sampled_from(["HEADER", "TEXT"])),
    st.builds(Section, parts.filter(bool), st.just("MIME")),
    st.builds(Section, parts, st.sampled_from(["HEADER.FIELDS", "HEADER.FIELDS.NOT"]),
              st.lists(field_names, min_size=1, max_size=3).map(tuple)),
)
fetch_items = st.one_of(
    st.sampled_from(["ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER",
                     "RFC822.SIZE", "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ"]
                    ).map(FetchSimple),
    st.builds(FetchBody, sections, partials, st.booleans()),
    st.builds(FetchBinary, parts, partials, st.booleans()),
    st.builds(FetchBinarySize, parts),
)


@st.composite
def fetches(draw: st.DrawFn, tag: bytes) -> Fetch:
    uid = draw(st.booleans())
    changed = draw(st.one_of(st.none(), modseq))
    vanished = uid and changed is not None and draw(st.booleans())
    items = tuple(draw(st.lists(fetch_items, min_size=1, max_size=5)))
    return Fetch(tag, uid, draw(seqsets), items, changed, vanished)


@st.composite
def commands(draw: st.DrawFn) -> Command:
    tag = draw(tags)
    kind = draw(st.integers(0, 15))
    if kind == 0:
        return Login(tag, draw(strings), draw(strings))
    if kind == 1:
        q = None
        if draw(st.booleans()):
            known = draw(st.one_of(st.none(), static_seqsets))
            match = draw(st.one_of(st.none(), st.tuples(static_seqsets, static_seqsets)))
            q = QResync(draw(nz), draw(modseq), known, *(match or (None, None)))
        return Select(tag, draw(mailboxes), draw(st.booleans()), q)
    if kind == 2:
        items = draw(st.lists(st.sampled_from(sorted(STATUS_ITEMS)), min_size=1, max_size=4,
                              unique=True))
        return Status(tag, draw(mailboxes), tuple(items))
    if kind == 3:
        status = draw(st.one_of(st.none(), st.lists(st.sampled_from(sorted(STATUS_ITEMS)),
                                                    min_size=1, max_size=3, unique=True)))
        opts = draw(st.lists(st.sampled_from(["SUBSCRIBED", "CHILDREN", "SPECIAL-USE"]),
                             unique=True))
        if status is not None:
            opts.append("STATUS")
        selection = draw(st.lists(st.sampled_from(["SUBSCRIBED", "REMOTE", "SPECIAL-USE"]),
                                  unique=True))
        return List(tag, draw(mailboxes), tuple(draw(st.lists(mailboxes, min_size=1,
                                                              max_size=3))),
                    tuple(selection), tuple(opts), None if status is None else tuple(status),
                    True)
    if kind == 4:
        msgs = draw(st.lists(st.builds(
            lambda data, fl, binary, utf8: AppendMessage(
                data if (binary or utf8) else data.replace(b"\x00", b""), fl, None,
                binary or utf8, utf8),
            st.binary(max_size=40), flag_lists, st.booleans(), st.booleans()),
            min_size=1, max_size=3))
        return Append(tag, draw(mailboxes), tuple(msgs))
    if kind == 5:
        return Expunge(tag, True, draw(seqsets))
    if kind == 6:
        return Search(tag, draw(st.booleans()), draw(search_keys),
                      draw(st.one_of(st.none(), st.sampled_from(["UTF-8", "US-ASCII"]))),
                      draw(st.one_of(st.none(), st.lists(
                          st.sampled_from(["MIN", "MAX", "ALL", "COUNT", "SAVE"]),
                          unique=True).map(tuple))))
    if kind == 7:
        return draw(fetches(tag))
    if kind == 8:
        return Store(tag, draw(st.booleans()), draw(seqsets), draw(st.sampled_from(StoreMode)),
                     draw(st.booleans()), draw(flag_lists), draw(st.one_of(st.none(), modseq)))
    if kind == 9:
        return Copy(tag, draw(st.booleans()), draw(seqsets), draw(mailboxes))
    if kind == 10:
        return Move(tag, draw(st.booleans()), draw(seqsets), draw(mailboxes))
    if kind == 11:
        pairs = draw(st.one_of(st.none(), st.lists(st.tuples(
            st.text("abcdefgh-", max_size=10),
            st.one_of(st.none(), st.text("abc def", max_size=20))), max_size=5).map(tuple)))
        return Id(tag, pairs)
    if kind == 12:
        return Enable(tag, tuple(draw(st.lists(atoms.map(str.upper), min_size=1, max_size=3))))
    if kind == 13:
        return SetQuota(tag, draw(strings), tuple(draw(st.lists(
            st.tuples(atoms.map(str.upper).filter(lambda a: a != "NIL"), modseq), max_size=3))))
    if kind == 14:
        crit = draw(st.lists(st.builds(SortCriterion, st.sampled_from(
            ["ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM"]),
            st.booleans()), min_size=1, max_size=3))
        return Sort(tag, draw(st.booleans()), tuple(crit), "UTF-8", draw(search_keys))
    return Thread(tag, draw(st.booleans()), draw(st.sampled_from(["REFERENCES", "ORDEREDSUBJECT"])),
                  "UTF-8", draw(search_keys))


styles = st.sampled_from(["atom", "quoted", "sync", "nonsync"])


@settings(max_examples=200, deadline=None)
@given(commands(), st.randoms(use_true_random=False), st.data())
def test_commands_round_trip(command: Command, rnd: object, data: st.DataObject) -> None:
    style = data.draw(styles)
    writer = Writer(lambda _value: style)
    wire = writer.command(command)
    got = [e for e in events(wire) if not isinstance(e, NeedContinuation)]
    assert got == [command], wire
    assert events_bytewise(wire) == events(wire)


_EVENT_TYPES = (Command, NeedContinuation, ProtocolViolation, SaslResponse, IdleDone)
_SMALL = {"max_line": 64, "max_literal": 100, "max_string_literal": 50, "max_depth": 5,
          "max_args": 20}

garbage = st.lists(
    st.one_of(
        st.binary(max_size=30),
        st.sampled_from([b"\r\n", b"{5}\r\n", b"{3+}\r\n", b"~{2}\r\n", b"a ", b"(", b")",
                         b'"', b"UID FETCH 1:* ", b"BODY[", b"SEARCH NOT ", b"{999999}\r\n"]),
    ),
    max_size=20,
).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(garbage)
def test_garbage_gives_events_not_exceptions(data: bytes) -> None:
    got = events(data, **_SMALL)
    assert all(isinstance(e, _EVENT_TYPES) for e in got)


@settings(max_examples=200, deadline=None)
@given(garbage)
def test_byte_at_a_time_feeding_gives_the_same_events(data: bytes) -> None:
    assert events_bytewise(data, **_SMALL) == events(data, **_SMALL)


@settings(max_examples=100, deadline=None)
@given(garbage, st.integers(1, 7))
def test_chunked_feeding_gives_the_same_events(data: bytes, size: int) -> None:
    parser = CommandParser(ParserLimits(**_SMALL))  # type: ignore[arg-type]
    got = []
    for i in range(0, len(data), size):
        parser.feed(data[i : i + size])
        while (e := parser.next_event()) is not None:
            got.append(e)
    assert got == events(data, **_SMALL)
