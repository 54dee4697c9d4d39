# mypy: disable-error-code="func-returns-value"
"""The SMTP / submission / LMTP server session as a sans-IO state machine.

Bytes go in with :meth:`SmtpServerConnection.receive_data`; replies come out of
:meth:`~SmtpServerConnection.data_to_send`; decisions the session cannot take alone
(accept this sender, this recipient, this message, these credentials) come out of
:meth:`~SmtpServerConnection.next_event` as events. While an event is unanswered the
session reads no further command, so pipelined commands (RFC 2920) are answered
strictly in order. The caller answers with :meth:`~SmtpServerConnection.answer`.

Everything protocol-level is decided here, once for the three modes: command syntax
and sequence (RFC 5321 4.1.4), EHLO/LHLO capabilities, SIZE (RFC 1870), 8BITMIME
(RFC 6152), ENHANCEDSTATUSCODES (RFC 2034), SMTPUTF8 (RFC 6531), DSN parameters
(RFC 3461), AUTH PLAIN/LOGIN (RFC 4954, 4616), STARTTLS (RFC 3207, discarding
anything pipelined after it), LMTP's one reply per recipient (RFC 2033 4.2), and the
limits: line length, message size, recipients, errors and command rate.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from protocols.smtp.address import (
    Path,
    PathError,
    parse_params,
    parse_path,
    split_arg,
    xtext_decode,
)
from protocols.smtp.limits import TokenBucket
from protocols.smtp.reply import Reply


class Mode(enum.StrEnum):
    MX = "smtp"
    SUBMISSION = "submission"
    LMTP = "lmtp"


@dataclass(frozen=True)
class Settings:
    mode: Mode
    hostname: str
    max_message_size: int = 52428800
    max_recipients: int = 1000
    max_line_length: int = 2048
    max_data_line_length: int = 65536
    max_errors: int = 20
    command_rate: float = 100.0
    command_burst: int = 2000
    starttls: bool = False
    """The listener offers STARTTLS (plain-text listener with a certificate)."""
    tls: bool = False
    """The connection is already encrypted (implicit TLS)."""
    require_tls_for_auth: bool = True
    auth_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")


# -- events ------------------------------------------------------------------------------

@dataclass(frozen=True)
class MailFrom:
    """MAIL FROM: the reverse-path and its parameters."""

    sender: Path
    size: int | None = None
    body: str | None = None
    smtputf8: bool = False
    ret: str | None = None
    """DSN RET: FULL or HDRS."""
    envid: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RcptTo:
    """RCPT TO: one forward-path and its DSN parameters."""

    recipient: Path
    notify: frozenset[str] | None = None
    """DSN NOTIFY: {"NEVER"} or a subset of SUCCESS, FAILURE, DELAY; None = not given."""
    orcpt: str | None = None
    """DSN ORCPT as ``type;address`` (decoded)."""


@dataclass(frozen=True)
class MessageReceived:
    """The end of DATA: the whole envelope and the message (dot-unstuffed)."""

    mail: MailFrom
    recipients: tuple[RcptTo, ...]
    data: bytes


@dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    authzid: str
    login: str
    password: str


@dataclass(frozen=True)
class StartTls:
    """The 220 for STARTTLS is queued: switch the transport to TLS before writing more."""


Event = MailFrom | RcptTo | MessageReceived | AuthAttempt | StartTls


class _State(enum.Enum):
    GREET = "greet"           # waiting for HELO/EHLO/LHLO
    READY = "ready"           # greeted, no transaction
    MAIL = "mail"             # MAIL accepted (RCPTs may follow)
    DATA = "data"             # reading the message
    AUTH_PLAIN = "auth_plain"  # waiting for the PLAIN response
    AUTH_USER = "auth_user"   # LOGIN: waiting for the user name
    AUTH_PASS = "auth_pass"  # noqa: S105 - LOGIN: waiting for the password
    CLOSED = "closed"


_TOO_LONG = object()
_NOTIFY = frozenset({"SUCCESS", "FAILURE", "DELAY"})
_USERNAME_B64 = base64.b64encode(b"Username:").decode()
_PASSWORD_B64 = base64.b64encode(b"Password:").decode()


class SmtpServerConnection:
    """One connection's protocol state. Not thread-safe; one per connection."""

    def __init__(self, settings: Settings, now: Callable[[], float]) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.tls = settings.tls
        self.helo: str | None = None
        self.esmtp = False
        self.authenticated = False
        self.errors = 0
        self.closed = False
        self._bucket = TokenBucket(settings.command_rate, settings.command_burst, now)
        self._state = _State.GREET
        self._buf = bytearray()
        self._out = bytearray()
        self._discarding = False
        self._pending: Event | None = None
        self._mail: MailFrom | None = None
        self._rcpts: list[RcptTo] = []
        self._rcpt_rejected = 0
        self._data_scan = 0
        self._data_overflow = False
        self._auth_mech = ""
        self._auth_user = ""

    # -- I/O --------------------------------------------------------------------------

    def greeting(self) -> None:
        kind = "LMTP" if self.mode is Mode.LMTP else "ESMTP"
        self._send(Reply(220, None, f"{self.settings.hostname} {kind} ready"))

    def refuse(self, reply: Reply) -> None:
        """Answer a connection that is not served (limits) and close."""
        self._send(Reply(reply.code, reply.status, reply.text, close=True))

    def timeout(self) -> None:
        self._send(Reply(421, "4.4.2", f"{self.settings.hostname} Error: timeout exceeded",
                         close=True))

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
    def in_transaction(self) -> bool:
        return self._state in (_State.MAIL, _State.DATA)

    @property
    def waiting(self) -> bool:
        """An event is waiting for :meth:`answer`."""
        return self._pending is not None

    @property
    def auth_offered(self) -> bool:
        return (self.mode is Mode.SUBMISSION
                and (self.tls or not self.settings.require_tls_for_auth))

    def capabilities(self) -> list[str]:
        caps = ["PIPELINING", f"SIZE {self.settings.max_message_size}", "8BITMIME",
                "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN"]
        if self.settings.starttls and not self.tls:
            caps.append("STARTTLS")
        if self.auth_offered:
            caps.append("AUTH " + " ".join(self.settings.auth_mechanisms))
        return caps

    # -- events -----------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """The next decision to take, or None (need more bytes, waiting, or closed)."""
        while self._pending is None and not self.closed:
            if self._state is _State.DATA:
                message = self._read_data()
                if message is not None or self._state is _State.DATA:
                    return message
                continue
            line = self._next_line()
            if line is None:
                return None
            if line is _TOO_LONG:
                self._error(Reply(500, "5.5.2", "Line too long"))
                if self._state in (_State.AUTH_PLAIN, _State.AUTH_USER, _State.AUTH_PASS):
                    self._state = _State.READY
                continue
            assert isinstance(line, bytes)
            event = self._line(line)
            if isinstance(event, StartTls):
                return event
            if event is not None:
                self._pending = event
                return event
        return None

    def answer(self, reply: Reply | Sequence[Reply]) -> None:
        """Answer the pending event (LMTP's message: one reply per recipient, in order)."""
        event = self._pending
        if event is None:
            raise RuntimeError("no event is waiting for an answer")
        self._pending = None
        replies = [reply] if isinstance(reply, Reply) else list(reply)
        if isinstance(event, MessageReceived):
            want = len(event.recipients) if self.mode is Mode.LMTP else 1
            if len(replies) != want:
                raise ValueError(f"{want} replies needed, got {len(replies)}")
            self._reset_transaction()
            for r in replies:
                self._send(r)
            return
        (one,) = replies
        if isinstance(event, MailFrom):
            if one.positive:
                self._mail = event
                self._state = _State.MAIL
        elif isinstance(event, RcptTo):
            if one.positive:
                self._rcpts.append(event)
            else:
                self._rcpt_rejected += 1
                if one.code >= 500:
                    self._count_error()
        elif isinstance(event, AuthAttempt):
            if one.code == 235:
                self.authenticated = True
            elif one.code >= 500:
                self._count_error()
        self._send(one)

    # -- lines ------------------------------------------------------------------------

    def _next_line(self) -> bytes | object | None:
        limit = self.settings.max_line_length
        while True:
            idx = self._buf.find(b"\n")
            if idx < 0:
                if len(self._buf) > limit:
                    self._buf.clear()
                    self._discarding = True
                return None
            line = bytes(self._buf[:idx])
            del self._buf[: idx + 1]
            if self._discarding:
                self._discarding = False
                return _TOO_LONG
            if len(line) > limit:
                return _TOO_LONG
            return line[:-1] if line.endswith(b"\r") else line

    def _line(self, raw: bytes) -> Event | None:
        if self._state in (_State.AUTH_PLAIN, _State.AUTH_USER, _State.AUTH_PASS):
            return self._auth_continue(raw)
        if not self._bucket.take():
            self._send(Reply(421, "4.7.0", f"{self.settings.hostname} Too many commands, "
                             "slow down", close=True))
            return None
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._error(Reply(500, "5.5.2", "Invalid characters in command"))
            return None
        if "\x00" in line:
            self._error(Reply(500, "5.5.2", "NUL in command"))
            return None
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        arg = arg.strip(" \t")
        handler = _COMMANDS.get(verb)
        if handler is None:
            self._error(Reply(500, "5.5.2", "Command unrecognized" if verb
                              else "Empty command"))
            return None
        return handler(self, arg)

    # -- commands ---------------------------------------------------------------------

    def _hello(self, arg: str, verb: str) -> None:
        lmtp = self.mode is Mode.LMTP
        if (verb == "LHLO") != lmtp:
            self._error(Reply(500, "5.5.1", "Use LHLO" if lmtp else "Command unrecognized"))
            return
        if not arg or " " in arg:
            self._error(Reply(501, "5.5.4", f"Syntax: {verb} hostname"))
            return
        self._reset_transaction()
        self.helo = arg
        self.esmtp = verb != "HELO"
        self._state = _State.READY
        host = self.settings.hostname
        if verb == "HELO":
            self._send(Reply(250, None, host))
        else:
            self._send(Reply(250, None, (host, *self.capabilities())))

    def _cmd_helo(self, arg: str) -> None:
        self._hello(arg, "HELO")

    def _cmd_ehlo(self, arg: str) -> None:
        self._hello(arg, "EHLO")

    def _cmd_lhlo(self, arg: str) -> None:
        self._hello(arg, "LHLO")

    def _cmd_mail(self, arg: str) -> MailFrom | None:
        if self._state is _State.GREET:
            return self._error(Reply(503, "5.5.1", "Send hello first"))
        if self.in_transaction:
            return self._error(Reply(503, "5.5.1", "Nested MAIL command"))
        if self.mode is Mode.SUBMISSION and not self.authenticated:
            return self._error(Reply(530, "5.7.0", "Authentication required"))
        try:
            path_text, param_text = split_arg(arg, "FROM")
            params = parse_params(param_text) if param_text else {}
            if params and not self.esmtp:
                raise PathError("Parameters need EHLO", "5.5.4", 555)
            smtputf8 = "SMTPUTF8" in params
            if smtputf8 and params["SMTPUTF8"] is not None:
                raise PathError("SMTPUTF8 takes no value", "5.5.4", 501)
            sender = parse_path(path_text, allow_null=True, utf8=smtputf8)
            return self._mail_params(sender, params, smtputf8)
        except PathError as exc:
            return self._error(Reply(exc.code, exc.status, str(exc)))

    def _mail_params(self, sender: Path, params: dict[str, str | None],
                     smtputf8: bool) -> MailFrom | None:
        size: int | None = None
        body = ret = envid = None
        for name, value in params.items():
            if name == "SIZE":
                if value is None or not value.isdigit() or len(value) > 20:
                    raise PathError("Bad SIZE", "5.5.4", 501)
                size = int(value)
                if size > self.settings.max_message_size:
                    self._send(Reply(552, "5.3.4", "Message size exceeds fixed limit"))
                    return None
            elif name == "BODY":
                body = (value or "").upper()
                if body not in ("7BIT", "8BITMIME"):
                    raise PathError("Unsupported BODY type", "5.5.4", 501)
            elif name == "RET":
                ret = (value or "").upper()
                if ret not in ("FULL", "HDRS"):
                    raise PathError("Bad RET (FULL or HDRS)", "5.5.4", 501)
            elif name == "ENVID":
                if value is None:
                    raise PathError("Bad ENVID", "5.5.4", 501)
                envid = xtext_decode(value)
                if len(envid) > 100:
                    raise PathError("ENVID too long", "5.5.4", 501)
            elif name in ("AUTH", "SMTPUTF8"):  # RFC 4954 5: accepted, not trusted
                continue
            else:
                raise PathError(f"Unsupported parameter {name}", "5.5.4", 555)
        return MailFrom(sender, size, body, smtputf8, ret, envid, params)

    def _cmd_rcpt(self, arg: str) -> RcptTo | None:
        if self._state is not _State.MAIL:
            if self.mode is Mode.SUBMISSION and not self.authenticated:
                return self._error(Reply(530, "5.7.0", "Authentication required"))
            return self._error(Reply(503, "5.5.1", "Need MAIL before RCPT"))
        if len(self._rcpts) >= self.settings.max_recipients:
            self._send(Reply(452, "4.5.3", "Too many recipients"))
            return None
        assert self._mail is not None
        try:
            path_text, param_text = split_arg(arg, "TO")
            params = parse_params(param_text) if param_text else {}
            if params and not self.esmtp:
                raise PathError("Parameters need EHLO", "5.5.4", 555)
            host = self.settings.hostname
            rcpt = parse_path(path_text, allow_null=False, utf8=self._mail.smtputf8,
                              postmaster_domain=host)
            notify: frozenset[str] | None = None
            orcpt: str | None = None
            for name, value in params.items():
                if name == "NOTIFY":
                    items = frozenset((value or "").upper().split(","))
                    if not (items == {"NEVER"} or (items and items <= _NOTIFY)):
                        raise PathError("Bad NOTIFY", "5.5.4", 501)
                    notify = items
                elif name == "ORCPT":
                    kind, sep, addr = (value or "").partition(";")
                    if not sep or not kind or not addr:
                        raise PathError("Bad ORCPT", "5.5.4", 501)
                    orcpt = f"{kind};{xtext_decode(addr)}"
                else:
                    raise PathError(f"Unsupported parameter {name}", "5.5.4", 555)
            return RcptTo(rcpt, notify, orcpt)
        except PathError as exc:
            return self._error(Reply(exc.code, exc.status, str(exc)))

    def _cmd_data(self, arg: str) -> None:
        if arg:
            self._error(Reply(501, "5.5.4", "DATA takes no arguments"))
        elif self._state is not _State.MAIL:
            self._error(Reply(503, "5.5.1", "Need MAIL command"))
        elif not self._rcpts:
            if self._rcpt_rejected:
                self._send(Reply(554, "5.5.1", "No valid recipients"))
            else:
                self._error(Reply(503, "5.5.1", "Need RCPT command"))
        else:
            self._state = _State.DATA
            self._data_scan = 0
            self._data_overflow = False
            self._send(Reply(354, None, "End data with <CR><LF>.<CR><LF>"))

    def _cmd_rset(self, arg: str) -> None:
        if arg:
            self._error(Reply(501, "5.5.4", "RSET takes no arguments"))
            return
        self._reset_transaction()
        self._send(Reply(250, "2.0.0", "Flushed"))

    def _cmd_noop(self, arg: str) -> None:
        self._send(Reply(250, "2.0.0", "OK"))

    def _cmd_quit(self, arg: str) -> None:
        self._send(Reply(221, "2.0.0", f"{self.settings.hostname} closing connection",
                         close=True))

    def _cmd_vrfy(self, arg: str) -> None:
        if not arg:
            self._error(Reply(501, "5.5.4", "Syntax: VRFY address"))
            return
        self._send(Reply(252, "2.5.2", "Cannot VRFY user, but will accept message and "
                                       "attempt delivery"))

    def _cmd_expn(self, arg: str) -> None:
        self._send(Reply(502, "5.5.1", "EXPN not available"))

    def _cmd_help(self, arg: str) -> None:
        self._send(Reply(214, "2.0.0", "See RFC 5321 (commands: EHLO HELO MAIL RCPT DATA "
                                       "RSET NOOP QUIT VRFY STARTTLS AUTH)"))

    def _cmd_starttls(self, arg: str) -> StartTls | None:
        if not self.settings.starttls:
            return self._error(Reply(502, "5.5.1", "STARTTLS not available"))
        if self.tls:
            return self._error(Reply(503, "5.5.1", "TLS already active"))
        if arg:
            return self._error(Reply(501, "5.5.4", "STARTTLS takes no arguments"))
        if self.in_transaction:
            return self._error(Reply(503, "5.5.1", "STARTTLS not allowed in a transaction"))
        # RFC 3207 4.2: forget everything, including pipelined plain text (CVE-2011-0411).
        self._buf.clear()
        self._reset_transaction()
        self._state = _State.GREET
        self.helo = None
        self.esmtp = False
        self._send(Reply(220, "2.0.0", "Ready to start TLS"))
        return StartTls()

    def _cmd_auth(self, arg: str) -> AuthAttempt | None:
        if self.mode is not Mode.SUBMISSION or not self.esmtp:
            return self._error(Reply(503, "5.5.1", "AUTH not enabled"))
        if self.authenticated:
            return self._error(Reply(503, "5.5.1", "Already authenticated"))
        if self.in_transaction:
            return self._error(Reply(503, "5.5.1", "AUTH not allowed in a transaction"))
        if not self.auth_offered:
            return self._error(Reply(538, "5.7.11", "Encryption required for requested "
                                                    "authentication mechanism"))
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        if mech not in self.settings.auth_mechanisms:
            return self._error(Reply(504, "5.5.4", "Unrecognized authentication type"))
        initial = initial.strip()
        self._auth_mech = mech
        if mech == "PLAIN":
            if initial:
                return self._plain(initial)
            self._state = _State.AUTH_PLAIN
            self._send(Reply(334, None, ""))
            return None
        if initial:
            return self._login_user(initial)
        self._state = _State.AUTH_USER
        self._send(Reply(334, None, _USERNAME_B64))
        return None

    def _auth_continue(self, raw: bytes) -> AuthAttempt | None:
        state = self._state
        self._state = _State.READY
        text = raw.decode("ascii", errors="replace").strip()
        if text == "*":
            self._send(Reply(501, "5.0.0", "Authentication cancelled"))
            return None
        if state is _State.AUTH_PLAIN:
            return self._plain(text)
        if state is _State.AUTH_USER:
            return self._login_user(text)
        password = self._b64(text)
        if password is None:
            return None
        return AuthAttempt("LOGIN", "", self._auth_user, password)

    def _plain(self, text: str) -> AuthAttempt | None:
        decoded = self._b64(text)
        if decoded is None:
            return None
        parts = decoded.split("\x00")
        if len(parts) != 3 or not parts[1]:
            return self._error(Reply(501, "5.5.2", "Malformed PLAIN response"))
        return AuthAttempt("PLAIN", parts[0], parts[1], parts[2])

    def _login_user(self, text: str) -> None:
        user = self._b64(text)
        if user is None:
            return
        self._auth_user = user
        self._state = _State.AUTH_PASS
        self._send(Reply(334, None, _PASSWORD_B64))

    def _b64(self, text: str) -> str | None:
        if text == "=":
            return ""
        try:
            return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            self._state = _State.READY
            self._error(Reply(501, "5.5.2", "Cannot decode response"))
            return None

    # -- DATA -------------------------------------------------------------------------

    def _read_data(self) -> MessageReceived | None:
        buf = self._buf
        if self._data_scan == 0 and buf.startswith(b".\r\n"):
            end, body_end = 3, 0
        else:
            idx = buf.find(b"\r\n.\r\n", max(0, self._data_scan - 4))
            if idx < 0:
                self._data_scan = len(buf)
                if len(buf) > self.settings.max_message_size + 65536:
                    # Over the limit: keep reading to the end, storing nothing more.
                    self._data_overflow = True
                    del buf[:-4]
                    self._data_scan = 4
                return None
            end, body_end = idx + 5, idx + 2
        raw = bytes(buf[:body_end])
        del buf[:end]
        self._state = _State.MAIL
        assert self._mail is not None
        if self._data_overflow or len(raw) > self.settings.max_message_size + 65536:
            return self._reject_message(Reply(552, "5.3.4", "Message size exceeds fixed "
                                                            "maximum message size"))
        data = raw[1:] if raw.startswith(b".") else raw
        data = data.replace(b"\r\n.", b"\r\n")
        if len(data) > self.settings.max_message_size:
            return self._reject_message(Reply(552, "5.3.4", "Message size exceeds fixed "
                                                            "maximum message size"))
        limit = self.settings.max_data_line_length
        if len(data) > limit and re.search(rb"[^\r\n]{%d}" % (limit + 1), data):
            return self._reject_message(Reply(552, "5.3.4", f"Message has a line longer "
                                                            f"than {limit} bytes"))
        event = MessageReceived(self._mail, tuple(self._rcpts), data)
        self._pending = event
        return event

    def _reject_message(self, reply: Reply) -> None:
        count = len(self._rcpts) if self.mode is Mode.LMTP else 1
        self._reset_transaction()
        for _ in range(count):
            self._send(reply)

    # -- helpers ----------------------------------------------------------------------

    def _reset_transaction(self) -> None:
        self._mail = None
        self._rcpts = []
        self._rcpt_rejected = 0
        if self._state in (_State.MAIL, _State.DATA):
            self._state = _State.READY

    def _send(self, reply: Reply) -> None:
        if self.closed:
            return
        self._out += reply.encode(enhanced=self.esmtp or reply.code == 421)
        if reply.close:
            self.closed = True
            self._state = _State.CLOSED

    def _count_error(self) -> None:
        self.errors += 1

    def _error(self, reply: Reply) -> None:
        """Send an error reply; close with 421 once ``max_errors`` is reached."""
        self._send(reply)
        self._count_error()
        if self.errors >= self.settings.max_errors:
            self._send(Reply(421, "4.7.0", f"{self.settings.hostname} Too many errors, "
                                           "closing connection", close=True))


_COMMANDS: dict[str, Callable[[SmtpServerConnection, str], Event | None]] = {
    "HELO": SmtpServerConnection._cmd_helo,
    "EHLO": SmtpServerConnection._cmd_ehlo,
    "LHLO": SmtpServerConnection._cmd_lhlo,
    "MAIL": SmtpServerConnection._cmd_mail,
    "RCPT": SmtpServerConnection._cmd_rcpt,
    "DATA": SmtpServerConnection._cmd_data,
    "RSET": SmtpServerConnection._cmd_rset,
    "NOOP": SmtpServerConnection._cmd_noop,
    "QUIT": SmtpServerConnection._cmd_quit,
    "VRFY": SmtpServerConnection._cmd_vrfy,
    "EXPN": SmtpServerConnection._cmd_expn,
    "HELP": SmtpServerConnection._cmd_help,
    "STARTTLS": SmtpServerConnection._cmd_starttls,
    "AUTH": SmtpServerConnection._cmd_auth,
}
