"""Twisted adapter: moves bytes between the transport and the sans-IO session core and
runs the handlers' decisions (one at a time per connection, in order).

* inbound MX (``smtp`` listeners): local recipients only — every other domain gets
  550 5.7.1, so the server is never an open relay; accepted mail is delivered at once
  (``DeliveryHandler.accept``) and whatever fails temporarily is queued.
* submission: AUTH PLAIN/LOGIN with the ``smtp`` feature, sender checked, every
  message committed to the queue before the 250 (``SubmissionHandler``).
* LMTP: one reply per recipient after DATA (``DeliveryHandler.deliver``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from twisted.internet import protocol

from groupware.aio import as_deferred
from groupware.config.sections import SmtpConfig
from groupware.errors import GroupwareError
from groupware.handlers.delivery import (
    DeliveryHandler,
    Envelope,
    EnvelopeRecipient,
    LocalTarget,
    SessionInfo,
)
from groupware.handlers.submission import SubmissionHandler
from groupware.logs import log_context
from protocols.smtp.core import (
    AuthAttempt,
    MailFrom,
    MessageReceived,
    Mode,
    RcptTo,
    Settings,
    SmtpServerConnection,
    StartTls,
)
from protocols.smtp.errors import reply_for
from protocols.smtp.limits import ConnectionLimiter
from protocols.smtp.reply import Reply

logger = logging.getLogger(__name__)

_PAUSE_AT = 1 << 20  # buffered input while a decision is pending before reading pauses


class SmtpProtocol(protocol.Protocol):
    """One SMTP, submission or LMTP connection."""

    def __init__(self, factory: SmtpFactory) -> None:
        self.factory = factory
        self.core: SmtpServerConnection | None = None
        self.session: SessionInfo | None = None
        self._counted_address: str | None = None
        self._counted_user: str | None = None
        self._running = False
        self._paused = False
        self._targets: list[LocalTarget] = []
        self._idle: Any = None
        self._last_input = 0.0

    @property
    def _transport(self) -> Any:
        """The transport, untyped: Twisted's interfaces are zope-declared."""
        return self.transport

    # -- connection ---------------------------------------------------------------------

    def connectionMade(self) -> None:
        f = self.factory
        peer = getattr(self._transport.getPeer(), "host", "?")
        tls = f.implicit_tls
        self.session = SessionInfo(f.mode.value, peer, secrets.token_hex(6).upper(), tls=tls)
        self.core = SmtpServerConnection(f.settings(tls), f.monotonic)
        self._last_input = f.monotonic()
        self._idle = f.call_later(f.config.idle_timeout, self._check_idle)
        if not f.limiter.open_address(peer):
            logger.warning("%s: too many connections from %s (limit %d)", f.mode.value, peer,
                           f.limiter.per_address)
            self.core.refuse(Reply(421, "4.7.0", f"{f.hostname} Too many connections from "
                                                 "your address, try again later"))
            self._flush()
            return
        self._counted_address = peer
        with self._log():
            logger.debug("connection from %s", peer)
        self.core.greeting()
        self._flush()

    def connectionLost(self, reason: Any = None) -> None:
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._idle = None
        if self._counted_address is not None:
            self.factory.limiter.close_address(self._counted_address)
            self._counted_address = None
        if self._counted_user is not None:
            self.factory.limiter.close_user(self._counted_user)
            self._counted_user = None

    def _check_idle(self) -> None:
        f = self.factory
        left = self._last_input + f.config.idle_timeout - f.monotonic()
        if left > 0.05:
            self._idle = f.call_later(left, self._check_idle)
            return
        self._idle = None
        self.timeoutConnection()

    def timeoutConnection(self) -> None:
        assert self.core is not None
        with self._log():
            logger.info("idle timeout, closing")
        self.core.timeout()
        self._flush()

    def is_busy(self) -> bool:
        """Mid-transaction or waiting on a handler: shutdown waits for it."""
        return self._running or (self.core is not None and self.core.in_transaction)

    def dataReceived(self, data: bytes) -> None:
        assert self.core is not None
        self._last_input = self.factory.monotonic()
        self.core.receive_data(data)
        self._pump()

    # -- the loop -----------------------------------------------------------------------

    def _pump(self) -> None:
        core = self.core
        assert core is not None
        while not self._running:
            event = core.next_event()
            self._flush()
            if event is None:
                break
            if isinstance(event, StartTls):
                self._start_tls()
                continue
            self._running = True
            with self._log():
                d = as_deferred(self._decide(event))
            d.addErrback(self._internal_error)
        if self._running and len(core._buf) > _PAUSE_AT and not self._paused:
            self._paused = True
            self._transport.pauseProducing()

    def _resume(self) -> None:
        self._running = False
        if self._paused:
            self._paused = False
            self._transport.resumeProducing()
        if self.transport is not None and not getattr(self._transport, "disconnected", False):
            self._pump()

    def _internal_error(self, failure: Any) -> None:
        logger.error("SMTP handler crashed: %s", failure.getTraceback())
        core = self.core
        assert core is not None
        if core.waiting:
            core.answer(Reply(451, "4.3.0", "Internal error, try again later"))
        self._flush()
        self._resume()

    def _flush(self) -> None:
        core = self.core
        assert core is not None
        out = core.data_to_send()
        if out and self.transport is not None:
            self._transport.write(out)
        if core.closed and self.transport is not None:
            self._transport.loseConnection()

    def _start_tls(self) -> None:
        f = self.factory
        assert self.core is not None and self.session is not None
        self._transport.startTLS(f.tls_context())
        self.core.tls_started()
        self.session.tls = True
        self.session.helo = None

    def _log(self) -> Any:
        s = self.session
        user = s.user.address if s is not None and s.user is not None else None
        return log_context(protocol=self.factory.mode.value,
                           peer=s.peer if s is not None else None, user=user,
                           session=s.session_id if s is not None else None)

    # -- decisions ----------------------------------------------------------------------

    async def _decide(self, event: Any) -> None:
        core = self.core
        assert core is not None
        try:
            answer = await self._answer(event)
        except Exception as exc:
            logger.exception("SMTP %s failed", type(event).__name__)
            answer = Reply(451, "4.3.0", f"Internal error, try again later ({type(exc).__name__})")
        if core.waiting:
            core.answer(answer)
        self._flush()
        self._resume()

    async def _answer(self, event: Any) -> Reply | list[Reply]:
        session = self.session
        core = self.core
        assert session is not None and core is not None
        session.helo = core.helo
        f = self.factory
        if isinstance(event, AuthAttempt):
            return await self._auth(event)
        if isinstance(event, MailFrom):
            self._targets = []
            if f.mode is Mode.SUBMISSION:
                try:
                    await f.submission.check_sender(session, event.sender.address)
                except GroupwareError as exc:
                    return reply_for(exc, "mail")
            logger.debug("MAIL FROM:<%s>", event.sender.address)
            return Reply(250, "2.1.0", "Sender OK")
        if isinstance(event, RcptTo):
            rcpt = EnvelopeRecipient(event.recipient.address, event.notify, event.orcpt)
            try:
                if f.mode is Mode.SUBMISSION:
                    target = await f.submission.resolve(session, rcpt)
                else:
                    target = await f.delivery.resolve(rcpt)
            except GroupwareError as exc:
                reply = reply_for(exc, "rcpt")
                logger.info("RCPT TO:<%s> refused: %s", rcpt.address, reply)
                return reply
            self._targets.append(target)
            return Reply(250, "2.1.5", "Recipient OK")
        if isinstance(event, MessageReceived):
            return await self._message(event)
        raise TypeError(f"unexpected event {event!r}")

    async def _auth(self, event: AuthAttempt) -> Reply:
        f = self.factory
        session = self.session
        assert session is not None
        try:
            user = await f.submission.authenticate(event.login, event.password,
                                                   peer=session.peer)
        except GroupwareError as exc:
            return reply_for(exc, "auth")
        if event.authzid and event.authzid.lower() not in {
                a.lower() for a in (*user.addresses, event.login)}:
            logger.info("AUTH: %s may not act as %s", user.address, event.authzid)
            return Reply(535, "5.7.8", "Authentication credentials invalid")
        key = user.id
        if not f.limiter.open_user(key):
            logger.warning("submission: too many connections of %s (limit %d)", user.address,
                           f.limiter.per_user)
            return Reply(454, "4.7.0", "Too many connections for this user, try again later")
        self._counted_user = key
        session.user = user
        with self._log():
            logger.info("AUTH %s ok", event.mechanism)
        return Reply(235, "2.7.0", "Authentication successful")

    async def _message(self, event: MessageReceived) -> Reply | list[Reply]:
        f = self.factory
        session = self.session
        assert session is not None
        mail = event.mail
        envelope = Envelope(mail.sender.address, tuple(t.rcpt for t in self._targets),
                            mail.ret, mail.envid, mail.smtputf8, mail.body)
        targets, self._targets = self._targets, []
        if f.mode is Mode.LMTP:
            outcomes = await f.delivery.deliver(session, envelope, targets, event.data)
            replies = []
            for target, err in zip(targets, outcomes, strict=True):
                if err is None:
                    replies.append(Reply(250, "2.0.0", f"<{target.rcpt.address}> delivered"))
                else:
                    replies.append(reply_for(err, "data"))
            return replies
        try:
            if f.mode is Mode.SUBMISSION:
                await f.submission.accept(session, envelope, targets, event.data)
            else:
                await f.delivery.accept(session, envelope, targets, event.data)
        except GroupwareError as exc:
            reply = reply_for(exc, "data")
            logger.info("message from <%s> refused: %s", envelope.sender, reply)
            return reply
        logger.info("accepted: from=<%s> rcpts=%d size=%d", envelope.sender, len(targets),
                    len(event.data))
        return Reply(250, "2.0.0", f"Ok: queued as {session.session_id}")


