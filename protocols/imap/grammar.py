"""Command grammar: one parse function per command (RFC 9051 9 and the extensions).

Each function starts with the cursor just after the command name and leaves it at the
end of the command; :func:`parse_command` checks nothing is left over.  Unknown options
are errors (RFC 4466 2.1: a server must reject parameters it does not understand).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

from .commands import (
    Append,
    AppendMessage,
    Authenticate,
    Capability,
    Check,
    Close,
    Command,
    Compress,
    Copy,
    Create,
    Delete,
    Enable,
    Examine,
    Expunge,
    Fetch,
    GetQuota,
    GetQuotaRoot,
    Id,
    Idle,
    List,
    Login,
    Logout,
    Lsub,
    Move,
    Namespace,
    Noop,
    QResync,
    Rename,
    Search,
    Select,
    SetQuota,
    Sort,
    SortCriterion,
    StartTLS,
    Status,
    Store,
    StoreMode,
    Subscribe,
    Thread,
    Unselect,
    Unsubscribe,
)
from .fetch_items import (
    MACROS,
    SIMPLE_ITEMS,
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchItem,
    FetchSimple,
    Partial,
    Section,
)
from .mutf7 import MailboxNameError, decode_mailbox_name
from .reader import MAX_NUMBER64, Reader
from .search_grammar import parse_charset, parse_search_keys, parse_search_return

__all__ = ["STATUS_ITEMS", "UID_COMMANDS", "parse_command"]

STATUS_ITEMS = frozenset(
    {
        "MESSAGES",
        "RECENT",
        "UIDNEXT",
        "UIDVALIDITY",
        "UNSEEN",
        "DELETED",
        "SIZE",
        "HIGHESTMODSEQ",
        "APPENDLIMIT",
        "MAILBOXID",
    }
)
LIST_SELECTION = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
LIST_RETURN = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})
SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
UID_COMMANDS = frozenset({"COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE", "SORT", "THREAD"})

Parser = Callable[[Reader, bytes, bool], Command]


def parse_command(r: Reader) -> Command:
    """Parse a whole command: ``tag SP [UID SP] name [args]``."""
    tag = r.tag()
    r.sp()
    name = r.keyword("command name")
    uid = False
    if name == "UID":
        r.sp()
        name = r.keyword("command name")
        if name not in UID_COMMANDS:
            raise r.fail(f"UID {name} is not a command")
        uid = True
    parse = _PARSERS.get(name)
    if parse is None:
        raise r.fail(f"unknown command {name}")
    command = parse(r, tag, uid)
    r.end()
    return command


def _no_args(cls: type[Command]) -> Parser:
    def parse(r: Reader, tag: bytes, uid: bool) -> Command:
        return cls(tag)

    return parse


# --- any / not-authenticated state ---------------------------------------------------


def _authenticate(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    mechanism = r.keyword("SASL mechanism")
    initial: bytes | None = None
    if r.maybe_sp():
        raw = r.atom("initial response")
        initial = b"" if raw == b"=" else decode_base64(r, raw)
    return Authenticate(tag, mechanism, initial)


def decode_base64(r: Reader, raw: bytes) -> bytes:
    try:
        return binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error as exc:
        raise r.fail("invalid base64") from exc


def _login(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    user = r.astring("user name")
    r.sp()
    password = r.astring("password")
    return Login(tag, user, password)


def _enable(r: Reader, tag: bytes, uid: bool) -> Command:
    caps = []
    r.sp()
    while True:
        r.count()
        caps.append(r.keyword("capability"))
        if not r.maybe_sp():
            break
    return Enable(tag, tuple(caps))


def _compress(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    return Compress(tag, r.keyword("compression mechanism"))


def _id(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()

    def pairs() -> tuple[tuple[str, str | None], ...]:
        r.expect(b"(")
        r.enter()
        out: list[tuple[str, str | None]] = []
        if not r.peek_is(b")"):
            while True:
                r.count()
                key = r.string()
                r.sp()
                value = r.nstring()
                if len(key) > 30 or (value is not None and len(value) > 1024):
                    raise r.fail("ID field or value too long (RFC 2971 3.3)")
                out.append(
                    (
                        key.decode("utf-8", "replace"),
                        None if value is None else value.decode("utf-8", "replace"),
                    )
                )
                if not r.maybe_sp():
                    break
        r.expect(b")")
        r.leave()
        if len(out) > 30:
            raise r.fail("too many ID fields (RFC 2971 3.3)")
        return tuple(out)

    return Id(tag, r.nil_or(pairs))


# --- authenticated state ------------------------------------------------------------


def _select(r: Reader, tag: bytes, uid: bool, cls: type[Select]) -> Command:
    r.sp()
    mailbox = r.mailbox()
    condstore = False
    qresync: QResync | None = None
    if r.maybe_sp():
        r.expect(b"(")
        r.enter()
        while True:
            r.count()
            param = r.keyword("select parameter")
            if param == "CONDSTORE":
                condstore = True
            elif param == "QRESYNC":
                r.sp()
                qresync = _qresync(r)
            else:
                raise r.fail(f"unknown select parameter {param}")
            if not r.maybe_sp():
                break
        r.expect(b")")
        r.leave()
    return cls(tag, mailbox, condstore, qresync)


def _qresync(r: Reader) -> QResync:
    r.expect(b"(")
    r.enter()
    uidvalidity = r.number(nonzero=True)
    r.sp()
    modseq = r.number64()
    known_uids = seq_match_seq = seq_match_uids = None
    if r.maybe_sp():
        if not r.peek_is(b"("):
            known_uids = r.sequence_set(allow_saved=False)
            if r.maybe_sp():
                r.expect(b"(", "sequence match data")
            else:
                r.expect(b")")
                r.leave()
                return QResync(uidvalidity, modseq, known_uids)
        else:
            r.expect(b"(")
        seq_match_seq = r.sequence_set(allow_saved=False)
        r.sp()
        seq_match_uids = r.sequence_set(allow_saved=False)
        r.expect(b")")
    r.expect(b")")
    r.leave()
    return QResync(uidvalidity, modseq, known_uids, seq_match_seq, seq_match_uids)


def _create(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    mailbox = r.mailbox()
    uses: tuple[str, ...] = ()
    if r.maybe_sp():
        r.expect(b"(")
        r.enter()
        param = r.keyword("create parameter")
        if param != "USE":
            raise r.fail(f"unknown create parameter {param}")
        r.sp()
        uses = r.flag_list()
        r.expect(b")")
        r.leave()
    return Create(tag, mailbox, uses)


def _mailbox_cmd(cls: type[Delete] | type[Subscribe] | type[Unsubscribe]) -> Parser:
    def parse(r: Reader, tag: bytes, uid: bool) -> Command:
        r.sp()
        return cls(tag, r.mailbox())

    return parse


def _rename(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    old = r.mailbox()
    r.sp()
    return Rename(tag, old, r.mailbox())


def _reference(r: Reader) -> str:
    raw = r.astring("reference")
    try:
        return decode_mailbox_name(raw, utf8=r.utf8)
    except MailboxNameError as exc:
        raise r.fail(f"invalid reference name: {exc}") from exc


def _list(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    extended = False
    selection: tuple[str, ...] = ()
    if r.peek_is(b"("):
        extended = True
        selection = tuple(dict.fromkeys(r.paren_list(r.keyword)))
        for option in selection:
            if option not in LIST_SELECTION:
                raise r.fail(f"unknown LIST selection option {option}")
        if "RECURSIVEMATCH" in selection and not {"SUBSCRIBED", "SPECIAL-USE"} & set(
            selection
        ):
            raise r.fail("RECURSIVEMATCH needs a base selection option")
        r.sp()
    reference = _reference(r)
    r.sp()
    if r.peek_is(b"("):
        extended = True
        patterns = tuple(r.paren_list(r.list_mailbox, allow_empty=False))
    else:
        patterns = (r.list_mailbox(),)
    options: list[str] = []
    status: tuple[str, ...] | None = None
    if r.maybe_sp():
        extended = True
        if r.keyword("RETURN") != "RETURN":
            raise r.fail("expected RETURN")
        r.sp()

        def return_option() -> str:
            nonlocal status
            name = r.keyword("return option")
            if name not in LIST_RETURN:
                raise r.fail(f"unknown LIST return option {name}")
            if name == "STATUS":
                r.sp()
                status = _status_items(r)
            return name

        options = r.paren_list(return_option)
    return List(tag, reference, patterns, selection, tuple(dict.fromkeys(options)), status,
                extended)


def _lsub(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    reference = _reference(r)
    r.sp()
    return Lsub(tag, reference, r.list_mailbox())


def _status_items(r: Reader) -> tuple[str, ...]:
    items = r.paren_list(r.keyword, allow_empty=False)
    for item in items:
        if item not in STATUS_ITEMS:
            raise r.fail(f"unknown status item {item}")
    return tuple(dict.fromkeys(items))


def _status(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return Status(tag, mailbox, _status_items(r))


def _append(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    mailbox = r.mailbox()
    messages: list[AppendMessage] = []
    while True:
        r.sp()
        r.count()
        flags: tuple[str, ...] = ()
        if r.peek_is(b"("):
            flags = r.flag_list()
            r.sp()
        date = None
        if r.peek_is(b'"'):
            date = r.date_time()
            r.sp()
        if r.text[r.pos : r.pos + 5].upper() == b"UTF8 ":
            r.pos += 5
            r.expect(b"(")
            data, _ = r.literal(allow_binary=True, message=True)
            r.expect(b")")
            messages.append(AppendMessage(data, flags, date, binary=True, utf8=True))
        else:
            data, binary = r.literal(allow_binary=True, message=True)
            messages.append(AppendMessage(data, flags, date, binary=binary))
        if not r.peek_is(b" "):
            break
    return Append(tag, mailbox, tuple(messages))


def _getquota(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    return GetQuota(tag, r.astring("quota root"))


def _getquotaroot(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    return GetQuotaRoot(tag, r.mailbox())


def _setquota(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    root = r.astring("quota root")
    r.sp()
    r.expect(b"(")
    r.enter()
    limits: list[tuple[str, int]] = []
    if not r.peek_is(b")"):
        while True:
            r.count()
            resource = r.keyword("quota resource")
            r.sp()
            limits.append((resource, r.number64()))
            if not r.maybe_sp():
                break
    r.expect(b")")
    r.leave()
    return SetQuota(tag, root, tuple(limits))


# --- selected state ---------------------------------------------------------------


def _expunge(r: Reader, tag: bytes, uid: bool) -> Command:
    if not uid:
        return Expunge(tag)
    r.sp()
    return Expunge(tag, uid=True, uid_set=r.sequence_set())


def _search(r: Reader, tag: bytes, uid: bool) -> Command:
    options = parse_search_return(r)
    r.sp()
    charset = None
    if r.text[r.pos : r.pos + 8].upper() == b"CHARSET ":
        r.pos += 8
        charset = parse_charset(r)
        r.sp()
    return Search(tag, uid, parse_search_keys(r), charset, options)


def _sort(r: Reader, tag: bytes, uid: bool) -> Command:
    options = parse_search_return(r)
    r.sp()

    def criterion() -> SortCriterion:
        key = r.keyword("sort key")
        reverse = key == "REVERSE"
        if reverse:
            r.sp()
            key = r.keyword("sort key")
        if key not in SORT_KEYS:
            raise r.fail(f"unknown sort key {key}")
        return SortCriterion(key, reverse)

    criteria = tuple(r.paren_list(criterion, allow_empty=False))
    r.sp()
    charset = parse_charset(r)
    r.sp()
    return Sort(tag, uid, criteria, charset, parse_search_keys(r), options)


def _thread(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    algorithm = r.keyword("thread algorithm")
    r.sp()
    charset = parse_charset(r)
    r.sp()
    return Thread(tag, uid, algorithm, charset, parse_search_keys(r))


def _fetch(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    sequence = r.sequence_set()
    r.sp()
    items: tuple[FetchItem, ...]
    if r.peek_is(b"("):
        items = tuple(r.paren_list(lambda: _fetch_att(r), allow_empty=False))
    else:
        name = _fetch_name(r)
        if name in MACROS:
            items = tuple(FetchSimple(n) for n in MACROS[name])
        else:
            items = (_fetch_att(r, name),)
    changed_since: int | None = None
    vanished = False
    if r.maybe_sp():
        r.expect(b"(")
        r.enter()
        while True:
            r.count()
            modifier = r.keyword("fetch modifier")
            if modifier == "CHANGEDSINCE":
                r.sp()
                changed_since = r.number64()
            elif modifier == "VANISHED":
                vanished = True
            else:
                raise r.fail(f"unknown fetch modifier {modifier}")
            if not r.maybe_sp():
                break
        r.expect(b")")
        r.leave()
        if vanished and (not uid or changed_since is None):
            raise r.fail("VANISHED needs UID FETCH and CHANGEDSINCE (RFC 7162 3.2.6)")
    return Fetch(tag, uid, sequence, items, changed_since, vanished)


def _fetch_name(r: Reader) -> str:
    start = r.pos
    text = r.text
    while r.pos < len(text) and (chr(text[r.pos]).isalnum() or text[r.pos] == 0x2E):
        r.pos += 1
    if r.pos == start:
        raise r.fail("expected fetch attribute")
    return text[start : r.pos].decode("ascii").upper()


def _fetch_att(r: Reader, name: str | None = None) -> FetchItem:
    if name is None:
        name = _fetch_name(r)
    if r.peek_is(b"["):
        if name in ("BODY", "BODY.PEEK"):
            section = _section(r)
            return FetchBody(section, _partial(r), peek=name == "BODY.PEEK")
        if name in ("BINARY", "BINARY.PEEK"):
            part = _section_binary(r)
            return FetchBinary(part, _partial(r), peek=name == "BINARY.PEEK")
        if name == "BINARY.SIZE":
            return FetchBinarySize(_section_binary(r))
        raise r.fail(f"{name} takes no section")
    if name in SIMPLE_ITEMS:
        return FetchSimple(name)
    if name in MACROS:
        raise r.fail(f"{name} is a macro and must be used alone")
    raise r.fail(f"unknown fetch attribute {name}")


def _part_numbers(r: Reader) -> list[int]:
    parts = [r.number(nonzero=True)]
    while r.peek_is(b".") and 0x30 <= (r.text[r.pos + 1 : r.pos + 2] or b"x")[0] <= 0x39:
        r.pos += 1
        parts.append(r.number(nonzero=True))
    if len(parts) > r.limits.max_depth:
        raise r.fail("section part path too deep")
    return parts


def _section(r: Reader) -> Section:
    r.expect(b"[")
    if r.peek_is(b"]"):
        r.pos += 1
        return Section()
    part: list[int] = []
    if 0x30 <= (r.peek() or 0) <= 0x39:
        part = _part_numbers(r)
        if r.peek_is(b"]"):
            r.pos += 1
            return Section(tuple(part))
        r.expect(b".")
    text = _fetch_name(r)
    fields: tuple[str, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        r.sp()

        def field_name() -> str:
            raw = r.astring("header field name")
            if any(not 0x21 <= b <= 0x7E or b == 0x3A for b in raw):
                raise r.fail("invalid header field name")
            return raw.decode("ascii")

        fields = tuple(r.paren_list(field_name, allow_empty=False))
    elif text == "MIME":
        if not part:
            raise r.fail("MIME needs a part number")
    elif text not in ("HEADER", "TEXT"):
        raise r.fail(f"invalid section {text}")
    r.expect(b"]")
    return Section(tuple(part), text, fields)


def _section_binary(r: Reader) -> tuple[int, ...]:
    r.expect(b"[")
    part: list[int] = []
    if not r.peek_is(b"]"):
        part = _part_numbers(r)
    r.expect(b"]")
    return tuple(part)


def _partial(r: Reader) -> Partial | None:
    if not r.peek_is(b"<"):
        return None
    r.pos += 1
    offset = r.number64()
    r.expect(b".")
    length = r.number64(nonzero=True)
    r.expect(b">")
    if offset + length > MAX_NUMBER64:
        raise r.fail("partial range out of bounds")
    return Partial(offset, length)


def _store(r: Reader, tag: bytes, uid: bool) -> Command:
    r.sp()
    sequence = r.sequence_set()
    r.sp()
    unchanged_since: int | None = None
    if r.peek_is(b"("):
        r.expect(b"(")
        r.enter()
        modifier = r.keyword("store modifier")
        if modifier != "UNCHANGEDSINCE":
            raise r.fail(f"unknown store modifier {modifier}")
        r.sp()
        unchanged_since = r.number64()
        r.expect(b")")
        r.leave()
        r.sp()
    mode = StoreMode.REPLACE
    if r.peek_is(b"+"):
        mode = StoreMode.ADD
        r.pos += 1
    elif r.peek_is(b"-"):
        mode = StoreMode.REMOVE
        r.pos += 1
    item = r.keyword("store item")
    if item not in ("FLAGS", "FLAGS.SILENT"):
        raise r.fail(f"unknown store item {item}")
    r.sp()
    flags = r.flags_or_list()
    return Store(tag, uid, sequence, mode, item == "FLAGS.SILENT", flags, unchanged_since)


def _copy_like(cls: type[Copy] | type[Move]) -> Parser:
    def parse(r: Reader, tag: bytes, uid: bool) -> Command:
        r.sp()
        sequence = r.sequence_set()
        r.sp()
        return cls(tag, uid, sequence, r.mailbox())

    return parse


_PARSERS: dict[str, Parser] = {
    "CAPABILITY": _no_args(Capability),
    "NOOP": _no_args(Noop),
    "LOGOUT": _no_args(Logout),
    "STARTTLS": _no_args(StartTLS),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "ENABLE": _enable,
    "COMPRESS": _compress,
    "ID": _id,
    "SELECT": lambda r, tag, uid: _select(r, tag, uid, Select),
    "EXAMINE": lambda r, tag, uid: _select(r, tag, uid, Examine),
    "CREATE": _create,
    "DELETE": _mailbox_cmd(Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _mailbox_cmd(Subscribe),
    "UNSUBSCRIBE": _mailbox_cmd(Unsubscribe),
    "LIST": _list,
    "LSUB": _lsub,
    "NAMESPACE": _no_args(Namespace),
    "STATUS": _status,
    "APPEND": _append,
    "IDLE": _no_args(Idle),
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _getquotaroot,
    "SETQUOTA": _setquota,
    "CHECK": _no_args(Check),
    "CLOSE": _no_args(Close),
    "UNSELECT": _no_args(Unselect),
    "EXPUNGE": _expunge,
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy_like(Copy),
    "MOVE": _copy_like(Move),
    "SORT": _sort,
    "THREAD": _thread,
}
