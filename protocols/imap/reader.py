"""Token reader for one framed command (RFC 9051 9 formal syntax, the lexical part).

The framer hands over the command text with every literal cut out: the text keeps the
``{n}`` markers and :class:`LiteralSlot` says where each one's bytes belong.  That keeps
literal content out of the text (no way for a message body to be read as syntax) and
lets the same reader check a command that is still waiting for a literal: reaching a
slot without data raises :class:`Incomplete` rather than an error.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .events import ParserLimits
from .mutf7 import MailboxNameError, decode_mailbox_name
from .sequence import MAX_NZ_NUMBER, SeqRange, SequenceSet

__all__ = ["Incomplete", "LiteralSlot", "Reader", "SyntaxProblem"]

T = TypeVar("T")

MAX_NUMBER64 = (1 << 63) - 1


def _table(pred: Callable[[int], bool]) -> bytes:
    return bytes(1 if pred(c) else 0 for c in range(256))


_ATOM_SPECIALS = frozenset(b'(){ %*"\\]')
ATOM_CHAR = _table(lambda c: 0x20 < c < 0x7F and c not in _ATOM_SPECIALS)
ASTRING_CHAR = _table(lambda c: ATOM_CHAR[c] == 1 or c == ord("]"))
TAG_CHAR = _table(lambda c: ASTRING_CHAR[c] == 1 and c != ord("+"))
LIST_CHAR = _table(lambda c: ASTRING_CHAR[c] == 1 or c in b"%*")
_SEQ_CHAR = _table(lambda c: c in b"0123456789:*,$")

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {m.upper().encode(): i + 1 for i, m in enumerate(MONTHS)}


class SyntaxProblem(Exception):
    """The command is malformed; the message goes into ``tag BAD <message>``."""

    def __init__(self, message: str, *, status: str = "BAD", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class Incomplete(Exception):
    """The reader reached a literal whose bytes have not arrived yet."""


@dataclass(slots=True)
class LiteralSlot:
    """Where a literal sits in the command text, and its bytes once they are in."""

    start: int
    end: int
    size: int
    binary: bool
    nonsync: bool
    data: bytes | None = None


class Reader:
    """Cursor over one command; every method consumes what it returns or raises."""

    def __init__(
        self,
        text: bytes,
        slots: list[LiteralSlot],
        limits: ParserLimits,
        *,
        utf8: bool = False,
    ) -> None:
        self.text = text
        self.pos = 0
        self._slots = slots
        self._next_slot = 0
        self.limits = limits
        self.utf8 = utf8
        self.depth = 0
        self.items = 0

    # --- basics -----------------------------------------------------------------

    def at_end(self) -> bool:
        return self.pos >= len(self.text) and self._next_slot >= len(self._slots)

    def peek(self) -> int | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def peek_is(self, char: bytes) -> bool:
        return self.text.startswith(char, self.pos)

    def fail(self, message: str) -> SyntaxProblem:
        return SyntaxProblem(message)

    def expect(self, token: bytes, what: str | None = None) -> None:
        if not self.text.startswith(token, self.pos):
            raise self.fail(f"expected {what or repr(token.decode('ascii'))}")
        self.pos += len(token)

    def sp(self) -> None:
        self.expect(b" ", "space")

    def maybe_sp(self) -> bool:
        if self.peek_is(b" "):
            self.pos += 1
            return True
        return False

    def end(self) -> None:
        """The command must be over: extra arguments are an error, not ignored."""
        if self._next_slot < len(self._slots) and self._slots[self._next_slot].data is None:
            raise Incomplete
        if self.pos != len(self.text) or self._next_slot != len(self._slots):
            raise self.fail("unexpected extra arguments")

    def count(self, n: int = 1) -> None:
        """Charge ``n`` elements against the per-command argument budget."""
        self.items += n
        if self.items > self.limits.max_args:
            raise self.fail("too many arguments")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise self.fail("parentheses nested too deeply")

    def leave(self) -> None:
        self.depth -= 1

    # --- atoms and numbers ------------------------------------------------------------

    def _span(self, table: bytes) -> bytes:
        start = self.pos
        text = self.text
        end = len(text)
        pos = start
        while pos < end and table[text[pos]]:
            pos += 1
        self.pos = pos
        return text[start:pos]

    def atom(self, what: str = "atom") -> bytes:
        value = self._span(ATOM_CHAR)
        if not value:
            raise self.fail(f"expected {what}")
        return value

    def keyword(self, what: str = "keyword") -> str:
        """An atom, upper-cased (command names, options, search keys are case-insensitive)."""
        return self.atom(what).decode("ascii").upper()

    def tag(self) -> bytes:
        value = self._span(TAG_CHAR)
        if not value:
            raise self.fail("invalid tag")
        return value

    def number(self, *, limit: int = MAX_NZ_NUMBER, nonzero: bool = False) -> int:
        start = self.pos
        while self.pos < len(self.text) and 0x30 <= self.text[self.pos] <= 0x39:
            self.pos += 1
        digits = self.text[start : self.pos]
        if not digits:
            raise self.fail("expected a number")
        if len(digits) > 20 or int(digits) > limit:
            raise self.fail("number out of range")
        value = int(digits)
        if nonzero and value == 0:
            raise self.fail("number must not be zero")
        return value

    def number64(self, *, nonzero: bool = False) -> int:
        return self.number(limit=MAX_NUMBER64, nonzero=nonzero)

    # --- strings ---------------------------------------------------------------

    def _slot_here(self) -> LiteralSlot | None:
        if self._next_slot < len(self._slots):
            slot = self._slots[self._next_slot]
            if slot.start == self.pos:
                return slot
        if self.text.startswith(b"{", self.pos) or self.text.startswith(b"~{", self.pos):
            raise self.fail("literal must end the line")
        return None

    def _take_slot(self, slot: LiteralSlot) -> bytes:
        if slot.data is None:
            raise Incomplete
        self.pos = slot.end
        self._next_slot += 1
        return slot.data

    def literal(self, *, allow_binary: bool = False, message: bool = False) -> tuple[bytes, bool]:
        """A literal at the cursor; returns its bytes and whether it was a ``~{n}``."""
        slot = self._slot_here()
        if slot is None:
            raise self.fail("expected a literal")
        if slot.binary and not allow_binary:
            raise self.fail("literal8 not allowed here")
        if not message and slot.size > self.limits.max_string_literal:
            raise SyntaxProblem("literal too large for this argument", status="NO", code="TOOBIG")
        data = self._take_slot(slot)
        if not slot.binary and b"\x00" in data:
            raise self.fail("NUL in a literal (use literal8)")
        return data, slot.binary

    def quoted(self) -> bytes:
        self.expect(b'"', "quoted string")
        out = bytearray()
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self.fail("unterminated quoted string")
            char = text[self.pos]
            self.pos += 1
            if char == 0x22:
                return bytes(out)
            if char == 0x5C:
                if self.pos >= len(text) or text[self.pos] not in b'"\\':
                    raise self.fail("invalid escape in quoted string")
                char = text[self.pos]
                self.pos += 1
            elif char in (0, 0x0A, 0x0D):
                raise self.fail("invalid character in quoted string")
            out.append(char)

    def string(self) -> bytes:
        if self.peek_is(b'"'):
            return self.quoted()
        return self.literal()[0]

    def astring(self, what: str = "string") -> bytes:
        if self.peek_is(b'"') or self._slot_here() is not None:
            return self.string()
        value = self._span(ASTRING_CHAR)
        if not value:
            raise self.fail(f"expected {what}")
        return value

    def nil_or(self, parse: Callable[[], T]) -> T | None:
        if self.text[self.pos : self.pos + 3].upper() == b"NIL" and not (
            self.pos + 3 < len(self.text) and ATOM_CHAR[self.text[self.pos + 3]]
        ):
            self.pos += 3
            return None
        return parse()

    def nstring(self) -> bytes | None:
        return self.nil_or(self.string)

    def text_str(self, data: bytes, what: str) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{what} is not valid UTF-8") from exc

    # --- mailboxes, flags, lists -----------------------------------------------------

    def _mailbox_from(self, raw: bytes) -> str:
        try:
            name = decode_mailbox_name(raw, utf8=self.utf8)
        except MailboxNameError as exc:
            raise self.fail(f"invalid mailbox name: {exc}") from exc
        return "INBOX" if name.upper() == "INBOX" else name

    def mailbox(self) -> str:
        return self._mailbox_from(self.astring("mailbox name"))

    def list_mailbox(self) -> str:
        """``list-mailbox``: a string, or an atom that may hold ``%``, ``*`` and ``]``."""
        if self.peek_is(b'"') or self._slot_here() is not None:
            raw = self.string()
        else:
            raw = self._span(LIST_CHAR)
            if not raw:
                raise self.fail("expected mailbox pattern")
        try:
            return decode_mailbox_name(raw, utf8=self.utf8)
        except MailboxNameError as exc:
            raise self.fail(f"invalid mailbox pattern: {exc}") from exc

    def flag(self, *, allow_recent: bool = False) -> str:
        """``\\Answered`` ... (canonical case), a keyword atom, or ``\\*`` when allowed."""
        if self.peek_is(b"\\"):
            self.pos += 1
            if allow_recent and self.peek_is(b"*"):
                self.pos += 1
                return "\\*"
            name = self.atom("flag name").decode("ascii")
            return "\\" + _SYSTEM_FLAGS.get(name.upper(), name)
        return self.atom("flag").decode("ascii")

    def paren_list(self, item: Callable[[], T], *, allow_empty: bool = True) -> list[T]:
        """``"(" [item *(SP item)] ")"`` with depth and element-count limits."""
        self.expect(b"(")
        self.enter()
        out: list[T] = []
        if not self.peek_is(b")"):
            while True:
                self.count()
                out.append(item())
                if not self.maybe_sp():
                    break
        self.expect(b")")
        self.leave()
        if not out and not allow_empty:
            raise self.fail("empty list")
        return out

    def flag_list(self) -> tuple[str, ...]:
        return tuple(self.paren_list(self.flag))

    def flags_or_list(self) -> tuple[str, ...]:
        """STORE accepts ``(flags)`` or flags separated by spaces without parentheses."""
        if self.peek_is(b"("):
            return self.flag_list()
        out = [self.flag()]
        while self.maybe_sp():
            self.count()
            out.append(self.flag())
        return tuple(out)

    # --- sequence sets ---------------------------------------------------------------

    def sequence_set(self, *, allow_saved: bool = True) -> SequenceSet:
        raw = self._span(_SEQ_CHAR)
        if not raw:
            raise self.fail("expected a sequence set")
        if raw == b"$":
            if not allow_saved:
                raise self.fail("'$' not allowed here")
            return SequenceSet(saved=True)
        ranges: list[SeqRange] = []
        for piece in raw.split(b","):
            self.count()
            bounds = piece.split(b":")
            if len(bounds) > 2:
                raise self.fail("invalid sequence range")
            values = [self._seq_number(b) for b in bounds]
            ranges.append(SeqRange(values[0], values[-1]))
        return SequenceSet(tuple(ranges))

    def _seq_number(self, raw: bytes) -> int | None:
        if raw == b"*":
            return None
        if not raw.isdigit() or len(raw) > 10:
            raise self.fail("invalid sequence number")
        value = int(raw)
        if not 0 < value <= MAX_NZ_NUMBER:
            raise self.fail("sequence number out of range")
        return value

    # --- dates -------------------------------------------------------------------

    def date(self) -> datetime.date:
        """``date``: ``1-Feb-1994``, optionally quoted."""
        quoted = self.peek_is(b'"')
        if quoted:
            self.pos += 1
        day = self.number(limit=31)
        self.expect(b"-")
        month = self._month()
        self.expect(b"-")
        year = self._digits(4, "year")
        if quoted:
            self.expect(b'"')
        try:
            return datetime.date(year, month, day)
        except ValueError as exc:
            raise self.fail("invalid date") from exc

    def date_time(self) -> datetime.datetime:
        """``"17-Jul-1996 02:44:25 -0700"`` (the day may be space-padded)."""
        self.expect(b'"', "date-time")
        if self.peek_is(b" "):
            self.pos += 1
        day = self.number(limit=31)
        self.expect(b"-")
        month = self._month()
        self.expect(b"-")
        year = self._digits(4, "year")
        self.sp()
        hour = self._digits(2, "hour")
        self.expect(b":")
        minute = self._digits(2, "minute")
        self.expect(b":")
        second = self._digits(2, "second")
        self.sp()
        sign = self.peek()
        if sign not in (0x2B, 0x2D):
            raise self.fail("expected time zone")
        self.pos += 1
        zone = self._digits(4, "zone")
        self.expect(b'"')
        offset = datetime.timedelta(hours=zone // 100, minutes=zone % 100)
        if zone % 100 >= 60:
            raise self.fail("invalid time zone")
        try:
            tz = datetime.timezone(-offset if sign == 0x2D else offset)
            return datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
        except ValueError as exc:
            raise self.fail("invalid date-time") from exc

    def _month(self) -> int:
        raw = self.text[self.pos : self.pos + 3].upper()
        month = _MONTH_NUMBER.get(raw)
        if month is None:
            raise self.fail("invalid month")
        self.pos += 3
        return month

    def _digits(self, n: int, what: str) -> int:
        raw = self.text[self.pos : self.pos + n]
        if len(raw) != n or not raw.isdigit():
            raise self.fail(f"invalid {what}")
        self.pos += n
        return int(raw)


_SYSTEM_FLAGS = {
    name.upper(): name
    for name in ("Answered", "Flagged", "Deleted", "Seen", "Draft", "Recent")
}
