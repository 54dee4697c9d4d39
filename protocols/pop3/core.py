# mypy: disable-error-code="func-returns-value"
"""The POP3 session as a sans-IO state machine.

Bytes in (:meth:`Pop3ServerConnection.receive_data`), bytes out
(:meth:`~Pop3ServerConnection.data_to_send`), and events for what needs the directory
or the store (:class:`Login`, :class:`Fetch`, :class:`Update`), answered in order so
pipelined commands (RFC 2449 PIPELINING) get their replies in sequence. Deletions are
only marks until QUIT (RFC 1939 6: the UPDATE state); a dropped connection deletes
nothing.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from protocols.smtp.limits import TokenBucket


@dataclass(frozen=True)
class Settings:
    hostname: str
    max_line_length: int = 1024
    max_errors: int = 10
    command_rate: float = 50.0
    command_burst: int = 500
    starttls: bool = False
    tls: bool = False
    require_tls_for_auth: bool = True


@dataclass(frozen=True)
class Message:
    """One message of the maildrop as listed at login."""

    uid: int
    size: int
    uidl: str


@dataclass(frozen=True)
class Login:
    mechanism: str
    """USER, PLAIN or LOGIN."""
    login: str
    password: str
    authzid: str = ""


@dataclass(frozen=True)
class Fetch:
    """RETR (``lines`` None) or TOP (header plus ``lines`` body lines) of one message."""

    number: int
    message: Message
    lines: int | None


@dataclass(frozen=True)
class Update:
    """QUIT in the TRANSACTION state: expunge these messages, then say goodbye."""

    deleted: tuple[Message, ...]


@dataclass(frozen=True)
class StartTls:
    """``+OK`` for STLS is queued: switch to TLS before writing more."""


Event = Login | Fetch | Update | StartTls


class _State(enum.Enum):
    AUTHORIZATION = "authorization"
    AUTH_PLAIN = "auth_plain"
    AUTH_USER = "auth_user"
    AUTH_PASS = "auth_pass"  # noqa: S105 - a state, not a secret
    TRANSACTION = "transaction"
    CLOSED = "closed"


_TOO_LONG = object()
_U = base64.b64encode(b"Username:").decode()
_P = base64.b64encode(b"Password:").decode()


class Pop3ServerConnection:
    def __init__(self, settings: Settings, now: Callable[[], float]) -> None:
        self.settings = settings
        self.tls = settings.tls
        self.closed = False
        self.errors = 0
        self.user: str | None = None
        self._state = _State.AUTHORIZATION
        self._bucket = TokenBucket(settings.command_rate, settings.command_burst, now)
        self._buf = bytearray()
        self._out = bytearray()
        self._discarding = False
        self._pending: Event | None = None
        self._user_arg: str | None = None
        self._auth_user = ""
        self._messages: list[Message] = []
        self._deleted: set[int] = set()

    # -- I/O ----------------------------------------------------------------------------

    def greeting(self) -> None:
        self._ok(f"{self.settings.hostname} POP3 ready")

    def refuse(self, text: str) -> None:
        self._err(text)
        self._close()

    def timeout(self) -> None:
        self._err("[SYS/TEMP] Idle timeout, closing connection")
        self._close()

    def receive_data(self, data: bytes) -> None:
        if not self.closed:
            self._buf += data

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def tls_started(self) -> None:
        self.tls = True

    @property
    def waiting(self) -> bool:
        return self._pending is not None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def plaintext_ok(self) -> bool:
        return self.tls or not self.settings.require_tls_for_auth

    def capabilities(self) -> list[str]:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                "IMPLEMENTATION groupware"]
        if self._state is _State.AUTHORIZATION:
            if self.plaintext_ok:
                caps += ["USER", "SASL PLAIN LOGIN"]
            if self.settings.starttls and not self.tls:
                caps.append("STLS")
        return caps

    # -- events -------------------------------------------------------------------------

    def next_event(self) -> Event | None:
        while self._pending is None and not self.closed:
            line = self._next_line()
            if line is None:
                return None
            if line is _TOO_LONG:
                if self._state in (_State.AUTH_PLAIN, _State.AUTH_USER, _State.AUTH_PASS):
                    self._state = _State.AUTHORIZATION
                self._error("Line too long")
                continue
            assert isinstance(line, bytes)
            event = self._line(line)
            if isinstance(event, StartTls):
                return event
            if event is not None:
                self._pending = event
                return event
        return None

    def answer_login(self, ok: bool, text: str, messages: Sequence[Message] = ()) -> None:
        """``text`` carries the response code, e.g. ``[AUTH] Authentication failed``."""
        event = self._take(Login)
        assert isinstance(event, Login)
        if ok:
            self.user = event.login
            self._messages = list(messages)
            self._deleted = set()
            self._state = _State.TRANSACTION
            self._ok(text)
        else:
            self._state = _State.AUTHORIZATION
            self._err(text)
            self._count_error()

    def answer_fetch(self, data: bytes | None, text: str = "") -> None:
        """The message (or None and an ``-ERR`` text when it is gone)."""
        event = self._take(Fetch)
        assert isinstance(event, Fetch)
        if data is None:
            self._err(text or "[SYS/PERM] Message is no longer available")
            return
        if event.lines is not None:
            data = _top(data, event.lines)
            self._ok("Top of message follows")
        else:
            self._ok(f"{event.message.size} octets")
        self._out += _dot_stuff(data)

    def answer_update(self, ok: bool, text: str = "") -> None:
        self._take(Update)
        if ok:
            self._ok(f"{self.settings.hostname} POP3 closing, messages removed")
        else:
            self._err(text or "[SYS/TEMP] Some deleted messages were not removed")
        self._close()

    def _take(self, kind: type) -> object:
        event = self._pending
        if not isinstance(event, kind):
            raise RuntimeError(f"no {kind.__name__} is waiting")
        self._pending = None
        return event

    # -- lines --------------------------------------------------------------------------

    def _next_line(self) -> bytes | object | None:
        limit = self.settings.max_line_length
        idx = self._buf.find(b"\n")
        if idx < 0:
            if len(self._buf) > limit:
                self._buf.clear()
                self._discarding = True
            return None
        line = bytes(self._buf[:idx])
        del self._buf[: idx + 1]
        if self._discarding or len(line) > limit:
            self._discarding = False
            return _TOO_LONG
        return line[:-1] if line.endswith(b"\r") else line

    def _line(self, raw: bytes) -> Event | None:
        if self._state in (_State.AUTH_PLAIN, _State.AUTH_USER, _State.AUTH_PASS):
            return self._sasl_continue(raw)
        if not self._bucket.take():
            self._err("[SYS/TEMP] Too many commands, slow down")
            self._close()
            return None
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._error("Invalid characters in command")
        if "\x00" in line:
            return self._error("NUL in command")
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if self._state is _State.AUTHORIZATION:
            handler = _AUTH_COMMANDS.get(verb)
        else:
            handler = _TRANSACTION_COMMANDS.get(verb)
        if handler is None:
            known = verb in _AUTH_COMMANDS or verb in _TRANSACTION_COMMANDS
            return self._error("Command not valid in this state" if known
                               else "Unknown command")
        return handler(self, arg.strip(" "))

    # -- AUTHORIZATION ------------------------------------------------------------------

    def _cmd_capa(self, arg: str) -> None:
        self._ok("Capability list follows")
        self._out += _dot_stuff("\r\n".join(self.capabilities()).encode() + b"\r\n")

    def _cmd_quit(self, arg: str) -> Event | None:
        if self._state is _State.TRANSACTION and self._deleted:
            return Update(tuple(self._messages[i] for i in sorted(self._deleted)))
        self._ok(f"{self.settings.hostname} POP3 closing")
        self._close()
        return None

    def _cmd_user(self, arg: str) -> None:
        if not self.plaintext_ok:
            return self._error("[AUTH] Plaintext authentication disallowed on non-secure "
                               "connections (use STLS)")
        if not arg:
            return self._error("Syntax: USER name")
        self._user_arg = arg
        self._ok("Send PASS")

    def _cmd_pass(self, arg: str) -> Login | None:
        if self._user_arg is None:
            return self._error("Send USER first")
        login, self._user_arg = self._user_arg, None
        return Login("USER", login, arg)

    def _cmd_stls(self, arg: str) -> StartTls | None:
        if not self.settings.starttls or self.tls:
            return self._error("STLS not available" if not self.tls else "TLS already active")
        self._buf.clear()  # nothing pipelined before TLS may be executed after it
        self._user_arg = None
        self._ok("Begin TLS negotiation")
        return StartTls()

    def _cmd_auth(self, arg: str) -> Login | None:
        if not arg:
            self._ok("Mechanisms follow")
            self._out += b"PLAIN\r\nLOGIN\r\n.\r\n"
            return None
        if not self.plaintext_ok:
            return self._error("[AUTH] Plaintext authentication disallowed on non-secure "
                               "connections (use STLS)")
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        initial = initial.strip()
        if mech == "PLAIN":
            if initial:
                return self._plain(initial)
            self._state = _State.AUTH_PLAIN
            self._out += b"+ \r\n"
            return None
        if mech == "LOGIN":
            if initial:
                return self._login_user(initial)
            self._state = _State.AUTH_USER
            self._out += f"+ {_U}\r\n".encode()
            return None
        return self._error("Unsupported authentication mechanism")

    def _sasl_continue(self, raw: bytes) -> Login | None:
        state = self._state
        self._state = _State.AUTHORIZATION
        text = raw.decode("ascii", errors="replace").strip()
        if text == "*":
            return self._error("Authentication cancelled")
        if state is _State.AUTH_PLAIN:
            return self._plain(text)
        if state is _State.AUTH_USER:
            return self._login_user(text)
        password = self._b64(text)
        return None if password is None else Login("LOGIN", self._auth_user, password)

    def _plain(self, text: str) -> Login | None:
        decoded = self._b64(text)
        if decoded is None:
            return None
        parts = decoded.split("\x00")
        if len(parts) != 3 or not parts[1]:
            return self._error("Malformed PLAIN response")
        return Login("PLAIN", parts[1], parts[2], parts[0])

    def _login_user(self, text: str) -> None:
        user = self._b64(text)
        if user is None:
            return
        self._auth_user = user
        self._state = _State.AUTH_PASS
        self._out += f"+ {_P}\r\n".encode()

    def _b64(self, text: str) -> str | None:
        if text == "=":
            return ""
        try:
            return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            self._state = _State.AUTHORIZATION
            self._error("Cannot decode response")
            return None

    # -- TRANSACTION --------------------------------------------------------------------

    def _number(self, text: str) -> int | None:
        """A message number that exists and is not deleted, or None (error sent)."""
        if not text.isdigit() or len(text) > 9:
            self._error("Invalid message number")
            return None
        n = int(text)
        if not 1 <= n <= len(self._messages):
            self._error("No such message")
            return None
        if n - 1 in self._deleted:
            self._error("Message is deleted")
            return None
        return n

    def _live(self) -> list[tuple[int, Message]]:
        return [(i + 1, m) for i, m in enumerate(self._messages) if i not in self._deleted]

    def _cmd_stat(self, arg: str) -> None:
        live = self._live()
        self._ok(f"{len(live)} {sum(m.size for _, m in live)}")

    def _listing(self, arg: str, fmt: Callable[[int, Message], str], title: str) -> None:
        if arg:
            n = self._number(arg)
            if n is not None:
                self._ok(fmt(n, self._messages[n - 1]))
            return
        live = self._live()
        self._ok(f"{len(live)} messages{title}")
        body = "".join(fmt(n, m) + "\r\n" for n, m in live)
        self._out += body.encode() + b".\r\n"

    def _cmd_list(self, arg: str) -> None:
        self._listing(arg, lambda n, m: f"{n} {m.size}", "")

    def _cmd_uidl(self, arg: str) -> None:
        self._listing(arg, lambda n, m: f"{n} {m.uidl}", " (unique ids)")

    def _cmd_retr(self, arg: str) -> Fetch | None:
        n = self._number(arg)
        return None if n is None else Fetch(n, self._messages[n - 1], None)

    def _cmd_top(self, arg: str) -> Fetch | None:
        parts = arg.split()
        if len(parts) != 2 or not parts[1].isdigit() or len(parts[1]) > 9:
            return self._error("Syntax: TOP msg n")
        n = self._number(parts[0])
        return None if n is None else Fetch(n, self._messages[n - 1], int(parts[1]))

    def _cmd_dele(self, arg: str) -> None:
        n = self._number(arg)
        if n is not None:
            self._deleted.add(n - 1)
            self._ok(f"Message {n} deleted")

    def _cmd_rset(self, arg: str) -> None:
        self._deleted.clear()
        live = self._live()
        self._ok(f"{len(live)} messages ({sum(m.size for _, m in live)} octets)")

    def _cmd_noop(self, arg: str) -> None:
        self._ok("")

    # -- helpers ------------------------------------------------------------------------

    def _ok(self, text: str) -> None:
        if not self.closed:
            self._out += (f"+OK {text}".rstrip() + "\r\n").encode("utf-8")

    def _err(self, text: str) -> None:
        if not self.closed:
            clean = text.replace("\r", " ").replace("\n", " ")
            self._out += f"-ERR {clean}\r\n".encode("utf-8", errors="replace")

    def _close(self) -> None:
        self.closed = True
        self._state = _State.CLOSED

    def _count_error(self) -> None:
        self.errors += 1
        if self.errors >= self.settings.max_errors and not self.closed:
            self._err("[SYS/PERM] Too many errors, closing connection")
            self._close()

    def _error(self, text: str) -> None:
        self._err(text)
        self._count_error()


def _dot_stuff(data: bytes) -> bytes:
    """Multi-line response body: leading dots doubled, CRLF ends, ``.`` terminator."""
    body = data.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _top(data: bytes, lines: int) -> bytes:
    """The header, the blank line and the first ``lines`` lines of the body."""
    idx = data.find(b"\r\n\r\n")
    if idx < 0:
        return data
    head, body = data[: idx + 4], data[idx + 4:]
    if lines == 0:
        return head
    taken = body.split(b"\r\n")[:lines]
    return head + b"\r\n".join(taken) + b"\r\n"


_AUTH_COMMANDS: dict[str, Callable[[Pop3ServerConnection, str], Event | None]] = {
    "CAPA": Pop3ServerConnection._cmd_capa,
    "QUIT": Pop3ServerConnection._cmd_quit,
    "USER": Pop3ServerConnection._cmd_user,
    "PASS": Pop3ServerConnection._cmd_pass,
    "STLS": Pop3ServerConnection._cmd_stls,
    "AUTH": Pop3ServerConnection._cmd_auth,
}
_TRANSACTION_COMMANDS: dict[str, Callable[[Pop3ServerConnection, str], Event | None]] = {
    "CAPA": Pop3ServerConnection._cmd_capa,
    "QUIT": Pop3ServerConnection._cmd_quit,
    "STAT": Pop3ServerConnection._cmd_stat,
    "LIST": Pop3ServerConnection._cmd_list,
    "UIDL": Pop3ServerConnection._cmd_uidl,
    "RETR": Pop3ServerConnection._cmd_retr,
    "TOP": Pop3ServerConnection._cmd_top,
    "DELE": Pop3ServerConnection._cmd_dele,
    "RSET": Pop3ServerConnection._cmd_rset,
    "NOOP": Pop3ServerConnection._cmd_noop,
}
