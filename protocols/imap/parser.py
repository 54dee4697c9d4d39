"""Sans-IO IMAP command parser: bytes in, :class:`Command` and friends out.

Framing follows RFC 9051 4.3 and RFC 7888: a command is a line, unless the line ends in
a literal marker (``{n}``, ``{n+}``, ``~{n}``), in which case ``n`` raw bytes follow and
the command goes on after them.  For a synchronising literal the client waits for the
server's ``+``: the parser emits :class:`NeedContinuation` after checking that the
command so far is valid and the size acceptable, so a refused literal is never sent.

A refused non-synchronising literal has already been sent; per RFC 7888 4 its bytes are
counted and dropped (never buffered) with the rest of that command, or, when
``close_on_oversize_nonsync`` is set, a fatal violation asks the server to close.
After any violation the parser resynchronises at the first line that starts a new
command, skipping the literal bytes of the refused one so message content can never be
taken for commands.

Parsing is lazy: :meth:`CommandParser.feed` only buffers; work happens in
:meth:`CommandParser.next_event`.  That is what lets the session switch the parser into
SASL or IDLE line mode, or take the remaining raw bytes after STARTTLS/COMPRESS
(:meth:`CommandParser.take_unparsed`), before the next line is interpreted.
"""

from __future__ import annotations

import binascii
import enum
import logging
import re

from .commands import Command
from .events import IdleDone, NeedContinuation, ParserLimits, ProtocolViolation, SaslResponse
from .grammar import parse_command
from .reader import TAG_CHAR, Incomplete, LiteralSlot, Reader, SyntaxProblem

__all__ = ["CommandParser", "Event"]

logger = logging.getLogger(__name__)

Event = Command | NeedContinuation | ProtocolViolation | SaslResponse | IdleDone

_MARKER = re.compile(rb"(~?)\{(\d{1,20})(\+?)\}\Z")
_TAIL_KEEP = 32  # enough of a discarded over-long line to see its literal marker


class _Mode(enum.Enum):
    COMMAND = "command"
    SASL = "sasl"
    IDLE = "idle"


def tag_of(line: bytes) -> bytes | None:
    """The tag at the start of a line, if the line starts with a valid one and a space."""
    end = 0
    limit = min(len(line), 1024)
    while end < limit and TAG_CHAR[line[end]]:
        end += 1
    if end == 0 or end >= len(line) or line[end] != 0x20:
        return None
    return line[:end]


