"""Client-side serialisation of command objects, for round-trip tests of the parser.

Written separately from the parser (it follows the RFC grammar, not the parser's
code), and it lets the test choose how each string goes on the wire: atom, quoted
string, synchronising or non-synchronising literal.
"""

from __future__ import annotations

from collections.abc import Callable

from protocols.imap.commands import (
    Append,
    Command,
    Copy,
    Enable,
    Expunge,
    Fetch,
    Id,
    List,
    Login,
    Move,
    Search,
    Select,
    SetQuota,
    Sort,
    Status,
    Store,
    Thread,
)
from protocols.imap.fetch_items import FetchBinary, FetchBinarySize, FetchBody, FetchSimple
from protocols.imap.mutf7 import encode_mutf7
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

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_ATOM_SPECIALS = set(b'(){ %*"\\]')

StringStyle = Callable[[bytes], str]  # returns "atom", "quoted", "sync" or "nonsync"


class Writer:
    def __init__(self, style: StringStyle) -> None:
        self.style = style

    def string(self, value: bytes, *, astring: bool = False) -> bytes:
        kind = self.style(value)
        atom_ok = (
            astring
            and value
            and value.upper() != b"NIL"
            and all(0x20 < b < 0x7F and b not in _ATOM_SPECIALS for b in value)
        )
        quoted_ok = all(b not in (0, 10, 13) for b in value)
        if kind == "atom" and atom_ok:
            return value
        if kind in ("atom", "quoted") and quoted_ok:
            return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        plus = b"+" if kind == "nonsync" else b""
        return b"{%d%s}\r\n" % (len(value), plus) + value

    def mailbox(self, name: str) -> bytes:
        return self.string(encode_mutf7(name), astring=True)

    def seq(self, s: object) -> bytes:
        return s.to_bytes()  # type: ignore[attr-defined,no-any-return]

    def flags(self, flags: tuple[str, ...]) -> bytes:
        return b"(" + " ".join(flags).encode() + b")"

    def date(self, d: object) -> bytes:
        return f"{d.day}-{MONTHS[d.month - 1]}-{d.year:04d}".encode()  # type: ignore[attr-defined]

    def search(self, key: SearchKey) -> bytes:
        if isinstance(key, SearchAll):
            return b"ALL"
        if isinstance(key, SearchSequence):
            return (b"UID " if key.uid else b"") + self.seq(key.sequence)
        if isinstance(key, SearchFlag):
            names = {"\\Answered": "ANSWERED", "\\Deleted": "DELETED", "\\Draft": "DRAFT",
                     "\\Flagged": "FLAGGED", "\\Seen": "SEEN"}
            if key.flag in names:
                return (("" if key.present else "UN") + names[key.flag]).encode()
            return (b"KEYWORD " if key.present else b"UNKEYWORD ") + key.flag.encode()
        if isinstance(key, SearchRecent):
            return key.kind.encode()
        if isinstance(key, SearchText):
            return key.field.encode() + b" " + self.string(key.value, astring=True)
        if isinstance(key, SearchHeader):
            return (b"HEADER " + self.string(key.field.encode(), astring=True) + b" "
                    + self.string(key.value, astring=True))
        if isinstance(key, SearchDate):
            return key.op.encode() + b" " + self.date(key.date)
        if isinstance(key, SearchSize):
            return key.op.encode() + b" %d" % key.size
        if isinstance(key, SearchWithin):
            return key.op.encode() + b" %d" % key.seconds
        if isinstance(key, SearchModSeq):
            entry = b""
            if key.entry_name is not None:
                entry = self.string(key.entry_name) + b" " + str(key.entry_type).encode() + b" "
            return b"MODSEQ " + entry + b"%d" % key.modseq
        if isinstance(key, SearchNot):
            return b"NOT " + self.search(key.key)
        if isinstance(key, SearchOr):
            return b"OR " + self.search(key.left) + b" " + self.search(key.right)
        if isinstance(key, SearchAnd):
            return b"(" + b" ".join(self.search(k) for k in key.keys) + b")"
        raise TypeError(key)

    def fetch_item(self, item: object) -> bytes:
        if isinstance(item, FetchSimple):
            return item.name.encode()
        if isinstance(item, FetchBody):
            name = b"BODY.PEEK[" if item.peek else b"BODY["
            out = name + item.section.to_bytes() + b"]"
        elif isinstance(item, FetchBinary):
            name = b"BINARY.PEEK[" if item.peek else b"BINARY["
            out = name + ".".join(map(str, item.part)).encode() + b"]"
        elif isinstance(item, FetchBinarySize):
            return b"BINARY.SIZE[" + ".".join(map(str, item.part)).encode() + b"]"
        else:
            raise TypeError(item)
        if item.partial is not None:
            out += b"<%d.%d>" % (item.partial.offset, item.partial.length)
        return out

    def command(self, cmd: Command) -> bytes:
        head = cmd.tag + b" " + cmd.name.encode()
        body = self._args(cmd)
        return head + (b" " + body if body else b"") + b"\r\n"

    def _args(self, cmd: Command) -> bytes:
        if isinstance(cmd, Login):
            return self.string(cmd.username, astring=True) + b" " + self.string(
                cmd.password, astring=True)
        if isinstance(cmd, Select):
            out = self.mailbox(cmd.mailbox)
            params = []
            if cmd.condstore:
                params.append(b"CONDSTORE")
            if cmd.qresync is not None:
                q = cmd.qresync
                inner = b"%d %d" % (q.uidvalidity, q.modseq)
                if q.known_uids is not None:
                    inner += b" " + self.seq(q.known_uids)
                if q.known_sequence_set is not None:
                    inner += (b" (" + self.seq(q.known_sequence_set) + b" "
                              + self.seq(q.known_uid_set) + b")")
                params.append(b"QRESYNC (" + inner + b")")
            return out + (b" (" + b" ".join(params) + b")" if params else b"")
        if isinstance(cmd, Status):
            return self.mailbox(cmd.mailbox) + b" (" + " ".join(cmd.items).encode() + b")"
        if isinstance(cmd, List):
            out = b""
            if cmd.selection or cmd.extended:
                out += b"(" + " ".join(cmd.selection).encode() + b") "
            out += self.string(encode_mutf7(cmd.reference), astring=True) + b" "
            out += b"(" + b" ".join(self.string(encode_mutf7(p)) for p in cmd.patterns) + b")"
            opts = [o.encode() for o in cmd.return_options if o != "STATUS"]
            if cmd.return_status is not None:
                opts.append(b"STATUS (" + " ".join(cmd.return_status).encode() + b")")
            return out + b" RETURN (" + b" ".join(opts) + b")"
        if isinstance(cmd, Append):
            out = self.mailbox(cmd.mailbox)
            for m in cmd.messages:
                out += b" "
                if m.flags:
                    out += self.flags(m.flags) + b" "
                marker = b"~{%d+}\r\n" if m.binary else b"{%d+}\r\n"
                data = marker % len(m.data) + m.data
                out += b"UTF8 (" + data + b")" if m.utf8 else data
            return out
        if isinstance(cmd, Expunge):
            return self.seq(cmd.uid_set) if cmd.uid_set is not None else b""
        if isinstance(cmd, Search):
            out = b""
            if cmd.return_options is not None:
                out += b"RETURN (" + " ".join(cmd.return_options).encode() + b") "
            if cmd.charset is not None:
                out += b"CHARSET " + cmd.charset.encode() + b" "
            assert cmd.criteria is not None
            key = cmd.criteria
            if isinstance(key, SearchAnd) and len(key.keys) > 1:
                return out + b" ".join(self.search(k) for k in key.keys)
            return out + self.search(key)
        if isinstance(cmd, Fetch):
            out = self.seq(cmd.sequence) + b" (" + b" ".join(
                self.fetch_item(i) for i in cmd.items) + b")"
            mods = []
            if cmd.changed_since is not None:
                mods.append(b"CHANGEDSINCE %d" % cmd.changed_since)
            if cmd.vanished:
                mods.append(b"VANISHED")
            return out + (b" (" + b" ".join(mods) + b")" if mods else b"")
        if isinstance(cmd, Store):
            out = self.seq(cmd.sequence) + b" "
            if cmd.unchanged_since is not None:
                out += b"(UNCHANGEDSINCE %d) " % cmd.unchanged_since
            out += cmd.mode.value.encode() + b"FLAGS" + (b".SILENT" if cmd.silent else b"")
            return out + b" " + self.flags(cmd.flags)
        if isinstance(cmd, Copy | Move):
            return self.seq(cmd.sequence) + b" " + self.mailbox(cmd.mailbox)
        if isinstance(cmd, Id):
            if cmd.params is None:
                return b"NIL"
            return b"(" + b" ".join(
                self.string(k.encode()) + b" " + (b"NIL" if v is None else self.string(v.encode()))
                for k, v in cmd.params) + b")"
        if isinstance(cmd, Enable):
            return " ".join(cmd.capabilities).encode()
        if isinstance(cmd, SetQuota):
            return self.string(cmd.root, astring=True) + b" (" + b" ".join(
                k.encode() + b" %d" % v for k, v in cmd.limits) + b")"
        if isinstance(cmd, Sort):
            crit = b" ".join((b"REVERSE " if c.reverse else b"") + c.key.encode()
                             for c in cmd.criteria)
            assert cmd.search is not None
            return b"(" + crit + b") " + cmd.charset.encode() + b" " + self.search(cmd.search)
        if isinstance(cmd, Thread):
            assert cmd.search is not None
            return (cmd.algorithm.encode() + b" " + cmd.charset.encode() + b" "
                    + self.search(cmd.search))
        return b""
