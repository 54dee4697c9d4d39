"""IMAP response encoding (RFC 9051 7, RFC 3501 7 and the extensions' responses).

Strings are written as atoms, quoted strings or literals as the content requires:
a literal when the value has CR, LF or (before UTF8=ACCEPT) 8-bit bytes, or is long.
FETCH responses are generators of byte chunks so a 50 MB body section is streamed
from storage instead of being built as one string.  Values come in as plain Python
data: ``None`` is NIL, ``int`` a number, ``bytes``/``str`` a string, tuples and lists
parenthesised lists, :class:`Atom` a bare atom.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .mime_structure import Address, Envelope, Part
from .mutf7 import encode_mailbox_name
from .reader import ASTRING_CHAR, MONTHS
from .sequence import format_sequence_set

__all__ = [
    "Atom",
    "BodyData",
    "BodyStructure",
    "Mailbox",
    "ResponseCode",
    "ResponseEncoder",
    "ThreadNode",
    "format_internal_date",
]

CRLF = b"\r\n"
MAX_QUOTED = 1024
"""Longer strings go out as literals (some clients choke on very long quoted strings)."""


class Atom(bytes):
    """Bytes sent as they are: flags, keywords, capability names, sequence sets."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox name: mUTF-7 or UTF-8 per the session, atom when it can be."""

    name: str


@dataclass(frozen=True, slots=True)
class BodyData:
    """A streamed FETCH body section: ``size`` bytes produced by ``chunks``.

    ``binary`` writes ``~{n}`` (literal8, RFC 3516) for BINARY[] content with NULs.
    """

    size: int
    chunks: Iterable[bytes] | bytes
    binary: bool = False


@dataclass(frozen=True, slots=True)
class BodyStructure:
    """BODYSTRUCTURE (``extended``) or BODY of a parsed message tree."""

    part: Part
    extended: bool = True


@dataclass(frozen=True, slots=True)
class ThreadNode:
    """RFC 5256 thread tree node; ``number is None`` for a missing (dummy) parent."""

    number: int | None
    children: tuple[ThreadNode, ...] = ()


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """``[NAME args]`` in a status response; ``args`` already encoded."""

    name: str
    args: bytes = b""

    def to_bytes(self) -> bytes:
        return b"[" + self.name.encode("ascii") + (b" " + self.args if self.args else b"") + b"]"

    # constructors for the codes with arguments --------------------------------------

    @classmethod
    def number(cls, name: str, value: int) -> ResponseCode:
        """UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ, APPENDLIMIT ..."""
        return cls(name, b"%d" % value)

    @classmethod
    def permanent_flags(cls, flags: Iterable[str]) -> ResponseCode:
        return cls("PERMANENTFLAGS", b"(" + b" ".join(f.encode("ascii") for f in flags) + b")")

    @classmethod
    def capability(cls, capabilities: Iterable[str]) -> ResponseCode:
        return cls("CAPABILITY", " ".join(capabilities).encode("ascii"))

    @classmethod
    def append_uid(cls, uidvalidity: int, uids: Iterable[int]) -> ResponseCode:
        """RFC 4315 ``[APPENDUID uidvalidity uid-set]`` (a set for MULTIAPPEND)."""
        return cls("APPENDUID", b"%d " % uidvalidity + format_sequence_set(uids))

    @classmethod
    def copy_uid(
        cls, uidvalidity: int, source: Sequence[int], destination: Sequence[int]
    ) -> ResponseCode:
        """RFC 4315 ``[COPYUID v src dst]``; the two sets correspond element by element."""
        if len(source) != len(destination):
            raise ValueError("COPYUID source and destination sets differ in size")
        return cls(
            "COPYUID",
            b"%d " % uidvalidity
            + format_sequence_set(source, keep_order=True)
            + b" "
            + format_sequence_set(destination, keep_order=True),
        )

    @classmethod
    def modified(cls, numbers: Iterable[int]) -> ResponseCode:
        """RFC 7162 ``[MODIFIED set]`` for a conditional STORE."""
        return cls("MODIFIED", format_sequence_set(numbers))

    @classmethod
    def bad_charset(cls, charsets: Iterable[str] = ()) -> ResponseCode:
        names = list(charsets)
        return cls("BADCHARSET", b"(" + " ".join(names).encode("ascii") + b")" if names else b"")


