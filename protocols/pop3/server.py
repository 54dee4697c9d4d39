"""Twisted adapter of the POP3 core: bytes to the core, events to ``Pop3Handler``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from twisted.internet import protocol

from groupware.aio import as_deferred
from groupware.config.sections import Pop3Config
from groupware.errors import Code, GroupwareError
from groupware.handlers.pop3 import Maildrop, Pop3Handler
from groupware.logs import log_context
from protocols.pop3.core import Fetch, Login, Message, Pop3ServerConnection, Settings, StartTls
from protocols.pop3.core import Update as UpdateEvent
from protocols.smtp.limits import ConnectionLimiter

logger = logging.getLogger(__name__)

# The one place mapping error codes to POP3 response codes (RFC 2449, RFC 3206).
_LOGIN_TEXT: dict[Code, str] = {
    Code.AUTH_FAILED: "[AUTH] Authentication failed",
    Code.INVALID: "[AUTH] Authentication failed",
    Code.FEATURE_DISABLED: "[AUTH] POP3 is disabled for this user",
    Code.THROTTLED: "[SYS/TEMP] Too many failed attempts, try again later",
    Code.UNAVAILABLE: "[SYS/TEMP] Temporary authentication failure",
    Code.CONFLICT: "[IN-USE] Mailbox is locked by another POP3 session",
}


class Pop3Protocol(protocol.Protocol):
    def __init__(self, factory: Pop3Factory) -> None:
        self.factory = factory
        self.core: Pop3ServerConnection | None = None
        self.peer = "?"
        self.drop: Maildrop | None = None
        self._counted_address: str | None = None
        self._counted_user: str | None = None
        self._running = False
        self._idle: Any = None
        self._last_input = 0.0

    @property
    def _transport(self) -> Any:
        return self.transport

    def connectionMade(self) -> None:
        f = self.factory
        self.peer = getattr(self._transport.getPeer(), "host", "?")
        self.core = Pop3ServerConnection(f.settings(f.implicit_tls), f.monotonic)
        self._last_input = f.monotonic()
        self._idle = f.call_later(f.config.idle_timeout, self._check_idle)
        if not f.limiter.open_address(self.peer):
            logger.warning("pop3: too many connections from %s (limit %d)", self.peer,
                           f.limiter.per_address)
            self.core.refuse("[SYS/TEMP] Too many connections from your address")
            self._flush()
            return
        self._counted_address = self.peer
        self.core.greeting()
        self._flush()

    def connectionLost(self, reason: Any = None) -> None:
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        if self._counted_address is not None:
            self.factory.limiter.close_address(self._counted_address)
            self._counted_address = None
        if self._counted_user is not None:
            self.factory.limiter.close_user(self._counted_user)
            self._counted_user = None
        if self.drop is not None:  # no QUIT: nothing is deleted (RFC 1939 6)
            self.factory.handler.release(self.drop)
            self.drop = None

    def _check_idle(self) -> None:
        f = self.factory
        left = self._last_input + f.config.idle_timeout - f.monotonic()
        if left > 0.05:
            self._idle = f.call_later(left, self._check_idle)
            return
        self._idle = None
        assert self.core is not None
        self.core.timeout()
        self._flush()

    def is_busy(self) -> bool:
        return self._running

    def dataReceived(self, data: bytes) -> None:
        assert self.core is not None
        self._last_input = self.factory.monotonic()
        self.core.receive_data(data)
        self._pump()

    def _log(self) -> Any:
        user = self.drop.user.address if self.drop is not None else None
        return log_context(protocol="pop3", peer=self.peer, user=user)

    def _pump(self) -> None:
        core = self.core
        assert core is not None
        while not self._running:
            event = core.next_event()
            self._flush()
            if event is None:
                return
            if isinstance(event, StartTls):
                self._transport.startTLS(self.factory.tls_context())
                core.tls_started()
                continue
            self._running = True
            with self._log():
                d = as_deferred(self._decide(event))
            d.addErrback(self._crashed)

    def _crashed(self, failure: Any) -> None:
        logger.error("POP3 handler crashed: %s", failure.getTraceback())
        if self.transport is not None:
            self._transport.loseConnection()

    def _flush(self) -> None:
        core = self.core
        assert core is not None
        out = core.data_to_send()
        if out and self.transport is not None:
            self._transport.write(out)
        if core.closed and self.transport is not None:
            self._transport.loseConnection()

    async def _decide(self, event: Any) -> None:
        core = self.core
        assert core is not None
        try:
            if isinstance(event, Login):
                await self._login(event)
            elif isinstance(event, Fetch):
                assert self.drop is not None
                data = await self.factory.handler.read(self.drop, event.message.uid)
                core.answer_fetch(data)
            elif isinstance(event, UpdateEvent):
                assert self.drop is not None
                try:
                    n = await self.factory.handler.expunge(self.drop,
                                                           [m.uid for m in event.deleted])
                    core.answer_update(n == len(event.deleted))
                except GroupwareError as exc:
                    logger.warning("pop3: expunge failed: %s", exc)
                    core.answer_update(False)
        except Exception:
            logger.exception("POP3 %s failed", type(event).__name__)
            if core.waiting:
                if isinstance(event, Fetch):
                    core.answer_fetch(None, "[SYS/TEMP] Internal error")
                elif isinstance(event, Login):
                    core.answer_login(False, "[SYS/TEMP] Internal error")
                else:
                    core.answer_update(False)
        self._flush()
        self._running = False
        if self.transport is not None and not getattr(self._transport, "disconnected", False):
            self._pump()

    async def _login(self, event: Login) -> None:
        f = self.factory
        core = self.core
        assert core is not None
        try:
            user = await f.handler.authenticate(event.login, event.password, peer=self.peer)
            if event.authzid and event.authzid.lower() not in {
                    a.lower() for a in (*user.addresses, event.login)}:
                core.answer_login(False, "[AUTH] Authentication failed")
                return
            if not f.limiter.open_user(user.id):
                logger.warning("pop3: too many sessions of %s (limit %d)", user.address,
                               f.limiter.per_user)
                core.answer_login(False, "[IN-USE] Too many sessions for this user")
                return
            self._counted_user = user.id
            drop = await f.handler.open(user)
        except GroupwareError as exc:
            if self._counted_user is not None:
                f.limiter.close_user(self._counted_user)
                self._counted_user = None
            core.answer_login(False, _LOGIN_TEXT.get(exc.code, "[SYS/TEMP] Try again later"))
            return
        self.drop = drop
        messages = [Message(e.uid, e.size, e.uidl) for e in drop.entries]
        with self._log():
            logger.info("pop3 login (%s): %d messages", event.mechanism, len(messages))
        core.answer_login(True, f"Logged in, {len(messages)} messages", messages)


class Pop3Factory(protocol.Factory):
    def __init__(self, *, config: Pop3Config, hostname: str, handler: Pop3Handler,
                 limiter: ConnectionLimiter, starttls: bool, implicit_tls: bool,
                 tls_context: Callable[[], Any], monotonic: Callable[[], float],
                 call_later: Callable[..., Any]) -> None:
        self.config = config
        self.hostname = hostname
        self.handler = handler
        self.limiter = limiter
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.tls_context = tls_context
        self.monotonic = monotonic
        self.call_later = call_later

    def settings(self, tls: bool) -> Settings:
        c = self.config
        return Settings(hostname=self.hostname, max_line_length=c.max_line_length,
                        max_errors=c.max_errors, command_rate=c.command_rate,
                        command_burst=c.command_burst, starttls=self.starttls, tls=tls,
                        require_tls_for_auth=c.require_tls_for_auth)

    def buildProtocol(self, addr: Any) -> Pop3Protocol:
        return Pop3Protocol(self)
