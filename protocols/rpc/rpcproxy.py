"""RPC over HTTP v2 on the HTTP listener: ``RPC_IN_DATA`` / ``RPC_OUT_DATA`` to
``/rpc/rpcproxy.dll`` (MS-RPCH 2.1.2, 3.2.4).

These two "methods" do not fit a request/response web framework: the IN request body
and the OUT response body are each one endless byte stream (Content-Length
1 GiB) carrying RTS and DCE/RPC PDUs in both directions for as long as the virtual
connection lives. So the HTTP listener's connections are sniffed: the first request
line decides. Ordinary requests go to the Twisted web site untouched; a connection
whose first request is ``RPC_IN_DATA`` or ``RPC_OUT_DATA`` is handled here with a
small HTTP/1.1 front end:

* **Authentication** before the stream starts: Basic (through the auth core) or NTLM
  (``WWW-Authenticate: NTLM``, the three legs on one connection, NT hash from
  :class:`groupware.handlers.ntlm.NtlmCredentials`). The DCE/RPC inside is
  authenticated again, separately, by its own NTLM (MS-RPCH 3.2.4.1.2).
* ``Expect: 100-continue`` is answered once the caller is known; the OUT channel's
  response is ``200`` with ``Content-Length: 1073741824`` and the RTS/RPC stream.
* Both channels of a virtual connection meet in one process-wide
  :class:`VirtualConnectionTable`; its DCE/RPC association is an :class:`RpcEndpoint`.
  The OUT channel is pinged while idle so proxies do not time it out.

When either channel's TCP connection ends, the virtual connection and its
association end too (context handles run down), and the other channel is closed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet import protocol
from twisted.python.failure import Failure

from groupware.errors import AuthenticationFailed, FeatureDisabled, Throttled, Unavailable
from groupware.types import Feature
from protocols.rpc.endpoint import RpcEndpoint, RpcSettings
from protocols.rpc.errors import NtlmAuthenticationFailed, NtlmError
from protocols.rpc.ntlm import AuthenticateMessage, NtlmServer
from protocols.rpc.vconn import Channel, ChannelKind, VirtualConnection, VirtualConnectionTable

if TYPE_CHECKING:
    from groupware.handlers.auth import AuthHandler
    from groupware.handlers.ntlm import NtlmAccount, NtlmCredentials

logger = logging.getLogger(__name__)

RPC_METHODS = (b"RPC_IN_DATA", b"RPC_OUT_DATA")
PATH = b"/rpc/rpcproxy.dll"
MAX_HEADER = 16384
MAX_REQUEST_LINE = 8192
OUT_RESPONSE = (b"HTTP/1.1 200 Success\r\nContent-Type: application/rpc\r\n"
                b"Content-Length: 1073741824\r\n\r\n")


@dataclass
class RpcProxyConfig:
    """What the RPC proxy needs from the rest of the server."""

    settings: RpcSettings
    auth: AuthHandler
    ntlm: NtlmCredentials | None
    call_later: Callable[..., Any]
    max_ping_interval: float = 60.0


class RpcProxy:
    """Process-wide state: the virtual connection table and the OUT channel writers."""

    def __init__(self, config: RpcProxyConfig) -> None:
        self.config = config
        self.table = VirtualConnectionTable(self._new_endpoint)
        self._writers: weakref.WeakKeyDictionary[Channel, RpcHttpConnection] = (
            weakref.WeakKeyDictionary())

    def _new_endpoint(self) -> Any:
        return RpcEndpoint(self.config.settings, "rpc/http")

    def attach(self, channel: Channel, conn: RpcHttpConnection) -> None:
        self._writers[channel] = conn

    def writer(self, channel: Channel | None) -> RpcHttpConnection | None:
        return self._writers.get(channel) if channel is not None else None

    def pump(self, vc: VirtualConnection | None) -> None:
        """Move RPC output onto the OUT channel and write it to its connection."""
        if vc is None:
            return
        try:
            vc.flush()
        except NtlmError:
            raise
        except Exception as exc:  # flow control broke down: drop the connection
            logger.info("RPC over HTTP: virtual connection dropped: %s", exc)
            for channel in (vc.in_channel, vc.out_channel):
                writer = self.writer(channel)
                if writer is not None:
                    writer.close()
            return
        out = self.writer(vc.out_channel)
        if out is not None and vc.out_channel is not None:
            data = vc.out_channel.data_to_send()
            if data:
                out.write(data)
        if vc.closed:
            for channel in (vc.in_channel, vc.out_channel):
                writer = self.writer(channel)
                if writer is not None:
                    writer.close()


@dataclass
class _Request:
    method: bytes
    target: bytes
    version: bytes
    headers: dict[bytes, bytes]

    def header(self, name: bytes) -> bytes | None:
        return self.headers.get(name.lower())

    @property
    def content_length(self) -> int:
        raw = self.header(b"content-length") or b"0"
        try:
            return max(0, int(raw))
        except ValueError:
            return -1


class RpcHttpConnection:
    """One TCP connection carrying an RPC_IN_DATA or RPC_OUT_DATA channel."""

    def __init__(self, proxy: RpcProxy, transport: Any, peer: str) -> None:
        self.proxy = proxy
        self.transport = transport
        self.peer = peer
        self._buffer = bytearray()
        self._state = "headers"
        self._ntlm: NtlmServer | None = None
        self._ntlm_account: NtlmAccount | None = None
        self.channel: Channel | None = None
        self._remaining = 0
        self._closed = False
        self._ping: Any = None
        self._out_started = False

    # -- transport callbacks -----------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if self._state == "body":
            self._body(data)
            return
        self._buffer += data
        if self._state == "headers":
            self._try_headers()

    def connection_lost(self) -> None:
        self._closed = True
        if self._ping is not None and self._ping.active():
            self._ping.cancel()
        channel = self.channel
        if channel is None:
            return
        vc = channel.vc
        channel.connection_lost()
        if vc is not None:
            for other in (vc.in_channel, vc.out_channel):
                if other is not channel:
                    writer = self.proxy.writer(other)
                    if writer is not None:
                        writer.close()

    # -- output ----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self._closed:
            self.transport.write(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.transport.loseConnection()

    def _respond(self, status: str, headers: list[tuple[str, str]] | None = None,
                 body: bytes = b"", *, close: bool) -> None:
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers or ()]
        if close:
            lines.append("Connection: close")
        self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        if close:
            self.close()

    # -- request head ----------------------------------------------------------------

    def _try_headers(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEADER:
                self._respond("431 Request Header Fields Too Large", close=True)
            return
        head = bytes(self._buffer[:end])
        del self._buffer[:end + 4]
        request = _parse_head(head)
        if request is None:
            self._respond("400 Bad Request", close=True)
            return
        self._state = "auth"
        fut = asyncio.ensure_future(self._authenticate(request))
        fut.add_done_callback(self._log_failure)

    def _log_failure(self, fut: asyncio.Future[None]) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            logger.error("RPC over HTTP request failed", exc_info=fut.exception())
            self._respond("500 Internal Server Error", close=True)

    async def _authenticate(self, request: _Request) -> None:
        if request.method not in RPC_METHODS:
            self._respond("405 Method Not Allowed", close=True)
            return
        if request.target.split(b"?", 1)[0].lower() != PATH:
            self._respond("404 Not Found", close=True)
            return
        length = request.content_length
        if length < 0:
            self._respond("400 Bad Request", close=True)
            return
        scheme, _, token = (request.header(b"authorization") or b"").strip().partition(b" ")
        scheme = scheme.lower()
        ntlm = self.proxy.config.ntlm
        user = None
        if scheme == b"basic":
            user = await self._basic(token.strip())
            if user is None:
                return
        elif scheme in (b"ntlm", b"negotiate") and ntlm is not None and ntlm.enabled:
            if not await self._ntlm_leg(token.strip(), scheme, length):
                return
            assert self._ntlm_account is not None
            user = self._ntlm_account.user
        else:
            self._challenge(length)
            return
        logger.debug("RPC over HTTP: %s %s for %s from %s", request.method.decode(),
                     request.target.decode("latin-1"), user.address, self.peer)
        if (request.header(b"expect") or b"").lower() == b"100-continue":
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        kind = ChannelKind.IN if request.method == b"RPC_IN_DATA" else ChannelKind.OUT
        self.channel = self.proxy.table.open_channel(kind)
        self.proxy.attach(self.channel, self)
        self._remaining = length
        self._state = "body"
        pending = bytes(self._buffer)
        self._buffer.clear()
        if pending:
            self._body(pending)

    def _challenge(self, length: int, token: bytes | None = None) -> None:
        ntlm = self.proxy.config.ntlm
        headers = []
        if token is not None:
            headers.append(("WWW-Authenticate", "NTLM " + base64.b64encode(token).decode()))
        else:
            if ntlm is not None and ntlm.enabled:
                headers.append(("WWW-Authenticate", "NTLM"))
            headers.append(("WWW-Authenticate", 'Basic realm="groupware", charset="UTF-8"'))
        # A body we will not read makes the connection unusable for another request.
        self._respond("401 Unauthorized", headers, close=length > 0 and token is None)
        if length == 0 or token is not None:
            self._state = "headers"
            if self._buffer:
                self._try_headers()

    async def _basic(self, token: bytes) -> Any:
        try:
            text = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            self._challenge(1)
            return None
        login, sep, password = text.partition(":")
        if not sep:
            self._challenge(1)
            return None
        try:
            result = await self.proxy.config.auth.authenticate(
                login, password, service=Feature.OUTLOOK, peer=self.peer)
        except (AuthenticationFailed, FeatureDisabled, Throttled):
            self._challenge(1)
            return None
        except Unavailable:
            self._respond("503 Service Unavailable", [("Retry-After", "30")], close=True)
            return None
        return result.user

    async def _ntlm_leg(self, token: bytes, scheme: bytes, length: int) -> bool:
        ntlm = self.proxy.config.ntlm
        assert ntlm is not None
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            self._challenge(length)
            return False
        if len(raw) < 12 or not raw.startswith(b"NTLMSSP\x00"):
            self._challenge(length)
            return False
        settings = self.proxy.config.settings
        if raw[8] == 1:
            self._ntlm = NtlmServer(settings.identity, self._lookup, clock=settings.clock)
            try:
                challenge = self._ntlm.process_negotiate(raw)
            except NtlmError:
                self._challenge(length)
                return False
            self._challenge(length, challenge)
            return False
        if raw[8] != 3 or self._ntlm is None:
            self._challenge(length)
            return False
        server, self._ntlm = self._ntlm, None
        try:
            message = AuthenticateMessage.decode(raw)
            account = await ntlm.lookup(message.user, message.domain, peer=self.peer)
            self._ntlm_account = account
            server.process_authenticate(raw)
        except (NtlmError, NtlmAuthenticationFailed) as exc:
            logger.info("RPC over HTTP: NTLM failed from %s: %s", self.peer, exc)
            if isinstance(exc, NtlmAuthenticationFailed):
                await ntlm.failed(self._ntlm_account, "?", self.peer)
            self._ntlm_account = None
            self._challenge(length)
            return False
        assert self._ntlm_account is not None
        ntlm.succeeded(self._ntlm_account, self.peer)
        return True

    def _lookup(self, user: str, domain: str) -> bytes | None:
        account = self._ntlm_account
        return account.nt_hash if account is not None else None

    # -- the stream -------------------------------------------------------------------

    def _body(self, data: bytes) -> None:
        channel = self.channel
        assert channel is not None
        if len(data) > self._remaining:
            data = data[:self._remaining]  # pipelined bytes after the body are not ours
        self._remaining -= len(data)
        if channel.kind is ChannelKind.OUT and not self._out_started:
            self._out_started = True
            self.write(OUT_RESPONSE)
        channel.receive_data(data)
        if channel.error is not None:
            self.close()
            return
        vc = channel.vc
        if vc is not None:
            endpoint = vc.rpc
            if isinstance(endpoint, RpcEndpoint) and channel.kind is ChannelKind.IN:
                endpoint.association.peer = self.peer
                endpoint.on_output = _pumper(self.proxy, vc)
            self.proxy.pump(vc)
            if channel.kind is ChannelKind.OUT and self._ping is None:
                self._schedule_ping(vc)
        else:
            out = channel.data_to_send()
            if out:
                self.write(out)
        if self._remaining == 0 and channel.kind is ChannelKind.IN:
            # Channel recycling (IN_R1/IN_R2) is not implemented: the client reconnects.
            logger.info("RPC over HTTP: IN channel from %s reached its Content-Length",
                        self.peer)
            self.close()

    def _schedule_ping(self, vc: VirtualConnection) -> None:
        interval = min(vc.keepalive_interval / 2000.0, self.proxy.config.max_ping_interval)

        def ping() -> None:
            if self._closed or vc.closed:
                return
            vc.send_ping()
            self.proxy.pump(vc)
            self._ping = self.proxy.config.call_later(interval, ping)

        self._ping = self.proxy.config.call_later(interval, ping)

    def is_busy(self) -> bool:
        vc = self.channel.vc if self.channel is not None else None
        return vc is not None and isinstance(vc.rpc, RpcEndpoint) and vc.rpc.busy


def _pumper(proxy: RpcProxy, vc: VirtualConnection) -> Callable[[], None]:
    def pump() -> None:
        proxy.pump(vc)

    return pump


def _parse_head(head: bytes) -> _Request | None:
    lines = head.split(b"\r\n")
    if not lines or len(lines[0]) > MAX_REQUEST_LINE:
        return None
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            return None
        headers[name.strip().lower()] = value.strip()
    return _Request(parts[0], parts[1], parts[2], headers)


class SniffingProtocol(protocol.Protocol):
    """Looks at the first request line; RPC methods stay here, the rest goes to the site."""

    def __init__(self, proxy: RpcProxy, site: Any, addr: Any) -> None:
        self._proxy = proxy
        self._site = site
        self._addr = addr
        self._buffer = b""
        self._web: Any = None
        self._rpc: RpcHttpConnection | None = None

    @property
    def wrappedProtocol(self) -> Any:
        """The web protocol, for code that walks wrappers (absent for RPC connections)."""
        if self._web is None:
            raise AttributeError("wrappedProtocol")
        return self._web

    def dataReceived(self, data: bytes) -> None:
        if self._web is not None:
            self._web.dataReceived(data)
            return
        if self._rpc is not None:
            self._rpc.data_received(data)
            return
        self._buffer += data
        line_end = self._buffer.find(b"\r\n")
        if line_end < 0 and len(self._buffer) < MAX_REQUEST_LINE:
            method = self._buffer.split(b" ", 1)[0]
            if any(m.startswith(method) for m in RPC_METHODS) or b" " not in self._buffer:
                return  # not decided yet
        method = self._buffer.split(b" ", 1)[0]
        buffered, self._buffer = self._buffer, b""
        transport: Any = self.transport
        if method in RPC_METHODS:
            peer = getattr(transport.getPeer(), "host", "?") if transport else "?"
            self._rpc = RpcHttpConnection(self._proxy, transport, str(peer))
            self._rpc.data_received(buffered)
            return
        self._web = self._site.buildProtocol(self._addr)
        self._web.makeConnection(transport)
        self._web.dataReceived(buffered)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        if self._web is not None:
            self._web.connectionLost(reason)
        if self._rpc is not None:
            self._rpc.connection_lost()

    def is_busy(self) -> bool:
        if self._rpc is not None:
            return self._rpc.is_busy()
        return bool(getattr(self._web, "_handlingRequest", False))


class RpcHttpFactory(protocol.Factory):
    """Wraps the web site's factory: RPC over HTTP connections are taken aside."""

    noisy = False

    def __init__(self, site: Any, proxy: RpcProxy) -> None:
        self.site = site
        self.proxy = proxy

    def buildProtocol(self, addr: Any) -> SniffingProtocol:
        proto = SniffingProtocol(self.proxy, self.site, addr)
        proto.factory = self
        return proto

    def doStart(self) -> None:
        self.site.doStart()

    def doStop(self) -> None:
        self.site.doStop()


__all__ = ["RpcHttpFactory", "RpcProxy", "RpcProxyConfig"]