class CommandParser:
    """Frames and parses client input for one connection."""

    def __init__(self, limits: ParserLimits | None = None, *, utf8: bool = False) -> None:
        self.limits = limits or ParserLimits()
        self.utf8 = utf8
        """Mailbox names are UTF-8 (set after ``ENABLE UTF8=ACCEPT`` or ``IMAP4rev2``)."""
        self._buf = bytearray()
        self._scan = 0
        self._mode = _Mode.COMMAND
        self._mode_tag = b""
        self._closed = False
        # the command being assembled
        self._text = bytearray()
        self._slots: list[LiteralSlot] = []
        self._tag: bytes | None = None
        self._size = 0
        # literal being received, or refused bytes being dropped
        self._literal: LiteralSlot | None = None
        self._literal_buf = bytearray()
        self._swallow = 0
        self._discard_command = False
        # inside a line longer than max_line
        self._overlong = False
        self._overlong_tail = b""

    # --- public API ---------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Buffer bytes from the client; call :meth:`next_event` until it returns None."""
        if not self._closed:
            self._buf += data

    def next_event(
        self,
    ) -> Command | NeedContinuation | ProtocolViolation | SaslResponse | IdleDone | None:
        """The next complete event, or ``None`` when more input is needed."""
        while not self._closed:
            if self._swallow:
                taken = min(self._swallow, len(self._buf))
                del self._buf[:taken]
                self._swallow -= taken
                if self._swallow:
                    return None
                continue
            if self._literal is not None:
                if not self._receive_literal():
                    return None
                continue
            event, line = self._take_line()
            if event is not None:
                return event
            if line is None:
                return None
            if self._mode is _Mode.SASL:
                return self._sasl_line(line)
            if self._mode is _Mode.IDLE:
                return self._idle_line(line)
            result = self._command_line(line)
            if result is not None:
                return result
        return None

    def expect_sasl_response(self, tag: bytes) -> None:
        """The server sent an AUTHENTICATE challenge: the next line is a SASL response."""
        self._mode = _Mode.SASL
        self._mode_tag = tag

    def expect_idle_done(self, tag: bytes) -> None:
        """The server answered IDLE with ``+``: the next line must be ``DONE``."""
        self._mode = _Mode.IDLE
        self._mode_tag = tag

    def take_unparsed(self) -> bytes:
        """Remove and return buffered bytes not yet parsed.

        After STARTTLS they must be dropped (plaintext injected before the handshake,
        CVE-2011-0411 style); after COMPRESS they are compressed data to inflate and feed
        back.  Only meaningful between commands.
        """
        data = bytes(self._buf)
        self._buf.clear()
        self._scan = 0
        return data

    @property
    def closed(self) -> bool:
        """True after a fatal violation: the connection must be closed."""
        return self._closed

    @property
    def idle(self) -> bool:
        return self._mode is _Mode.IDLE

    # --- framing ------------------------------------------------------------------

    def _receive_literal(self) -> bool:
        slot = self._literal
        assert slot is not None
        need = slot.size - len(self._literal_buf)
        taken = min(need, len(self._buf))
        if taken:
            self._literal_buf += self._buf[:taken]
            del self._buf[:taken]
        if len(self._literal_buf) < slot.size:
            return False
        slot.data = bytes(self._literal_buf)
        self._literal_buf = bytearray()
        self._literal = None
        return True

    def _take_line(self) -> tuple[ProtocolViolation | None, bytes | None]:
        """Next line without its terminator (CRLF, or a bare LF leniently)."""
        limit = self.limits.max_line
        lf = self._buf.find(b"\n", self._scan)
        if lf < 0:
            self._scan = len(self._buf)
            if self._overlong:
                self._overlong_tail = (self._overlong_tail + bytes(self._buf))[-_TAIL_KEEP:]
                self._buf.clear()
                self._scan = 0
                return None, None
            if len(self._buf) > limit + 1:
                violation = self._line_too_long(bytes(self._buf[:limit]))
                self._overlong = True
                self._overlong_tail = bytes(self._buf[-_TAIL_KEEP:])
                self._buf.clear()
                self._scan = 0
                return violation, None
            return None, None
        line = bytes(self._buf[:lf])
        del self._buf[: lf + 1]
        self._scan = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        if self._overlong:
            tail = (self._overlong_tail + line).rstrip(b"\r")[-_TAIL_KEEP:]
            self._overlong = False
            self._overlong_tail = b""
            self._finish_discarded_line(tail)
            return None, None
        if len(line) > limit:
            violation = self._line_too_long(line[:limit])
            self._finish_discarded_line(line[-_TAIL_KEEP:])
            return violation, None
        return None, line

    def _line_too_long(self, head: bytes) -> ProtocolViolation:
        if self._mode is not _Mode.COMMAND:
            tag: bytes | None = self._mode_tag
        elif self._text or self._slots:
            tag = self._tag
        else:
            tag = tag_of(head)
        return ProtocolViolation(tag, "line too long")

    def _finish_discarded_line(self, tail: bytes) -> None:
        """An over-long line ended: drop the rest of its command, literals included."""
        if self._mode is not _Mode.COMMAND:
            self._mode = _Mode.COMMAND
            return
        self._reset_command()
        self._discard_command = True
        self._discard_line(tail)

    def _discard_line(self, line: bytes) -> None:
        marker = _MARKER.search(line)
        if marker is not None and marker.group(3):
            self._swallow = int(marker.group(2))
            return
        # no marker, or a synchronising one the client waits on: the command is over
        self._discard_command = False

    # --- command mode -----------------------------------------------------------------

    def _reset_command(self) -> None:
        self._text = bytearray()
        self._slots = []
        self._tag = None
        self._size = 0

    def _violation(
        self, message: str, *, status: str = "BAD", code: str | None = None, fatal: bool = False
    ) -> ProtocolViolation:
        tag = self._tag
        self._reset_command()
        if fatal:
            self._closed = True
            self._buf.clear()
        return ProtocolViolation(tag, message, fatal, status, code)

    def _command_line(self, line: bytes) -> Command | NeedContinuation | ProtocolViolation | None:
        if self._discard_command:
            self._discard_line(line)
            return None
        if not self._text and not self._slots:
            if not line:
                return None  # stray empty line between commands: harmless, ignored
            self._tag = tag_of(line)
        self._size += len(line) + 2
        start = len(self._text)
        self._text += line
        marker = _MARKER.search(line)
        if marker is None:
            return self._complete()
        binary, size, nonsync = marker.group(1) == b"~", int(marker.group(2)), bool(
            marker.group(3)
        )
        slot = LiteralSlot(start + marker.start(), len(self._text), size, binary, nonsync)
        problem: tuple[str, str | None] | None = None
        limits = self.limits
        if len(self._slots) >= limits.max_command_literals:
            problem = ("too many literals in one command", None)
        elif size > limits.max_literal or self._size + size > limits.max_command_size:
            problem = ("literal too large", "TOOBIG")
        elif nonsync and limits.max_nonsync_literal is not None and (
            size > limits.max_nonsync_literal
        ):
            problem = ("non-synchronizing literal too large (LITERAL-)", "TOOBIG")
        if problem is not None:
            message, code = problem
            status = "NO" if code else "BAD"
            if not nonsync:
                return self._violation(message, status=status, code=code)
            if limits.close_on_oversize_nonsync:
                return self._violation(message, status=status, code=code, fatal=True)
            violation = self._violation(message, status=status, code=code)
            self._swallow = size
            self._discard_command = True
            return violation
        self._size += size
        self._slots.append(slot)
        if not nonsync:
            # checked while the slot has no data, so the parse stops there
            early = self._check_partial()
            if early is not None:
                return early
        if size == 0:
            slot.data = b""
        else:
            self._literal = slot
        return None if nonsync else NeedContinuation(size)

    def _reader(self) -> Reader:
        return Reader(bytes(self._text), self._slots, self.limits, utf8=self.utf8)

    def _check_partial(self) -> ProtocolViolation | None:
        """Refuse a command that is already wrong before asking for its literal."""
        try:
            parse_command(self._reader())
        except Incomplete:
            return None
        except SyntaxProblem as exc:
            return self._violation(exc.message, status=exc.status, code=exc.code)
        except Exception:
            logger.exception("IMAP parser failed on a partial command")
            return self._violation("internal parser error")
        # A complete parse that ignores the literal cannot happen (end() sees the slot).
        return self._violation("unexpected literal")

    def _complete(self) -> Command | ProtocolViolation:
        try:
            command = parse_command(self._reader())
        except SyntaxProblem as exc:
            return self._violation(exc.message, status=exc.status, code=exc.code)
        except Incomplete:
            return self._violation("incomplete command")
        except Exception:
            logger.exception("IMAP parser failed on a command")
            return self._violation("internal parser error")
        self._reset_command()
        return command

    # --- SASL and IDLE line modes ---------------------------------------------------------

    def _sasl_line(self, line: bytes) -> SaslResponse | ProtocolViolation:
        tag = self._mode_tag
        self._mode = _Mode.COMMAND
        if line == b"*":
            return SaslResponse(tag, b"", cancelled=True)
        try:
            return SaslResponse(tag, binascii.a2b_base64(line, strict_mode=True) if line else b"")
        except binascii.Error:
            return ProtocolViolation(tag, "invalid base64 in SASL response")

    def _idle_line(self, line: bytes) -> IdleDone | ProtocolViolation:
        tag = self._mode_tag
        self._mode = _Mode.COMMAND
        if line.upper() == b"DONE":
            return IdleDone(tag)
        return ProtocolViolation(tag, "expected DONE")