class SmtpFactory(protocol.Factory):
    """Per listener: mode, settings and the handlers every connection uses."""

    def __init__(self, *, mode: Mode, config: SmtpConfig, hostname: str,
                 delivery: DeliveryHandler, submission: SubmissionHandler | None,
                 limiter: ConnectionLimiter, starttls: bool, implicit_tls: bool,
                 tls_context: Callable[[], Any],
                 monotonic: Callable[[], float], call_later: Callable[..., Any]) -> None:
        self.mode = mode
        self.config = config
        self.hostname = hostname
        self.delivery = delivery
        self._submission = submission
        self.limiter = limiter
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.tls_context = tls_context
        self.monotonic = monotonic
        self.call_later = call_later

    @property
    def submission(self) -> SubmissionHandler:
        assert self._submission is not None
        return self._submission

    def settings(self, tls: bool) -> Settings:
        c = self.config
        return Settings(
            mode=self.mode, hostname=self.hostname, max_message_size=c.max_message_size,
            max_recipients=c.max_recipients, max_line_length=c.max_line_length,
            max_data_line_length=c.max_data_line_length, max_errors=c.max_errors,
            command_rate=c.command_rate, command_burst=c.command_burst,
            starttls=self.starttls, tls=tls, require_tls_for_auth=c.require_tls_for_auth)

    def buildProtocol(self, addr: Any) -> SmtpProtocol:
        return SmtpProtocol(self)
