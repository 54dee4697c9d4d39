"""Service assembly: one Twisted MultiService, one listener service per configured endpoint.

Start-up listens on every enabled listener and fails as a whole (one clear line, exit
status 2) when any port cannot be bound. Shutdown stops accepting, lets in-flight work
finish for ``server.shutdown_timeout`` seconds, then closes connections and the database.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.application import service
from twisted.internet import defer, endpoints
from twisted.protocols.policies import WrappingFactory
from twisted.protocols.tls import TLSMemoryBIOFactory

from groupware.aio import wait
from groupware.config import ListenerConfig, Protocol, TlsMode
from groupware.errors import ConfigError
from groupware.server import GroupwareServer
from protocols._twisted.tls import server_context_factory
from protocols._twisted.web import QuietSite, build_root

logger = logging.getLogger(__name__)

# Twisted's factories are zope-interface typed, which mypy cannot follow: ``Any`` here.
FactoryBuilder = Callable[[GroupwareServer, ListenerConfig], Any]


def _http_factory(server: GroupwareServer, listener: ListenerConfig) -> Any:
    metrics = server.config.metrics.enabled and (
        server.config.metrics.public or _is_loopback(listener.address)
    )
    root = build_root(server.health, metrics=metrics)
    for mount in HTTP_RESOURCES:
        mount(server, listener, root)
    factory: Any = QuietSite(root)  # type: ignore[no-untyped-call]
    for wrap in HTTP_FACTORY_WRAPPERS:
        factory = wrap(server, listener, factory)
    return factory


def _mount_autodiscover(server: GroupwareServer, listener: ListenerConfig, root: Any) -> None:
    from groupware.handlers.autodiscover import AutodiscoverHandler
    from protocols.autodiscover.resource import AutodiscoverRoot

    handler = AutodiscoverHandler(server)
    root.putChild(b"autodiscover", AutodiscoverRoot(handler, server.get_auth()))


def _wrap_rpc_proxy(server: GroupwareServer, listener: ListenerConfig, site: Any) -> Any:
    """RPC over HTTP v2 (RPC_IN_DATA / RPC_OUT_DATA to /rpc/rpcproxy.dll) beside the site."""
    from protocols.rpc.rpcproxy import RpcHttpFactory, RpcProxy, RpcProxyConfig

    proxy = server._components.get("rpc_proxy")
    if proxy is None:
        proxy = RpcProxy(RpcProxyConfig(_rpc_settings(server), server.get_auth(),
                                        server.get_ntlm_credentials(), server.clock.call_later))
        server._components["rpc_proxy"] = proxy
    return RpcHttpFactory(site, proxy)


def _mount_mapihttp(server: GroupwareServer, listener: ListenerConfig, root: Any) -> None:
    """MAPI over HTTP: /mapi/nspi/ (the address book); /mapi/emsmdb/ will join it."""
    from protocols.mapihttp.resource import MapiHttpResource, MapiRoot
    from protocols.mapihttp.sessions import SessionTable
    from protocols.nspi.http_service import NspiHttpService

    sessions = server._components.get("mapihttp_sessions")
    if sessions is None:
        sessions = SessionTable(server.clock.monotonic,
                                idle_timeout=server.config.outlook.session_timeout)
        server._components["mapihttp_sessions"] = sessions
    mapi = MapiRoot()
    cfg = server.config.outlook
    endpoint = NspiHttpService(server.get_address_book()).endpoint(
        pending_period=cfg.pending_period, max_request=cfg.max_request_kb * 1024)
    nspi: Any = MapiHttpResource(endpoint, server.get_auth(), sessions,
                                 call_later=server.clock.call_later)
    mapi.putChild(b"nspi", nspi)
    root.putChild(b"mapi", mapi)


# Wrappers around each HTTP listener's site factory (connection-level protocols).
HTTP_FACTORY_WRAPPERS: list[Callable[[GroupwareServer, ListenerConfig, Any], Any]] = [
    _wrap_rpc_proxy,
]


def _mount_activesync(server: GroupwareServer, listener: ListenerConfig, root: Any) -> None:
    if not server.config.activesync.enabled:
        return
    from protocols.activesync.resource import ActiveSyncResource

    resource: Any = ActiveSyncResource(server.get_activesync(), server.get_auth())
    root.putChild(b"Microsoft-Server-ActiveSync", resource)


# Web protocols hang their resources on every HTTP listener's tree through these.
HTTP_RESOURCES: list[Callable[[GroupwareServer, ListenerConfig, Any], None]] = [
    _mount_autodiscover,
    _mount_mapihttp,
    _mount_activesync,
]


def _auth_http_factory(server: GroupwareServer, listener: ListenerConfig) -> Any:
    from groupware.handlers.authhttp import ChatAuthChecker
    from protocols.authhttp.resource import build_site

    if not server.config.auth.http_secret:
        logger.warning("auth_http listener %s: [auth] http_secret is empty, every request "
                       "will be refused", listener.label)
    checker = ChatAuthChecker(server.get_auth(), server.config.auth.xmpp_domains)
    return build_site(checker, server.config.auth.http_secret)


def _imap_factory(server: GroupwareServer, listener: ListenerConfig) -> Any:
    from protocols.imap.protocol import IMAPFactory
    from protocols.imap.session import ImapContext, UserConnections

    # One context for every IMAP listener: connection limits count across ports.
    ctx = server._components.get("imap_context")
    if ctx is None:
        ctx = ImapContext(server.config.imap, server.get_auth(), server.get_mail_handler(),
                          server.config.server.hostname, server.version, UserConnections(),
                          UserConnections())
        server._components["imap_context"] = ctx
    tls_context = None
    if listener.tls is not TlsMode.NONE:
        cert = server.get_certificate()
        tls_context = server_context_factory(cert.certificate, cert.private_key,
                                             minimum_version=server.config.tls.minimum_version)
    return IMAPFactory(ctx, implicit_tls=listener.tls is TlsMode.IMPLICIT,
                       tls_context=tls_context)


def _mail_factory(server: GroupwareServer, listener: ListenerConfig) -> Any:
    """SMTP (inbound MX), submission and LMTP listeners; the queue runner starts with them."""
    from protocols.smtp.core import Mode
    from protocols.smtp.limits import shared_limiter
    from protocols.smtp.server import SmtpFactory

    mode = Mode(listener.protocol.value)
    cfg = server.config.smtp
    server.clock.call_later(0, server.get_queue().start)
    return SmtpFactory(
        mode=mode, config=cfg, hostname=server.config.server.hostname,
        delivery=server.get_delivery(),
        submission=server.get_submission() if mode is Mode.SUBMISSION else None,
        limiter=shared_limiter(server, mode.value, cfg.max_connections_per_address,
                               cfg.max_connections_per_user),
        starttls=listener.tls is TlsMode.STARTTLS, implicit_tls=listener.tls is TlsMode.IMPLICIT,
        tls_context=lambda: _mail_tls_context(server),
        monotonic=server.clock.monotonic, call_later=server.clock.call_later)


def _pop3_factory(server: GroupwareServer, listener: ListenerConfig) -> Any:
    from groupware.handlers.pop3 import Pop3Handler
    from protocols.pop3.server import Pop3Factory
    from protocols.smtp.limits import shared_limiter

    handler = server._components.get("pop3_handler")
    if handler is None:
        handler = server._components["pop3_handler"] = Pop3Handler(server)
    cfg = server.config.pop3
    return Pop3Factory(
        config=cfg, hostname=server.config.server.hostname, handler=handler,
        limiter=shared_limiter(server, "pop3", cfg.max_connections_per_address,
                               cfg.max_connections_per_user),
        starttls=listener.tls is TlsMode.STARTTLS, implicit_tls=listener.tls is TlsMode.IMPLICIT,
        tls_context=lambda: _mail_tls_context(server),
        monotonic=server.clock.monotonic, call_later=server.clock.call_later)


def _mail_tls_context(server: GroupwareServer) -> Any:
    """One STARTTLS context per process for SMTP and POP3, built on first use."""
    ctx = server._components.get("mail_tls_context")
    if ctx is None:
        cert = server.get_certificate()
        ctx = server_context_factory(cert.certificate, cert.private_key,
                                     minimum_version=server.config.tls.minimum_version)
        server._components["mail_tls_context"] = ctx
    return ctx


def _rpc_settings(server: GroupwareServer) -> Any:
    """The DCE/RPC interfaces (NSPI, RFR) shared by ncacn_ip_tcp and RPC over HTTP."""
    settings = server._components.get("rpc_settings")
    if settings is None:
        from protocols.nspi.service import interfaces
        from protocols.rpc.endpoint import RpcSettings, server_identity
        from protocols.rpc.interface import InterfaceRegistry

        registry: InterfaceRegistry[Any] = InterfaceRegistry()
        for interface in interfaces(server.get_address_book()):
            registry.register(interface)
        cfg = server.config.server
        settings = RpcSettings(registry, server_identity(cfg.hostname, cfg.default_domain),
                               server.get_ntlm_credentials(), server.clock.time)
        server._components["rpc_settings"] = settings
    return settings


def _rpc_factory(server: GroupwareServer, listener: ListenerConfig) -> Any:
    from protocols.rpc.twisted_tcp import RpcTcpFactory

    return RpcTcpFactory(_rpc_settings(server))


# Protocol -> factory builder. Each protocol issue adds its entry here.
PROTOCOL_FACTORIES: dict[Protocol, FactoryBuilder] = {
    Protocol.HTTP: _http_factory,
    Protocol.AUTH_HTTP: _auth_http_factory,
    Protocol.IMAP: _imap_factory,
    Protocol.SMTP: _mail_factory,
    Protocol.SUBMISSION: _mail_factory,
    Protocol.LMTP: _mail_factory,
    Protocol.RPC: _rpc_factory,
    Protocol.POP3: _pop3_factory,
}


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


class ConnectionTracker(WrappingFactory):
    """Counts open connections so shutdown can wait for them and then cut them."""

    def __init__(self, wrapped: Any) -> None:
        super().__init__(wrapped)  # type: ignore[no-untyped-call]

    def open_connections(self) -> int:
        return len(self.protocols)

    def busy_connections(self) -> int:
        """Connections in the middle of a request (idle keep-alives do not count)."""
        return sum(1 for p in self.protocols if _is_busy(p))

    def abort_all(self) -> None:
        for proto in list(self.protocols):
            transport = proto.transport
            if transport is not None:
                transport.abortConnection()


def _is_busy(proto: Any) -> bool:
    """Ask the innermost protocol whether it is mid-request.

    Protocols may define ``is_busy()``; Twisted's HTTPChannel exposes
    ``_handlingRequest``. Anything else is treated as idle and closed at shutdown.
    """
    while hasattr(proto, "wrappedProtocol"):
        proto = proto.wrappedProtocol
    is_busy = getattr(proto, "is_busy", None)
    if callable(is_busy):
        return bool(is_busy())
    return bool(getattr(proto, "_handlingRequest", False))


class ListenerService(service.Service):
    """One configured listener: its endpoint, factory and listening port."""

    def __init__(self, server: GroupwareServer, listener: ListenerConfig,
                 reactor: Any) -> None:
        self.listener = listener
        self.name = listener.label
        builder = PROTOCOL_FACTORIES.get(listener.protocol)
        if builder is None:
            raise ConfigError(
                f"listeners.{listener.label}.protocol",
                f"{listener.protocol} is not available in this version "
                f"(available: {', '.join(sorted(p.value for p in PROTOCOL_FACTORIES))})",
            )
        factory: Any = builder(server, listener)
        if listener.tls is TlsMode.IMPLICIT:
            cert = server.get_certificate()
            ctx = server_context_factory(cert.certificate, cert.private_key,
                                         minimum_version=server.config.tls.minimum_version)
            factory = TLSMemoryBIOFactory(ctx, False, factory)  # type: ignore[arg-type]
        self.tracker = ConnectionTracker(factory)
        self._endpoint = _endpoint_for(reactor, listener)
        self.port: Any = None  # IListeningPort once listening

    async def listen(self) -> None:
        self.port = await wait(self._endpoint.listen(self.tracker))
        bound = self.port.getHost()
        logger.info("listening: %s on %s:%s (tls=%s)", self.listener.protocol,
                    getattr(bound, "host", "?"), getattr(bound, "port", "?"),
                    self.listener.tls)

    @property
    def bound_port(self) -> int:
        assert self.port is not None
        return int(self.port.getHost().port)

    def stop_listening(self) -> defer.Deferred[None]:
        if self.port is None:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.maybeDeferred(self.port.stopListening)
        self.port = None
        return d


def _endpoint_for(reactor: Any, listener: ListenerConfig) -> Any:
    address = listener.address
    # A deep accept queue: thousands of IMAP/ActiveSync clients reconnect at once after
    # a restart, and Twisted's default of 50 makes the rest wait for SYN retries.
    if ":" in address:
        return endpoints.TCP6ServerEndpoint(reactor, listener.port, backlog=1024,
                                            interface=address)
    return endpoints.TCP4ServerEndpoint(reactor, listener.port, backlog=1024,
                                        interface=address)


@dataclass
class BoundListener:
    label: str
    protocol: str
    address: str
    port: int
    tls: str


class GroupwareApp(service.MultiService):
    """The whole process as one service tree."""

    def __init__(self, server: GroupwareServer, reactor: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.server = server
        self.reactor = reactor
        self.listeners: list[ListenerService] = []
        names: set[str] = set()
        for lst in server.config.listeners:
            if lst.enabled:
                svc = ListenerService(server, lst, reactor)
                name, n = svc.listener.label, 1
                while name in names:  # e.g. several listeners on port 0
                    n += 1
                    name = f"{svc.listener.label}#{n}"
                names.add(name)
                svc.name = name
                svc.setServiceParent(self)  # type: ignore[no-untyped-call]
                self.listeners.append(svc)

    async def start(self) -> list[BoundListener]:
        """Bind every listener; on any failure unbind the others and re-raise."""
        self.startService()  # type: ignore[no-untyped-call]
        try:
            for svc in self.listeners:
                await svc.listen()
        except Exception:
            for svc in self.listeners:
                await wait(svc.stop_listening())
            raise
        return [
            BoundListener(str(s.name), s.listener.protocol.value, s.listener.address,
                          s.bound_port, s.listener.tls.value)
            for s in self.listeners
        ]

    async def stop(self) -> None:
        """Graceful stop: close listeners, drain, cut what is left, close components."""
        for svc in self.listeners:
            await wait(svc.stop_listening())
        deadline = self.server.clock.monotonic() + self.server.config.server.shutdown_timeout
        db = self.server._components.get("get_database")
        while self.server.clock.monotonic() < deadline:
            busy = sum(s.tracker.busy_connections() for s in self.listeners)
            inflight = db.inflight if db is not None else 0
            if busy == 0 and inflight == 0:
                break
            await asyncio.sleep(0.05)
        for svc in self.listeners:
            left = svc.tracker.open_connections()
            if left:
                logger.info("closing %d open connection(s) on %s", left, svc.name)
                svc.tracker.abort_all()
        await wait(defer.maybeDeferred(self.stopService))
        self.server.close()
        logger.info("stopped")


__all__ = ["PROTOCOL_FACTORIES", "BoundListener", "GroupwareApp"]
