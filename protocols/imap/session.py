"""One IMAP connection's state machine (RFC 9051 / RFC 3501 and the extensions).

The session consumes the parser's events strictly in order and writes responses to
a :class:`Connection` (the Twisted adapter, or a test double). It knows IMAP; the
mailbox logic — folder names, UID/MSN maps, flags, change tracking — is
:mod:`groupware.handlers.mail`, and credentials are checked by the auth handler.

States: not authenticated -> authenticated -> selected -> logout (RFC 9051 3).
Untagged updates (EXISTS, FETCH FLAGS, EXPUNGE/VANISHED) come from the store's
change log after every command in the selected state, and at once during IDLE;
expunges are held back during FETCH, STORE and SEARCH as RFC 9051 7.4.1 requires.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import contextvars
import datetime
import enum
import logging
import re
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from groupware.errors import GroupwareError, NotFound
from groupware.handlers.mail import DELIMITER, INBOX, FlagChange, MailFolder, MessageState
from groupware.logs import set_log_context
from groupware.notifier import Event, Subscription

from . import commands as c
from .encoder import Atom, BodyData, BodyStructure, ResponseCode, ResponseEncoder, ThreadNode
from .errors import imap_status
from .events import IdleDone, NeedContinuation, ParserLimits, ProtocolViolation, SaslResponse
from .fetch_items import FetchBinary, FetchBinarySize, FetchBody, FetchItem, FetchSimple, Section
from .mime_structure import (
    MimeLimitError,
    Part,
    SectionContent,
    UnknownEncoding,
    binary_content,
    envelope_of,
    parse_message,
    section_content,
)
from .parser import CommandParser
from .search import (
    SUPPORTED_CHARSETS,
    Candidate,
    matches,
    needs_info,
    needs_mime,
    sort_key,
    thread_orderedsubject,
    thread_references,
    uses_modseq,
)
from .search_keys import SearchAll, SearchKey
from .sequence import SequenceSet, format_sequence_set

if TYPE_CHECKING:
    from groupware.config.sections import ImapConfig
    from groupware.handlers.auth import AuthHandler
    from groupware.handlers.mail import MailHandler, MailSession, SelectedFolder

logger = logging.getLogger(__name__)

PERMANENT_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "$Forwarded",
                   "\\*")
FOLDER_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "$Forwarded")
WRITE_CHUNK = 1 << 16
FLUSH_AT = 1 << 16


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class Connection(Protocol):
    """What the session needs from the transport (the Twisted adapter implements it)."""

    peer: str
    secure: bool
    tls_available: bool
    loopback: bool

    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def start_tls(self) -> None: ...
    def start_compress(self) -> None: ...
    def close(self) -> None: ...


class UserConnections:
    """Counts open connections per key (a user, a client address) against a limit."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def acquire(self, user: str, limit: int) -> bool:
        n = self.counts.get(user, 0)
        if n >= limit:
            return False
        self.counts[user] = n + 1
        return True

    def release(self, user: str) -> None:
        n = self.counts.get(user, 0) - 1
        if n <= 0:
            self.counts.pop(user, None)
        else:
            self.counts[user] = n


@dataclass
class ImapContext:
    """Process-wide dependencies every session shares."""

    config: ImapConfig
    auth: AuthHandler
    mail: MailHandler
    hostname: str
    version: str
    users: UserConnections
    """Open sessions per user (``max_connections_per_user``)."""
    addresses: UserConnections
    """Open connections per client address (``max_connections_per_address``)."""