def format_internal_date(value: datetime.datetime) -> bytes:
    """``"17-Jul-1996 02:44:25 -0700"`` (RFC 9051 ``date-time``, day space-padded)."""
    offset = value.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (
        f'"{value.day:2d}-{MONTHS[value.month - 1]}-{value.year:04d} '
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} "
        f'{sign}{minutes // 60:02d}{minutes % 60:02d}"'
    ).encode("ascii")


class ResponseEncoder:
    """Encodes responses for one session; ``utf8`` once UTF8=ACCEPT/IMAP4rev2 is enabled."""

    def __init__(self, *, utf8: bool = False) -> None:
        self.utf8 = utf8

    # --- strings ---------------------------------------------------------------------

    def string(self, value: bytes | str) -> bytes:
        """``string``: quoted when it can be, else a literal."""
        data = value.encode("utf-8") if isinstance(value, str) else value
        data = data.replace(b"\x00", b"\x80")  # NUL cannot be sent outside literal8
        if len(data) <= MAX_QUOTED and b"\r" not in data and b"\n" not in data:
            eight_bit = any(b >= 0x80 for b in data)
            if not eight_bit or (self.utf8 and _is_utf8(data)):
                return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        return b"{%d}\r\n" % len(data) + data

    def nstring(self, value: bytes | str | None) -> bytes:
        return b"NIL" if value is None else self.string(value)

    def astring(self, value: bytes | str) -> bytes:
        """``astring``: a bare atom when every byte allows it (not ``NIL``)."""
        data = value.encode("utf-8") if isinstance(value, str) else value
        if data and data.upper() != b"NIL" and all(ASTRING_CHAR[b] for b in data):
            return data
        return self.string(data)

    def mailbox(self, name: str) -> bytes:
        return self.astring(encode_mailbox_name(name, utf8=self.utf8))

    def value(self, value: object) -> bytes:
        """Generic encoding of response data (see the module docstring)."""
        return b"".join(self._chunks(value))

    def _chunks(self, value: object) -> Iterator[bytes]:
        if value is None:
            yield b"NIL"
        elif isinstance(value, Atom):
            yield bytes(value)
        elif isinstance(value, bool):
            raise TypeError("booleans have no IMAP encoding")
        elif isinstance(value, int):
            yield b"%d" % value
        elif isinstance(value, bytes | str):
            yield self.string(value)
        elif isinstance(value, Mailbox):
            yield self.mailbox(value.name)
        elif isinstance(value, datetime.datetime):
            yield format_internal_date(value)
        elif isinstance(value, Envelope):
            yield self.envelope(value)
        elif isinstance(value, BodyStructure):
            yield self.body_structure(value.part, extended=value.extended)
        elif isinstance(value, BodyData):
            yield from self._body_data(value)
        elif isinstance(value, tuple | list):
            yield b"("
            for i, item in enumerate(value):
                if i:
                    yield b" "
                yield from self._chunks(item)
            yield b")"
        else:
            raise TypeError(f"cannot encode {type(value).__name__} in a response")

    def _body_data(self, data: BodyData) -> Iterator[bytes]:
        yield (b"~{%d}\r\n" if data.binary else b"{%d}\r\n") % data.size
        if isinstance(data.chunks, bytes):
            if len(data.chunks) != data.size:
                raise ValueError("body data size does not match its announced size")
            yield data.chunks
            return
        sent = 0
        for chunk in data.chunks:
            sent += len(chunk)
            if sent > data.size:
                raise ValueError("body data longer than its announced size")
            yield chunk
        if sent != data.size:
            raise ValueError("body data shorter than its announced size")

    # --- structures ---------------------------------------------------------------------

    def _addresses(self, addresses: tuple[Address, ...] | None) -> bytes:
        if addresses is None:
            return b"NIL"
        return (
            b"("
            + b"".join(
                b"("
                + b" ".join(self.nstring(v) for v in (a.name, a.adl, a.mailbox, a.host))
                + b")"
                for a in addresses
            )
            + b")"
        )

    def envelope(self, env: Envelope) -> bytes:
        """RFC 3501 ``envelope``."""
        return (
            b"("
            + b" ".join(
                [
                    self.nstring(env.date),
                    self.nstring(env.subject),
                    self._addresses(env.from_),
                    self._addresses(env.sender),
                    self._addresses(env.reply_to),
                    self._addresses(env.to),
                    self._addresses(env.cc),
                    self._addresses(env.bcc),
                    self.nstring(env.in_reply_to),
                    self.nstring(env.message_id),
                ]
            )
            + b")"
        )

    def _params(self, params: tuple[tuple[bytes, bytes], ...] | None) -> bytes:
        if not params:
            return b"NIL"
        return b"(" + b" ".join(self.string(k) + b" " + self.string(v) for k, v in params) + b")"

    def _extension(self, part: Part) -> list[bytes]:
        disposition = b"NIL"
        if part.disposition is not None:
            kind, params = part.disposition
            disposition = b"(" + self.string(kind) + b" " + self._params(params) + b")"
        language = b"NIL"
        if part.language is not None:
            # Always a list, even of one tag (Dovecot does the same; both forms are legal).
            language = b"(" + b" ".join(self.string(t) for t in part.language) + b")"
        return [disposition, language, self.nstring(part.location)]

    def body_structure(self, part: Part, *, extended: bool = True) -> bytes:
        """BODYSTRUCTURE (``extended``) or BODY of a part (RFC 3501 7.4.2 ``body``)."""
        if part.is_multipart:
            out = b"".join(self.body_structure(c, extended=extended) for c in part.children)
            out += b" " + self.string(part.subtype)
            if extended:
                out += b" " + b" ".join([self._params(part.params), *self._extension(part)])
            return b"(" + out + b")"
        fields = [
            self.string(part.media_type),
            self.string(part.subtype),
            self._params(part.params),
            self.nstring(part.content_id),
            self.nstring(part.description),
            self.string(part.encoding),
            b"%d" % part.size,
        ]
        if part.message is not None and part.envelope is not None:
            fields += [
                self.envelope(part.envelope),
                self.body_structure(part.message, extended=extended),
                b"%d" % part.lines,
            ]
        elif part.media_type.lower() == b"text":
            fields.append(b"%d" % part.lines)
        if extended:
            fields += [self.nstring(part.md5), *self._extension(part)]
        return b"(" + b" ".join(fields) + b")"

    # --- status responses ----------------------------------------------------------------

    def tagged(
        self, tag: bytes, status: str, text: str, code: ResponseCode | None = None
    ) -> bytes:
        """``tag OK|NO|BAD [code] text``."""
        return self._status(tag, status, text, code)

    def untagged_status(
        self, status: str, text: str, code: ResponseCode | None = None
    ) -> bytes:
        """``* OK|NO|BAD|PREAUTH|BYE [code] text``."""
        return self._status(b"*", status, text, code)

    def bye(self, text: str) -> bytes:
        return self._status(b"*", "BYE", text, None)

    def _status(self, tag: bytes, status: str, text: str, code: ResponseCode | None) -> bytes:
        if status not in ("OK", "NO", "BAD", "PREAUTH", "BYE"):
            raise ValueError(f"not a status response: {status}")
        line = tag + b" " + status.encode("ascii")
        if code is not None:
            line += b" " + code.to_bytes()
        clean = _response_text(text)
        return line + (b" " + clean if clean else b"") + CRLF

    def continuation(self, text: str | bytes = b"") -> bytes:
        """``+ text``: ready for a literal, idling, or a (base64) SASL challenge."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        return b"+ " + _response_text(data.decode("utf-8", "replace")) + CRLF

    # --- untagged data ---------------------------------------------------------------

    def capability(self, capabilities: Iterable[str]) -> bytes:
        return b"* CAPABILITY " + " ".join(capabilities).encode("ascii") + CRLF

    def enabled(self, capabilities: Iterable[str]) -> bytes:
        caps = " ".join(capabilities).encode("ascii")
        return b"* ENABLED" + (b" " + caps if caps else b"") + CRLF

    def exists(self, count: int) -> bytes:
        return b"* %d EXISTS\r\n" % count

    def recent(self, count: int) -> bytes:
        return b"* %d RECENT\r\n" % count

    def expunge(self, sequence_number: int) -> bytes:
        return b"* %d EXPUNGE\r\n" % sequence_number

    def flags(self, flags: Iterable[str]) -> bytes:
        return b"* FLAGS (" + " ".join(flags).encode("ascii") + b")" + CRLF

    def list_item(
        self,
        attributes: Iterable[str],
        delimiter: str | None,
        name: str,
        *,
        extended: Sequence[tuple[str, object]] = (),
        command: str = "LIST",
    ) -> bytes:
        """``* LIST (\\HasNoChildren) "/" name`` with RFC 5258 extended data items.

        ``extended`` pairs are e.g. ``("CHILDINFO", ("SUBSCRIBED",))`` or
        ``("OLDNAME", (Mailbox("old"),))``.
        """
        line = b"* " + command.encode("ascii") + b" ("
        line += " ".join(attributes).encode("ascii") + b") "
        line += b"NIL" if delimiter is None else self.string(delimiter)
        line += b" " + self.mailbox(name)
        if extended:
            items = [
                self.string(tag) + b" " + self.value(value) for tag, value in extended
            ]
            line += b" (" + b" ".join(items) + b")"
        return line + CRLF

    def status(self, name: str, items: Sequence[tuple[str, int]]) -> bytes:
        """``* STATUS name (MESSAGES 3 UIDNEXT 7)``."""
        body = " ".join(f"{k} {v}" for k, v in items).encode("ascii")
        return b"* STATUS " + self.mailbox(name) + b" (" + body + b")" + CRLF

    def search(self, numbers: Iterable[int], modseq: int | None = None) -> bytes:
        """Classic ``* SEARCH 2 3 5`` (with ``(MODSEQ n)`` under CONDSTORE)."""
        line = b"* SEARCH" + b"".join(b" %d" % n for n in numbers)
        if modseq is not None:
            line += b" (MODSEQ %d)" % modseq
        return line + CRLF

    def esearch(
        self,
        tag: bytes | None,
        *,
        uid: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        all_: Iterable[int] | None = None,
        count: int | None = None,
        modseq: int | None = None,
        keyword: str = "ESEARCH",
    ) -> bytes:
        """RFC 4731 ``* ESEARCH (TAG "a1") UID MIN 1 MAX 9 ALL 1:3,9 COUNT 4``."""
        line = b"* " + keyword.encode("ascii")
        if tag is not None:
            line += b" (TAG " + self.string(tag) + b")"
        if uid:
            line += b" UID"
        if minimum is not None:
            line += b" MIN %d" % minimum
        if maximum is not None:
            line += b" MAX %d" % maximum
        if all_ is not None:
            encoded = format_sequence_set(all_)
            if encoded:
                line += b" ALL " + encoded
        if count is not None:
            line += b" COUNT %d" % count
        if modseq is not None:
            line += b" MODSEQ %d" % modseq
        return line + CRLF

    def sort(self, numbers: Iterable[int], modseq: int | None = None) -> bytes:
        """RFC 5256 ``* SORT 2 3 6`` (order kept)."""
        line = b"* SORT" + b"".join(b" %d" % n for n in numbers)
        if modseq is not None:
            line += b" (MODSEQ %d)" % modseq
        return line + CRLF

    def thread(self, roots: Iterable[ThreadNode]) -> bytes:
        """RFC 5256 ``* THREAD (2)(3 6 (4 23)(44 7 96))``."""
        return b"* THREAD " + b"".join(self._thread(node) for node in roots) + CRLF

    def _thread(self, node: ThreadNode) -> bytes:
        chain: list[bytes] = []
        current: ThreadNode | None = node
        while current is not None:
            if current.number is not None:
                chain.append(b"%d" % current.number)
            if len(current.children) == 1 and current.number is not None:
                current = current.children[0]
                continue
            if current.children:
                chain.append(b"".join(self._thread(c) for c in current.children))
            current = None
        return b"(" + b" ".join(chain) + b")"

    def vanished(self, uids: Iterable[int], *, earlier: bool = False) -> bytes:
        """RFC 7162 ``* VANISHED (EARLIER) 41,43:116``."""
        uid_set = format_sequence_set(uids)
        if not uid_set:
            raise ValueError("VANISHED needs at least one UID")
        return b"* VANISHED " + (b"(EARLIER) " if earlier else b"") + uid_set + CRLF

    def id(self, params: Sequence[tuple[str, str | None]] | None) -> bytes:
        """RFC 2971 ``* ID ("name" "groupware" ...)`` or ``* ID NIL``."""
        if not params:
            return b"* ID NIL\r\n"
        body = b" ".join(self.string(k) + b" " + self.nstring(v) for k, v in params)
        return b"* ID (" + body + b")" + CRLF

    def namespace(
        self,
        personal: Sequence[tuple[str, str | None]] | None,
        other: Sequence[tuple[str, str | None]] | None,
        shared: Sequence[tuple[str, str | None]] | None,
    ) -> bytes:
        """RFC 2342 ``* NAMESPACE (("" "/")) NIL NIL``."""

        def group(entries: Sequence[tuple[str, str | None]] | None) -> bytes:
            if not entries:
                return b"NIL"
            return (
                b"("
                + b"".join(
                    b"(" + self.string(encode_mailbox_name(prefix, utf8=self.utf8)) + b" "
                    + self.nstring(delim) + b")"
                    for prefix, delim in entries
                )
                + b")"
            )

        return b"* NAMESPACE " + b" ".join([group(personal), group(other), group(shared)]) + CRLF

    def quota(self, root: bytes | str, resources: Sequence[tuple[str, int, int]]) -> bytes:
        """RFC 9208 ``* QUOTA "" (STORAGE 10 512)``: name, usage, limit."""
        body = " ".join(f"{name} {usage} {limit}" for name, usage, limit in resources)
        return b"* QUOTA " + self.astring(root) + b" (" + body.encode("ascii") + b")" + CRLF

    def quotaroot(self, name: str, roots: Iterable[bytes | str]) -> bytes:
        """RFC 9208 ``* QUOTAROOT INBOX ""``."""
        return b"* QUOTAROOT " + self.mailbox(name) + b"".join(
            b" " + self.astring(r) for r in roots
        ) + CRLF

    def fetch(self, number: int, items: Sequence[tuple[bytes, object]]) -> Iterator[bytes]:
        """``* 12 FETCH (FLAGS (\\Seen) BODY[] {342}...)`` as a stream of chunks.

        ``items`` pairs an item name (``FetchBody.item_name()``, ``b"UID"`` ...) with its
        value; :class:`BodyData` values are streamed without being joined.
        """
        yield b"* %d FETCH (" % number
        for i, (name, value) in enumerate(items):
            prefix = (b" " if i else b"") + name + b" "
            chunks = self._chunks(value)
            first = next(chunks, b"")
            yield prefix + first
            yield from chunks
        yield b")" + CRLF


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _response_text(text: str) -> bytes:
    """Human-readable text: one line, printable, never starting with ``[``."""
    clean = "".join(c if c.isprintable() else " " for c in text).strip()
    if clean.startswith("["):
        clean = " " + clean
    return clean.encode("utf-8")
