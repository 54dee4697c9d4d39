"""Twisted adapter: moves bytes between a TCP/TLS transport and :class:`IMAPSession`.

Everything IMAP-specific lives in the session; this module only does what needs the
reactor: connection accounting per client address, STARTTLS (``startTLS`` on the
transport), COMPRESS=DEFLATE (RFC 4978, with a full flush after every burst of
output so no compression state spans two responses, against CRIME-style leaks),
and write back-pressure: the transport pauses us as a push producer when its
buffer is full, and :meth:`drain` lets a streaming FETCH wait for it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import zlib
from typing import Any

from twisted.internet import interfaces
from twisted.internet.protocol import Factory, connectionDone
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped]

from groupware.logs import log_context

from .session import ImapContext, IMAPSession

logger = logging.getLogger(__name__)

INFLATE_CHUNK = 1 << 16
"""Inflate in bounded steps so a compression bomb cannot allocate at once."""


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@implementer(interfaces.IPushProducer)
class IMAPServerProtocol(TwistedProtocol):
    """One client connection."""

    def __init__(self, factory: IMAPFactory) -> None:
        self.factory = factory
        self.peer = "-"
        self.secure = factory.implicit_tls
        self.tls_available = factory.tls_context is not None and not factory.implicit_tls
        self.loopback = False
        self.session: IMAPSession | None = None
        self._paused = False
        self._resumed: asyncio.Future[None] | None = None
        self._deflate: Any = None
        self._inflate: Any = None
        self._counted = False

    @property
    def _transport(self) -> Any:
        """The transport, untyped: Twisted's interfaces are zope-declared."""
        return self.transport

    # --- Twisted protocol ----------------------------------------------------------

    def connectionMade(self) -> None:
        peer = self._transport.getPeer()
        self.peer = str(getattr(peer, "host", "-"))
        self.loopback = is_loopback(self.peer)
        with log_context(protocol="imap", peer=self.peer):
            if not self.factory.admit(self.peer):
                logger.warning("imap: more than %d connections from %s, refused",
                               self.factory.ctx.config.max_connections_per_address, self.peer)
                self._transport.write(b"* BYE Too many connections from your address.\r\n")
                self._transport.loseConnection()
                return
            self._counted = True
            self._transport.registerProducer(self, True)
            self.session = IMAPSession(self.factory.ctx, self)
            self.session.start()

    def dataReceived(self, data: bytes) -> None:
        if self.session is None:
            return
        if self._inflate is not None:
            self.feed_compressed(data)
            return
        self.session.data_received(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._counted:
            self.factory.release(self.peer)
            self._counted = False
        if self.session is not None:
            self.session.connection_lost()
        self._wake()

    def is_busy(self) -> bool:
        return self.session is not None and self.session.is_busy()

    # --- IPushProducer (the transport tells us when its buffer is full) -----------

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._wake()

    def stopProducing(self) -> None:
        self._paused = False
        self._wake()

    def _wake(self) -> None:
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)
        self._resumed = None

    # --- the session's Connection interface --------------------------------------------

    def write(self, data: bytes) -> None:
        if self._deflate is not None:
            data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_FULL_FLUSH)
        self._transport.write(data)

    async def drain(self) -> None:
        while self._paused and self.transport is not None and self._transport.connected:
            if self._resumed is None:
                self._resumed = asyncio.get_running_loop().create_future()
            await self._resumed

    def start_tls(self) -> None:
        ctx = self.factory.tls_context
        assert ctx is not None
        self._transport.unregisterProducer()
        self._transport.startTLS(ctx)
        self._transport.registerProducer(self, True)
        self.secure = True

    def start_compress(self) -> None:
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)

    def feed_compressed(self, data: bytes) -> None:
        inflater = self._inflate
        if inflater is None or self.session is None:
            return
        try:
            out = inflater.decompress(data, INFLATE_CHUNK)
            while out:
                self.session.data_received(out)
                tail = inflater.unconsumed_tail
                out = inflater.decompress(tail, INFLATE_CHUNK) if tail else b""
        except zlib.error:
            logger.warning("imap: corrupt compressed data from client, closing")
            self._transport.abortConnection()

    def close(self) -> None:
        if self.transport is not None:
            self._transport.loseConnection()


class IMAPFactory(Factory):
    """Builds a protocol per connection of one IMAP listener."""

    def __init__(self, ctx: ImapContext, *, implicit_tls: bool, tls_context: Any) -> None:
        self.ctx = ctx
        self.implicit_tls = implicit_tls
        self.tls_context = tls_context

    def buildProtocol(self, addr: Any) -> IMAPServerProtocol:
        return IMAPServerProtocol(self)

    def admit(self, peer: str) -> bool:
        """Count a connection from ``peer`` (all IMAP listeners share the count)."""
        return self.ctx.addresses.acquire(peer, self.ctx.config.max_connections_per_address)

    def release(self, peer: str) -> None:
        self.ctx.addresses.release(peer)


__all__ = ["IMAPFactory", "IMAPServerProtocol"]