class Failure(Exception):
    """A command fails with ``status [code] text`` (raised inside command handlers)."""

    def __init__(self, status: str, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code


def bad(text: str) -> Failure:
    return Failure("BAD", text)


def no(text: str, code: str | None = None) -> Failure:
    return Failure("NO", text, code)


# Commands and the states they are valid in.
_ANY = {State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED}
_AUTH = {State.AUTHENTICATED, State.SELECTED}
_SEL = {State.SELECTED}
_STATES: dict[type[c.Command], set[State]] = {
    c.Capability: _ANY, c.Noop: _ANY, c.Logout: _ANY, c.Id: _ANY,
    c.StartTLS: {State.NOT_AUTHENTICATED}, c.Authenticate: {State.NOT_AUTHENTICATED},
    c.Login: {State.NOT_AUTHENTICATED},
    c.Enable: _AUTH, c.Compress: _AUTH, c.Select: _AUTH, c.Examine: _AUTH, c.Create: _AUTH,
    c.Delete: _AUTH, c.Rename: _AUTH, c.Subscribe: _AUTH, c.Unsubscribe: _AUTH,
    c.List: _AUTH, c.Lsub: _AUTH, c.Namespace: _AUTH, c.Status: _AUTH, c.Append: _AUTH,
    c.GetQuota: _AUTH, c.GetQuotaRoot: _AUTH, c.SetQuota: _AUTH, c.Idle: _AUTH,
    c.Check: _SEL, c.Close: _SEL, c.Unselect: _SEL, c.Expunge: _SEL, c.Search: _SEL,
    c.Fetch: _SEL, c.Store: _SEL, c.Copy: _SEL, c.Move: _SEL, c.Sort: _SEL, c.Thread: _SEL,
}
# Expunges may not be announced while answering these (RFC 9051 7.4.1).
_NO_EXPUNGE = (c.Fetch, c.Store, c.Search, c.Sort, c.Thread)


def _flags(flags: Iterable[str]) -> tuple[Atom, ...]:
    return tuple(Atom(f.encode("utf-8")) for f in sorted(flags))


def _to_timestamp(value: datetime.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _list_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


class IMAPSession:
    """Protocol logic of one connection; see the module docstring."""

    def __init__(self, ctx: ImapContext, conn: Connection) -> None:
        self.ctx = ctx
        self.conn = conn
        cfg = ctx.config
        self.limits = ParserLimits(max_line=cfg.max_line, max_literal=cfg.max_literal)
        self.parser = CommandParser(self.limits)
        self.enc = ResponseEncoder()
        self.state = State.NOT_AUTHENTICATED
        self.user: str | None = None
        self.mail: MailSession | None = None
        self.selected: SelectedFolder | None = None
        self.condstore = False
        self.qresync = False
        self.rev2 = False
        self.utf8 = False
        self.compressed = False
        self.saved: list[int] = []
        self._out: list[bytes] = []
        self._out_size = 0
        self._lock = asyncio.Lock()
        self._pump_task: asyncio.Task[None] | None = None
        self._sasl: tuple[bytes, str, list[bytes]] | None = None
        self._idle_tag: bytes | None = None
        self._idle_task: asyncio.Task[None] | None = None
        self._watch: Subscription | None = None
        self._dirty = False
        self._bad_count = 0
        self._tokens = float(cfg.max_commands_per_second) * 10
        self._tokens_at = time.monotonic()
        self._rate_logged = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._user_slot = False
        self._parse_cache: dict[int, tuple[bytes, Part]] = {}
        self._log_ctx = contextvars.copy_context()

    # --- connection lifecycle --------------------------------------------------------

    def start(self) -> None:
        """Send the greeting (with the capability list, as Dovecot does)."""
        self._log_ctx.run(set_log_context, protocol="imap", peer=self.conn.peer)
        self._write(self.enc.untagged_status(
            "OK", f"{self.ctx.hostname} groupware IMAP ready",
            ResponseCode.capability(self.capabilities())))
        self._flush_now()
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        self._arm_timer()
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = self._spawn(self._pump())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task whose log lines carry this session's context."""
        return asyncio.get_running_loop().create_task(coro, context=self._log_ctx.copy())

    def connection_lost(self) -> None:
        self.state = State.LOGOUT
        if self._timer is not None:
            self._timer.cancel()
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._idle_task is not None:
            self._idle_task.cancel()
        if self._user_slot and self.user is not None:
            self.ctx.users.release(self.user)
            self._user_slot = False
        if self._pump_task is not None and not self._pump_task.done():
            self._pump_task.cancel()

    def is_busy(self) -> bool:
        """Mid-command (shutdown waits for it); idling sessions are not busy."""
        return self._lock.locked()

    def _arm_timer(self) -> None:
        if self.state is State.LOGOUT:
            return
        cfg = self.ctx.config
        if self._idle_tag is not None:
            timeout = cfg.idle_timeout
        elif self.state is State.NOT_AUTHENTICATED:
            timeout = cfg.login_timeout
        else:
            timeout = cfg.autologout
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(timeout, self._timed_out)

    def _timed_out(self) -> None:
        if self.state is State.LOGOUT or self.is_busy():
            return
        logger.info("imap: closing inactive connection (state %s)", self.state.value)
        self._write(self.enc.bye("Disconnected for inactivity."))
        self._flush_now()
        self._close()

    def _close(self) -> None:
        self.state = State.LOGOUT
        self.conn.close()

    # --- output ---------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)

    def _flush_now(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self._out_size = 0
            self.conn.write(data)

    async def _flush(self) -> None:
        self._flush_now()
        await self.conn.drain()

    async def _maybe_flush(self) -> None:
        if self._out_size >= FLUSH_AT:
            await self._flush()

    def _tagged(self, tag: bytes, status: str, text: str, code: str | None = None,
                args: bytes = b"") -> None:
        rc = ResponseCode(code, args) if code else None
        self._write(self.enc.tagged(tag, status, text, rc))

    # --- the event pump -----------------------------------------------------------------

    async def _pump(self) -> None:
        while self.state is not State.LOGOUT:
            event = self.parser.next_event()
            if event is None:
                break
            async with self._lock:
                try:
                    await self._event(event)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("imap: internal error")
                    tag = getattr(event, "tag", None) or b"*"
                    self._out.clear()
                    self._tagged(tag, "NO", "Internal error, the event was logged.",
                                 "SERVERBUG")
                await self._flush()
        if self.parser.closed and self.state is not State.LOGOUT:
            self._close()

    async def _event(self, event: Any) -> None:
        if isinstance(event, ProtocolViolation):
            await self._violation(event)
        elif isinstance(event, NeedContinuation):
            self._write(self.enc.continuation("Ready for literal data"))
        elif isinstance(event, SaslResponse):
            await self._sasl_step(event)
        elif isinstance(event, IdleDone):
            await self._idle_done(event)
        else:
            await self._command(event)

    async def _violation(self, v: ProtocolViolation) -> None:
        logger.info("imap: refused input: %s%s", v.message, f" [{v.code}]" if v.code else "")
        if v.fatal:
            self._write(self.enc.bye(v.message))
            await self._flush()
            self._close()
            return
        if v.tag is not None and self._idle_tag == v.tag:
            self._idle_tag = None
        if v.tag is not None and self._sasl is not None and self._sasl[0] == v.tag:
            self._sasl = None
        if v.tag is None:
            self._write(self.enc.untagged_status(v.status, v.message))
        else:
            self._tagged(v.tag, v.status, v.message, v.code)
        if v.status == "BAD":
            self._count_bad()

    def _count_bad(self) -> None:
        self._bad_count += 1
        if self._bad_count >= self.ctx.config.max_bad_commands:
            logger.warning("imap: %d bad commands in a row, closing", self._bad_count)
            self._write(self.enc.bye("Too many invalid commands."))
            self._flush_now()
            self._close()

    def _rate_ok(self) -> bool:
        rate = self.ctx.config.max_commands_per_second
        now = time.monotonic()
        self._tokens = min(rate * 10, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        if now - self._rate_logged > 1:
            self._rate_logged = now
            logger.warning("imap: command rate above %.0f/s, refusing commands", rate)
        return False

    async def _command(self, cmd: c.Command) -> None:
        allowed = _STATES.get(type(cmd), set())
        if self.state not in allowed:
            if self.state is State.NOT_AUTHENTICATED:
                text = f"{cmd.name} needs authentication first"
            elif self.state is State.AUTHENTICATED and allowed >= _SEL:
                text = f"{cmd.name}: no mailbox selected"
            else:
                text = f"{cmd.name} is not allowed in the {self.state.value} state"
            self._tagged(cmd.tag, "BAD", text)
            self._count_bad()
            return
        if not self._rate_ok():
            self._tagged(cmd.tag, "NO", "Command rate limit exceeded, slow down.", "LIMIT")
            return
        handler = getattr(self, "_do_" + type(cmd).__name__.lower())
        try:
            text = await handler(cmd)
        except Failure as f:
            self._tagged(cmd.tag, f.status, f.text, f.code)
            if f.status == "BAD":
                self._count_bad()
            else:
                self._bad_count = 0
            return
        except GroupwareError as exc:
            status, code = imap_status(exc)
            self._tagged(cmd.tag, status, exc.message or "failed", code)
            self._bad_count = 0
            return
        self._bad_count = 0
        if text is None:
            return  # the handler answered (or will answer) itself
        if self.state is State.SELECTED and self.selected is not None and (
                self._dirty or isinstance(cmd, c.Noop | c.Check)):
            await self._send_updates(expunge=not (
                isinstance(cmd, _NO_EXPUNGE) and not getattr(cmd, "uid", False)))
        if isinstance(text, tuple):
            self._tagged(cmd.tag, "OK", text[0], text[1], text[2])
        else:
            self._tagged(cmd.tag, "OK", text)

    # --- capabilities --------------------------------------------------------------------

    def _plaintext_ok(self) -> bool:
        return self.conn.secure or (self.conn.loopback
                                    and self.ctx.config.allow_plaintext_loopback)

    def capabilities(self) -> list[str]:
        caps = ["IMAP4rev1", "IMAP4rev2", "SASL-IR", "ID", "ENABLE", "IDLE", "LITERAL+"]
        if self.state is State.NOT_AUTHENTICATED:
            if not self.conn.secure and self.conn.tls_available:
                caps.append("STARTTLS")
            if self._plaintext_ok():
                caps += ["AUTH=PLAIN", "AUTH=LOGIN"]
            else:
                caps.append("LOGINDISABLED")
            return caps
        caps += ["SORT", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "MULTIAPPEND",
                 "UNSELECT", "CHILDREN", "NAMESPACE", "UIDPLUS", "LIST-EXTENDED",
                 "LIST-STATUS", "SPECIAL-USE", "CONDSTORE", "QRESYNC", "ESEARCH",
                 "SEARCHRES", "WITHIN", "BINARY", "MOVE", "STATUS=SIZE", "QUOTA",
                 "QUOTA=RES-STORAGE", "UTF8=ACCEPT", f"APPENDLIMIT={self.ctx.config.max_literal}"]
        if self.ctx.config.compress and not self.compressed:
            caps.append("COMPRESS=DEFLATE")
        return caps

    # --- any state ------------------------------------------------------------------------

    async def _do_capability(self, cmd: c.Capability) -> str:
        self._write(self.enc.capability(self.capabilities()))
        return "CAPABILITY completed"

    async def _do_noop(self, cmd: c.Noop) -> str:
        return "NOOP completed"

    async def _do_check(self, cmd: c.Check) -> str:
        return "CHECK completed"

    async def _do_logout(self, cmd: c.Logout) -> None:
        self._write(self.enc.bye("Logging out"))
        self._tagged(cmd.tag, "OK", "LOGOUT completed")
        await self._flush()
        self._close()

    async def _do_id(self, cmd: c.Id) -> str:
        if cmd.params:
            logger.info("imap: client id %s", ", ".join(
                f"{k}={v}" for k, v in cmd.params[:10]))
        self._write(self.enc.id([("name", "groupware"), ("version", self.ctx.version),
                                 ("vendor", "groupware"), ("support-url", None)]))
        return "ID completed"

    # --- not authenticated -----------------------------------------------------------------

    async def _do_starttls(self, cmd: c.StartTLS) -> None:
        if self.conn.secure or not self.conn.tls_available:
            raise bad("TLS is not available on this connection")
        self._tagged(cmd.tag, "OK", "Begin TLS negotiation now")
        await self._flush()
        dropped = self.parser.take_unparsed()
        if dropped:
            logger.warning("imap: dropped %d bytes sent before the TLS handshake", len(dropped))
        self.conn.start_tls()

    async def _do_login(self, cmd: c.Login) -> None:
        if not self._plaintext_ok():
            raise no("Plaintext authentication is disabled; use STARTTLS first",
                     "PRIVACYREQUIRED")
        await self._authenticate(cmd.tag, cmd.username, cmd.password)

    async def _do_authenticate(self, cmd: c.Authenticate) -> None:
        mech = cmd.mechanism.upper()
        if mech not in ("PLAIN", "LOGIN"):
            raise no(f"Unsupported authentication mechanism {mech}", "CANNOT")
        if not self._plaintext_ok():
            raise no("Plaintext authentication is disabled; use STARTTLS first",
                     "PRIVACYREQUIRED")
        self._sasl = (cmd.tag, mech, [])
        if cmd.initial_response is not None:
            await self._sasl_data(cmd.initial_response)
        else:
            self._sasl_challenge(b"" if mech == "PLAIN" else b"Username:")

    def _sasl_challenge(self, data: bytes) -> None:
        assert self._sasl is not None
        self.parser.expect_sasl_response(self._sasl[0])
        self._write(self.enc.continuation(base64.b64encode(data)))

    async def _sasl_step(self, event: SaslResponse) -> None:
        if self._sasl is None or self._sasl[0] != event.tag:
            return
        if event.cancelled:
            self._sasl = None
            self._tagged(event.tag, "BAD", "AUTHENTICATE cancelled")
            return
        await self._sasl_data(event.data)

    async def _sasl_data(self, data: bytes) -> None:
        assert self._sasl is not None
        tag, mech, got = self._sasl
        got.append(data)
        if mech == "LOGIN" and len(got) == 1:
            self._sasl_challenge(b"Password:")
            return
        self._sasl = None
        if mech == "LOGIN":
            user, password = got[0], got[1]
        else:
            fields = data.split(b"\x00")
            if len(fields) != 3:
                self._tagged(tag, "BAD", "Malformed PLAIN response")
                return
            authz, user, password = fields
            if authz and authz != user:
                self._tagged(tag, "NO", "Authorization identity must match",
                             "AUTHORIZATIONFAILED")
                return
        await self._authenticate(tag, user, password)

    async def _authenticate(self, tag: bytes, user: bytes, password: bytes) -> None:
        try:
            login = user.decode("utf-8")
            secret = password.decode("utf-8")
        except UnicodeDecodeError:
            self._tagged(tag, "NO", "Authentication failed.", "AUTHENTICATIONFAILED")
            return
        from groupware.types import Feature

        try:
            result = await self.ctx.auth.authenticate(login, secret, service=Feature.IMAP,
                                                      peer=self.conn.peer)
        except GroupwareError as exc:
            status, code = imap_status(exc)
            text = {"AUTHORIZATIONFAILED": "IMAP is not enabled for this user.",
                    "UNAVAILABLE": "Authentication is temporarily unavailable."}.get(
                        code or "", "Authentication failed.")
            self._tagged(tag, status, text, code)
            return
        who = result.user.address or login
        limit = self.ctx.config.max_connections_per_user
        if not self.ctx.users.acquire(who, limit):
            logger.warning("imap: %s has %d sessions already, login refused", who, limit)
            self._tagged(tag, "NO", "Too many connections for this user.", "LIMIT")
            return
        self._user_slot = True
        self.user = who
        set_log_context(user=who)
        self._log_ctx.run(set_log_context, user=who)
        try:
            self.mail = await self.ctx.mail.open(result.user)
        except GroupwareError as exc:
            self.ctx.users.release(who)
            self._user_slot = False
            status, code = imap_status(exc)
            self._tagged(tag, status, f"Mailbox unavailable: {exc.message}", code)
            return
        self.state = State.AUTHENTICATED
        self._arm_timer()
        self._tagged(tag, "OK", "Logged in", "CAPABILITY",
                     " ".join(self.capabilities()).encode("ascii"))

    # --- authenticated ------------------------------------------------------------------------

    async def _do_enable(self, cmd: c.Enable) -> str:
        enabled = []
        for cap in cmd.capabilities:
            if cap == "CONDSTORE" and not self.condstore:
                self.condstore = True
                enabled.append(cap)
            elif cap == "QRESYNC" and not self.qresync:
                self.qresync = self.condstore = True
                enabled.append(cap)
            elif cap == "UTF8=ACCEPT" and not self.utf8:
                self._enable_utf8()
                enabled.append(cap)
            elif cap == "IMAP4REV2" and not self.rev2:
                self.rev2 = True
                self._enable_utf8()
                enabled.append("IMAP4rev2")
        self._write(self.enc.enabled(enabled))
        return "ENABLE completed"

    def _enable_utf8(self) -> None:
        self.utf8 = True
        self.parser.utf8 = True
        self.enc.utf8 = True

    async def _do_compress(self, cmd: c.Compress) -> None:
        if self.compressed:
            raise no("Compression is already active", "COMPRESSIONACTIVE")
        if not self.ctx.config.compress or cmd.mechanism != "DEFLATE":
            raise no(f"Unsupported compression {cmd.mechanism}", "CANNOT")
        self._tagged(cmd.tag, "OK", "DEFLATE active")
        await self._flush()
        pending = self.parser.take_unparsed()
        self.compressed = True
        self.conn.start_compress()
        if pending:
            self.conn_feed_compressed(pending)

    def conn_feed_compressed(self, data: bytes) -> None:
        """Bytes that arrived after COMPRESS before it took effect (adapter inflates)."""
        feed = getattr(self.conn, "feed_compressed", None)
        if callable(feed):
            feed(data)

    async def _do_namespace(self, cmd: c.Namespace) -> str:
        self._write(self.enc.namespace([("", DELIMITER)], None, None))
        return "NAMESPACE completed"

    def _mailbox_folder_error(self, exc: GroupwareError, trycreate: bool) -> Failure:
        status, code = imap_status(exc)
        if trycreate and isinstance(exc, NotFound):
            code = "TRYCREATE"
        return Failure(status, exc.message, code)

    async def _do_create(self, cmd: c.Create) -> str:
        assert self.mail is not None
        if cmd.special_use:
            raise no("Creating special-use folders is not supported", "CANNOT")
        if cmd.mailbox.rstrip(DELIMITER).upper() == INBOX:
            raise no("INBOX already exists", "ALREADYEXISTS")
        await self.mail.create(cmd.mailbox)
        return "CREATE completed"

    async def _do_delete(self, cmd: c.Delete) -> str:
        assert self.mail is not None
        if cmd.mailbox.upper() == INBOX:
            raise no("INBOX cannot be deleted", "CANNOT")
        folder = await self.mail.find(cmd.mailbox)
        if self.selected is not None and self.selected.fid == folder.fid:
            self._deselect()
        await self.mail.delete(cmd.mailbox)
        return "DELETE completed"

    async def _do_rename(self, cmd: c.Rename) -> str:
        assert self.mail is not None
        await self.mail.rename(cmd.mailbox, cmd.new_name)
        return "RENAME completed"

    async def _do_subscribe(self, cmd: c.Subscribe) -> str:
        assert self.mail is not None
        await self.mail.set_subscribed(cmd.mailbox, True)
        return "SUBSCRIBE completed"

    async def _do_unsubscribe(self, cmd: c.Unsubscribe) -> str:
        assert self.mail is not None
        with contextlib.suppress(NotFound):  # a vanished folder is fine (RFC 9051 6.3.8)
            await self.mail.set_subscribed(cmd.mailbox, False)
        return "UNSUBSCRIBE completed"

    async def _do_list(self, cmd: c.List) -> str:
        assert self.mail is not None
        if cmd.patterns == ("",) and not cmd.selection:
            self._write(self.enc.list_item(["\\Noselect"], DELIMITER, ""))
            return "LIST completed"
        folders = await self.mail.list_folders()
        subscribed_only = "SUBSCRIBED" in cmd.selection
        special_only = "SPECIAL-USE" in cmd.selection
        recursive = "RECURSIVEMATCH" in cmd.selection
        show_sub = subscribed_only or "SUBSCRIBED" in cmd.return_options
        regexes = [_list_regex(self._full_pattern(cmd.reference, p)) for p in cmd.patterns]
        status_items = cmd.return_status
        for folder in folders:
            name = folder.name
            matched = any(rx.match(name) for rx in regexes)
            extended: list[tuple[str, object]] = []
            if not matched:
                continue
            if subscribed_only and not folder.subscribed:
                if recursive and any(f.subscribed and f.name.startswith(name + DELIMITER)
                                     for f in folders):
                    self._write(self.enc.list_item(
                        ["\\HasChildren"], DELIMITER, name,
                        extended=[("CHILDINFO", ("SUBSCRIBED",))]))
                continue
            if special_only and folder.special_use is None:
                continue
            attrs = ["\\HasChildren" if folder.has_children else "\\HasNoChildren"]
            if folder.special_use:
                attrs.append(folder.special_use)
            if show_sub and folder.subscribed:
                attrs.append("\\Subscribed")
            self._write(self.enc.list_item(attrs, DELIMITER, name, extended=extended))
            if status_items:
                self._write(self.enc.status(name, self._status_values(folder, status_items)))
        return "LIST completed"

    @staticmethod
    def _full_pattern(reference: str, pattern: str) -> str:
        if not reference or pattern.startswith(DELIMITER):
            full = pattern
        elif reference.endswith(DELIMITER):
            full = reference + pattern
        else:
            full = reference + DELIMITER + pattern
        head, sep, tail = full.partition(DELIMITER)
        if head.upper() == INBOX:
            return INBOX + sep + tail
        return full

    async def _do_lsub(self, cmd: c.Lsub) -> str:
        assert self.mail is not None
        if cmd.pattern == "":
            self._write(self.enc.list_item(["\\Noselect"], DELIMITER, "", command="LSUB"))
            return "LSUB completed"
        rx = _list_regex(self._full_pattern(cmd.reference, cmd.pattern))
        for folder in await self.mail.list_folders():
            if folder.subscribed and rx.match(folder.name):
                attrs = [folder.special_use] if folder.special_use else []
                self._write(self.enc.list_item(attrs, DELIMITER, folder.name, command="LSUB"))
        return "LSUB completed"

    def _status_values(self, folder: MailFolder,
                       items: Sequence[str]) -> list[tuple[str, int]]:
        row = folder.row
        values = {
            "MESSAGES": row.messages, "UIDNEXT": row.uidnext, "UIDVALIDITY": row.uidvalidity,
            "UNSEEN": row.unseen, "DELETED": row.deleted, "SIZE": row.size,
            "HIGHESTMODSEQ": row.highest_modseq, "RECENT": 0,
            "APPENDLIMIT": self.ctx.config.max_literal,
        }
        if "HIGHESTMODSEQ" in items:
            self.condstore = True
        return [(k, values[k]) for k in items if k in values]

    async def _do_status(self, cmd: c.Status) -> str:
        assert self.mail is not None
        folder = await self.mail.status(cmd.mailbox)
        self._write(self.enc.status(folder.name, self._status_values(folder, cmd.items)))
        return "STATUS completed"

    async def _do_append(self, cmd: c.Append) -> tuple[str, str, bytes]:
        assert self.mail is not None
        try:
            folder = await self.mail.find(cmd.mailbox)
        except NotFound as exc:
            raise no(f"Mailbox {cmd.mailbox} does not exist", "TRYCREATE") from exc
        uids: list[int] = []
        uidvalidity = folder.row.uidvalidity
        try:
            for msg in cmd.messages:
                if "\\Recent" in msg.flags:
                    raise bad("\\Recent cannot be set")
                if not msg.data:
                    raise bad("Empty message")
                if b"\x00" in msg.data and not msg.binary:
                    raise no("Message contains NUL; use a literal8 (BINARY)", "CANNOT")
                uidvalidity, state = await self.mail.append(
                    folder.name, msg.data, msg.flags, _to_timestamp(msg.internal_date))
                uids.append(state.uid)
        except (Failure, GroupwareError):
            if uids:  # MULTIAPPEND is all or nothing (RFC 3502)
                await self._undo_append(folder, uids)
            raise
        return ("APPEND completed", "APPENDUID",
                b"%d %s" % (uidvalidity, format_sequence_set(uids)))

    async def _undo_append(self, folder: MailFolder, uids: list[int]) -> None:
        assert self.mail is not None
        try:
            await self.mail.store.expunge(self.mail.box, folder.fid, uids)
        except GroupwareError:
            logger.exception("imap: could not undo a partial MULTIAPPEND")

    async def _do_getquota(self, cmd: c.GetQuota) -> str:
        assert self.mail is not None
        quota = await self.mail.quota()
        if cmd.root != b"" or quota.limit is None:
            raise no("No such quota root", "NONEXISTENT")
        self._write(self.enc.quota(b"", [("STORAGE", quota.used // 1024,
                                          quota.limit // 1024)]))
        return "GETQUOTA completed"

    async def _do_getquotaroot(self, cmd: c.GetQuotaRoot) -> str:
        assert self.mail is not None
        folder = await self.mail.find(cmd.mailbox)
        quota = await self.mail.quota()
        if quota.limit is None:
            self._write(self.enc.quotaroot(folder.name, []))
        else:
            self._write(self.enc.quotaroot(folder.name, [b""]))
            self._write(self.enc.quota(b"", [("STORAGE", quota.used // 1024,
                                              quota.limit // 1024)]))
        return "GETQUOTAROOT completed"

    async def _do_setquota(self, cmd: c.SetQuota) -> str:
        raise no("Quotas are set by the administrator", "NOPERM")

    # --- selection ----------------------------------------------------------------------------

    def _deselect(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        self.selected = None
        self.saved = []
        self._parse_cache.clear()
        self._dirty = False
        self.state = State.AUTHENTICATED

    async def _do_select(self, cmd: c.Select) -> tuple[str, str, bytes]:
        assert self.mail is not None
        if cmd.qresync is not None and not self.qresync:
            raise bad("QRESYNC must be enabled first")
        if cmd.condstore:
            self.condstore = True
        if self.selected is not None:
            self._deselect()
            if self.qresync:
                self._write(self.enc.untagged_status("OK", "Previous mailbox closed",
                                                     ResponseCode("CLOSED")))
        sel = await self.mail.select(cmd.mailbox, read_only=cmd.read_only)
        enc = self.enc
        self._write(enc.flags(FOLDER_FLAGS))
        self._write(enc.exists(sel.exists))
        if not self.rev2:
            self._write(enc.recent(0))
            unseen = next((i for i, u in enumerate(sel.uids, 1)
                           if "\\Seen" not in sel.states[u].flags), None)
            if unseen is not None:
                self._write(enc.untagged_status("OK", f"First unseen message is {unseen}",
                                                ResponseCode.number("UNSEEN", unseen)))
        self._write(enc.untagged_status(
            "OK", "Flags permitted", ResponseCode.permanent_flags(
                () if cmd.read_only else PERMANENT_FLAGS)))
        self._write(enc.untagged_status("OK", "UIDs valid",
                                        ResponseCode.number("UIDVALIDITY", sel.uidvalidity)))
        self._write(enc.untagged_status("OK", "Predicted next UID",
                                        ResponseCode.number("UIDNEXT", sel.uidnext)))
        self._write(enc.untagged_status("OK", "Highest",
                                        ResponseCode.number("HIGHESTMODSEQ", sel.highest_modseq)))
        self.selected = sel
        self.state = State.SELECTED
        self._watch = self.mail.watch(self._on_change)
        if cmd.qresync is not None and cmd.qresync.uidvalidity == sel.uidvalidity:
            await self._qresync(sel, cmd.qresync)
        code = "READ-ONLY" if cmd.read_only else "READ-WRITE"
        return (f"{cmd.name} completed", code, b"")

    async def _qresync(self, sel: SelectedFolder, q: c.QResync) -> None:
        assert self.mail is not None
        changes = await self.mail.store.changes_since(self.mail.box, sel.fid, q.modseq)
        known = q.known_uids
        vanished = [u for u in changes.vanished
                    if known is None or known.contains(u, max(sel.uidnext - 1, 1))]
        if vanished:
            self._write(self.enc.vanished(vanished, earlier=True))
        for state in sorted(changes.changed, key=lambda s: s.uid):
            msn = sel.msn(state.uid)
            if msn is None:
                continue
            current = sel.states[state.uid]
            self._write(b"".join(self.enc.fetch(msn, [
                (b"UID", current.uid), (b"FLAGS", _flags(current.flags)),
                (b"MODSEQ", (current.modseq,))])))

    _do_examine = _do_select

    async def _do_unselect(self, cmd: c.Unselect) -> str:
        self._deselect()
        return "UNSELECT completed"

    async def _do_close(self, cmd: c.Close) -> str:
        sel = self.selected
        assert sel is not None
        if not sel.read_only:
            await sel.expunge()
        self._deselect()
        return "CLOSE completed"

    # --- notifications ------------------------------------------------------------------------

    def _on_change(self, event: Event) -> None:
        sel = self.selected
        if sel is None or (event.folder is not None and event.folder != sel.fid):
            return
        self._dirty = True
        if self._idle_tag is not None and (self._idle_task is None or self._idle_task.done()):
            self._idle_task = self._spawn(self._idle_push())

    async def _idle_push(self) -> None:
        async with self._lock:
            if self._idle_tag is None or self.selected is None:
                return
            try:
                await self._send_updates(expunge=True)
            except GroupwareError as exc:
                logger.info("imap: update during IDLE failed: %s", exc)
            await self._flush()

    async def _send_updates(self, *, expunge: bool) -> None:
        sel = self.selected
        if sel is None:
            return
        self._dirty = False
        try:
            updates = await sel.sync(expunge=expunge)
        except NotFound:
            self._write(self.enc.bye("The selected mailbox was deleted."))
            self._flush_now()
            self._close()
            return
        if not updates:
            return
        for uid in updates.expunged_uids:
            self._parse_cache.pop(uid, None)
        if updates.expunged:
            if self.qresync:
                self._write(self.enc.vanished(updates.expunged_uids))
            else:
                for msn in updates.expunged:
                    self._write(self.enc.expunge(msn))
            self.saved = [u for u in self.saved if u not in set(updates.expunged_uids)]
        if updates.exists is not None:
            self._write(self.enc.exists(updates.exists))
        for state in updates.changed:
            number = sel.msn(state.uid)
            if number is None:
                continue
            items: list[tuple[bytes, object]] = [(b"UID", state.uid),
                                                 (b"FLAGS", _flags(state.flags))]
            if self.condstore:
                items.append((b"MODSEQ", (state.modseq,)))
            self._write(b"".join(self.enc.fetch(number, items)))

    async def _do_idle(self, cmd: c.Idle) -> None:
        self._write(self.enc.continuation("idling"))
        self.parser.expect_idle_done(cmd.tag)
        self._idle_tag = cmd.tag
        self._arm_timer()
        if self.selected is not None and self._dirty:
            await self._send_updates(expunge=True)

    async def _idle_done(self, event: IdleDone) -> None:
        if self._idle_tag != event.tag:
            return
        self._idle_tag = None
        self._arm_timer()
        if self.selected is not None and self._dirty:
            await self._send_updates(expunge=True)
        self._tagged(event.tag, "OK", "IDLE terminated")

    # --- selected: message sets -------------------------------------------------------------

    def _resolve(self, seq: SequenceSet, uid: bool) -> list[int]:
        """UIDs named by a sequence set (``$`` = the saved search), ascending."""
        sel = self.selected
        assert sel is not None
        if seq.saved:
            return [u for u in self.saved if u in sel.states]
        if uid:
            largest = sel.max_uid
            if not sel.uids:
                return []
            out = []
            for rng in seq.ranges:
                low, high = rng.bounds(largest)
                i = bisect.bisect_left(sel.uids, low)
                while i < len(sel.uids) and sel.uids[i] <= high:
                    out.append(sel.uids[i])
                    i += 1
            return sorted(set(out))
        exists = sel.exists
        for rng in seq.ranges:
            for bound in (rng.start, rng.end):
                if bound is not None and bound > exists:
                    raise bad("Invalid message sequence number")
        if not exists:
            if seq.ranges and all(r.start is None and r.end is None for r in seq.ranges):
                return []
            raise bad("Invalid message sequence number (mailbox is empty)")
        return [sel.uids[n - 1] for n in seq.iter_numbers(exists)]

    def _number(self, uid: int, by_uid: bool) -> int:
        if by_uid:
            return uid
        sel = self.selected
        assert sel is not None
        return sel.msn(uid) or 0

    # --- FETCH --------------------------------------------------------------------------------

    async def _do_fetch(self, cmd: c.Fetch) -> str:
        sel = self.selected
        assert sel is not None
        uids = self._resolve(cmd.sequence, cmd.uid)
        items = cmd.items
        if cmd.changed_since is not None:
            self.condstore = True
            uids = [u for u in uids if sel.states[u].modseq > cmd.changed_since]
        want_modseq = any(isinstance(i, FetchSimple) and i.name == "MODSEQ" for i in items)
        if want_modseq:
            self.condstore = True
        if cmd.vanished and cmd.changed_since is not None:
            assert self.mail is not None
            changes = await self.mail.store.changes_since(self.mail.box, sel.fid,
                                                          cmd.changed_since)
            gone = [u for u in changes.vanished
                    if cmd.sequence.contains(u, max(sel.max_uid, u))]
            if gone:
                self._write(self.enc.vanished(gone, earlier=True))
        if not uids:
            return f"{cmd.name} completed"
        seen_changed: set[int] = set()
        if any(i.sets_seen for i in items) and not sel.read_only:
            seen_changed = {s.uid for s in await sel.set_seen(uids)}
        need_info = any(isinstance(i, FetchSimple) and i.name in ("RFC822.SIZE", "INTERNALDATE")
                        for i in items)
        need_raw = any(not isinstance(i, FetchSimple) or i.name in (
            "ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822", "RFC822.HEADER", "RFC822.TEXT")
            for i in items)
        infos = await sel.info(uids) if need_info else {}
        has_flags = any(isinstance(i, FetchSimple) and i.name == "FLAGS" for i in items)
        failure: Failure | None = None
        for uid in uids:
            msn = sel.msn(uid)
            state = sel.states.get(uid)
            if msn is None or state is None:
                continue
            raw = b""
            if need_raw:
                try:
                    raw = await sel.read_mime(uid)
                except NotFound:
                    continue  # expunged by another session, not yet announced
            out: list[tuple[bytes, object]] = []
            if cmd.uid:
                out.append((b"UID", uid))
            try:
                for item in items:
                    rendered = self._fetch_item(item, uid, state, raw, infos=infos,
                                                by_uid=cmd.uid)
                    if rendered is not None:
                        out.append(rendered)
            except Failure as f:
                failure = f
                continue
            if uid in seen_changed and not has_flags:
                out.append((b"FLAGS", _flags(state.flags)))
            if self.condstore and (cmd.changed_since is not None or uid in seen_changed) and (
                    not want_modseq):
                out.append((b"MODSEQ", (sel.states[uid].modseq,)))
            for chunk in self.enc.fetch(msn, out):
                self._write(chunk)
                await self._maybe_flush()
        if failure is not None:
            raise failure
        return f"{cmd.name} completed"

    def _root(self, uid: int, raw: bytes) -> Part:
        cached = self._parse_cache.get(uid)
        if cached is not None and cached[0] is raw:
            return cached[1]
        try:
            root = parse_message(raw)
        except MimeLimitError as exc:
            raise no(f"Message structure too complex: {exc}", "LIMIT") from exc
        if len(self._parse_cache) > 64:
            self._parse_cache.clear()
        self._parse_cache[uid] = (raw, root)
        return root

    def _fetch_item(self, item: FetchItem, uid: int, state: MessageState, raw: bytes, *,
                    infos: dict[int, Any], by_uid: bool) -> tuple[bytes, object] | None:
        if isinstance(item, FetchSimple):
            name = item.name
            if name == "UID":
                return None if by_uid else (b"UID", uid)
            if name == "FLAGS":
                current = self.selected.states[uid] if self.selected else state
                return (b"FLAGS", _flags(current.flags))
            if name == "MODSEQ":
                current = self.selected.states[uid] if self.selected else state
                return (b"MODSEQ", (current.modseq,))
            if name == "RFC822.SIZE":
                info = infos.get(uid)
                return (b"RFC822.SIZE", info.size if info else len(raw))
            if name == "INTERNALDATE":
                info = infos.get(uid)
                stamp = info.internal_date if info else time.time()
                return (b"INTERNALDATE", datetime.datetime.fromtimestamp(stamp, datetime.UTC))
            if name == "ENVELOPE":
                return (b"ENVELOPE", envelope_of(self._root(uid, raw).fields))
            if name in ("BODY", "BODYSTRUCTURE"):
                return (name.encode(), BodyStructure(self._root(uid, raw),
                                                     extended=name == "BODYSTRUCTURE"))
            if name == "RFC822":
                return (b"RFC822", BodyData(len(raw), raw))
            if name == "RFC822.HEADER":
                content = section_content(self._root(uid, raw), Section(text="HEADER"))
                assert content is not None
                return (b"RFC822.HEADER", _body_data(content, raw))
            if name == "RFC822.TEXT":
                content = section_content(self._root(uid, raw), Section(text="TEXT"))
                assert content is not None
                return (b"RFC822.TEXT", _body_data(content, raw))
            raise bad(f"Unknown fetch item {name}")
        if isinstance(item, FetchBody):
            section = item.section
            found: SectionContent | None
            if not section.part and section.text is None:
                found = SectionContent(((0, len(raw)),))
            else:
                found = section_content(self._root(uid, raw), section)
            if found is None:
                return (item.item_name(), b"")
            if item.partial is not None:
                found = found.slice(item.partial.offset, item.partial.length)
            return (item.item_name(), _body_data(found, raw))
        if isinstance(item, FetchBinary | FetchBinarySize):
            try:
                data = binary_content(raw, self._root(uid, raw), item.part)
            except UnknownEncoding as exc:
                raise no(str(exc), "UNKNOWN-CTE") from exc
            if data is None:
                raise no("No such message part", "NONEXISTENT")
            if isinstance(item, FetchBinarySize):
                return (item.item_name(), len(data))
            if item.partial is not None:
                data = data[item.partial.offset:item.partial.offset + item.partial.length]
            return (item.item_name(), BodyData(len(data), data, binary=b"\x00" in data))
        raise bad("Unknown fetch item")

    # --- STORE --------------------------------------------------------------------------------

    async def _do_store(self, cmd: c.Store) -> str | tuple[str, str, bytes]:
        sel = self.selected
        assert sel is not None
        if sel.read_only:
            raise no("Mailbox is read-only", "READ-ONLY")
        if "\\Recent" in cmd.flags:
            raise bad("\\Recent cannot be stored")
        if cmd.unchanged_since is not None:
            self.condstore = True
        uids = [u for u in self._resolve(cmd.sequence, cmd.uid) if sel.live(u)]
        flags = frozenset(cmd.flags)
        if cmd.mode is c.StoreMode.REPLACE:
            change = FlagChange(replace=flags)
        elif cmd.mode is c.StoreMode.ADD:
            change = FlagChange(add=flags)
        else:
            change = FlagChange(remove=flags)
        result = await sel.store_flags(uids, change, cmd.unchanged_since)
        conflicts = set(result.conflicts)
        changed = {s.uid for s in result.changed}
        for uid in uids:
            if uid in conflicts:
                continue
            msn = sel.msn(uid)
            state = sel.states.get(uid)
            if msn is None or state is None:
                continue
            items: list[tuple[bytes, object]] = []
            if cmd.uid or self.qresync:
                items.append((b"UID", uid))
            if not cmd.silent:
                items.append((b"FLAGS", _flags(state.flags)))
            if self.condstore and (not cmd.silent or uid in changed):
                items.append((b"MODSEQ", (state.modseq,)))
            if cmd.silent and uid not in changed:
                continue
            if cmd.silent and not self.condstore:
                continue
            self._write(b"".join(self.enc.fetch(msn, items)))
        if conflicts:
            numbers = sorted(self._number(u, cmd.uid) for u in conflicts)
            return ("Conditional STORE failed", "MODIFIED", format_sequence_set(numbers))
        return f"{cmd.name} completed"

    # --- COPY / MOVE / EXPUNGE -----------------------------------------------------------------

    async def _copy_target(self, mailbox: str) -> MailFolder:
        assert self.mail is not None
        try:
            return await self.mail.find(mailbox)
        except NotFound as exc:
            raise no(f"Mailbox {mailbox} does not exist", "TRYCREATE") from exc

    async def _do_copy(self, cmd: c.Copy) -> str | tuple[str, str, bytes]:
        sel = self.selected
        assert sel is not None
        uids = [u for u in self._resolve(cmd.sequence, cmd.uid) if sel.live(u)]
        target = await self._copy_target(cmd.mailbox)
        pairs = await sel.copy(uids, target, move=False)
        if not pairs:
            return f"{cmd.name} completed"
        row = await self.mail.store.folder(self.mail.box, target.fid)  # type: ignore[union-attr]
        return (f"{cmd.name} completed", "COPYUID", self._copyuid(row.uidvalidity, pairs))

    @staticmethod
    def _copyuid(uidvalidity: int, pairs: list[tuple[int, int]]) -> bytes:
        src = format_sequence_set([p[0] for p in pairs], keep_order=True)
        dst = format_sequence_set([p[1] for p in pairs], keep_order=True)
        return b"%d %s %s" % (uidvalidity, src, dst)

    async def _do_move(self, cmd: c.Move) -> str:
        sel = self.selected
        assert sel is not None and self.mail is not None
        if sel.read_only:
            raise no("Mailbox is read-only", "READ-ONLY")
        uids = [u for u in self._resolve(cmd.sequence, cmd.uid) if sel.live(u)]
        target = await self._copy_target(cmd.mailbox)
        if target.fid == sel.fid:
            raise no("Source and destination are the same mailbox", "CANNOT")
        pairs = await sel.copy(uids, target, move=True)
        if pairs:
            row = await self.mail.store.folder(self.mail.box, target.fid)
            self._write(self.enc.untagged_status(
                "OK", "Moved", ResponseCode("COPYUID", self._copyuid(row.uidvalidity, pairs))))
            await self._send_updates(expunge=True)
        return f"{cmd.name} completed"

    async def _do_expunge(self, cmd: c.Expunge) -> str:
        sel = self.selected
        assert sel is not None
        if sel.read_only:
            raise no("Mailbox is read-only", "READ-ONLY")
        uids = None if cmd.uid_set is None else self._resolve(cmd.uid_set, True)
        await sel.expunge(uids)
        await self._send_updates(expunge=True)
        return f"{cmd.name} completed"

    # --- SEARCH / SORT / THREAD -----------------------------------------------------------------

    async def _candidates(self, key: SearchKey | None, charset: str | None,
                          extra_mime: bool = False) -> list[Candidate]:
        sel = self.selected
        assert sel is not None
        if charset is not None and charset not in SUPPORTED_CHARSETS:
            raise no(f"Unsupported charset {charset}", "BADCHARSET")
        if key is None:
            key = SearchAll()
        uids = list(sel.uids)
        infos = await sel.info(uids) if needs_info(key) or extra_mime else {}
        out = []
        mime = needs_mime(key) or extra_mime
        now = time.time()
        saved = self.saved
        for uid in uids:
            state = sel.states[uid]
            info = infos.get(uid)
            cand = Candidate(msn=sel.msn(uid) or 0, uid=uid, flags=state.flags,
                             modseq=state.modseq, size=info.size if info else 0,
                             internal_date=info.internal_date if info else 0.0)
            if mime:
                try:
                    cand.raw = await sel.read_mime(uid)
                except NotFound:
                    continue
            if matches(key, cand, largest_msn=sel.exists, largest_uid=sel.max_uid,
                       saved=saved, charset=charset or "UTF-8", now=now):
                out.append(cand)
        return out

    async def _do_search(self, cmd: c.Search) -> str:
        key = cmd.criteria
        assert key is not None
        if uses_modseq(key):
            self.condstore = True
        found = await self._candidates(key, cmd.charset)
        numbers = [self._number(x.uid, cmd.uid) for x in found]
        modseq = max((x.modseq for x in found), default=None) if uses_modseq(key) else None
        options = cmd.return_options
        if options is None and not self.rev2:
            self._write(self.enc.search(numbers, modseq))
            return f"{cmd.name} completed"
        opts = set(options or ()) or {"ALL"}
        if "SAVE" in opts:
            self.saved = [x.uid for x in found]
            opts.discard("SAVE")
            if not opts:
                return f"{cmd.name} completed"
        self._write(self.enc.esearch(
            cmd.tag, uid=cmd.uid,
            minimum=min(numbers) if numbers and "MIN" in opts else None,
            maximum=max(numbers) if numbers and "MAX" in opts else None,
            all_=numbers if "ALL" in opts and numbers else None,
            count=len(numbers) if "COUNT" in opts else None,
            modseq=modseq if numbers else None))
        return f"{cmd.name} completed"

    async def _do_sort(self, cmd: c.Sort) -> str:
        found = await self._candidates(cmd.search, cmd.charset, extra_mime=True)

        def key(cand: Candidate) -> list[Any]:
            out: list[Any] = []
            for crit in cmd.criteria:
                value = sort_key(crit.key, cand)
                out.append(_Reverse(value) if crit.reverse else value)
            out.append(cand.msn)
            return out

        found.sort(key=key)
        self._write(self.enc.sort([self._number(x.uid, cmd.uid) for x in found]))
        return f"{cmd.name} completed"

    async def _do_thread(self, cmd: c.Thread) -> str:
        if cmd.algorithm not in ("REFERENCES", "ORDEREDSUBJECT"):
            raise bad(f"Unsupported thread algorithm {cmd.algorithm}")
        found = await self._candidates(cmd.search, cmd.charset, extra_mime=True)

        def number(cand: Candidate) -> int:
            return self._number(cand.uid, cmd.uid)

        algorithm = thread_references if cmd.algorithm == "REFERENCES" else (
            thread_orderedsubject)
        trees = algorithm(found, number)

        def node(tree: tuple[int | None, list[Any]]) -> ThreadNode:
            return ThreadNode(tree[0], tuple(node(t) for t in tree[1]))

        self._write(self.enc.thread([node(t) for t in trees]))
        return f"{cmd.name} completed"


class _Reverse:
    """Inverts the ordering of a sort key (REVERSE criteria)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _body_data(content: SectionContent, raw: bytes) -> BodyData:
    if len(content.ranges) == 1 and not content.suffix:
        start, end = content.ranges[0]
        return BodyData(end - start, raw[start:end])
    return BodyData(content.size, content.read(raw))


__all__ = ["Connection", "IMAPSession", "ImapContext", "State", "UserConnections"]
