"""One DCE/RPC association driven asynchronously: the glue between a transport (a TCP
connection or an RPC over HTTP virtual connection), :class:`ServerConnection` and the
interface handlers.

Two things need the event loop that the sans-IO core cannot do itself:

* **NTLM needs the NT hash before it can verify.** The core asks a synchronous
  ``lookup_nt_hash(user, domain)``; the hash lives in the directory. So PDUs are
  inspected before they reach the core: a bind, alter_context or auth3 carrying an
  NTLMSSP AUTHENTICATE_MESSAGE makes us fetch that user's hash (through
  :class:`groupware.handlers.ntlm.NtlmCredentials`, which also applies the login
  gates and throttle) and only then is the PDU fed in.
* **Handlers are coroutines.** Calls are run one after the other, in arrival order,
  so context handles and STATs are never raced by the same client.

Handler failures become fault PDUs (``RpcFault`` with its status, undecodable stubs
``rpc_x_bad_stub_data``, anything else ``nca_s_fault_unspec``) and the association
stays usable for the next call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from groupware.errors import InvalidInput
from protocols.rpc.errors import NdrError, NtlmError, RpcError
from protocols.rpc.interface import InterfaceRegistry
from protocols.rpc.ntlm import AuthenticateMessage, ServerIdentity
from protocols.rpc.pdu import COMMON_HEADER_SIZE, AuthType, FaultStatus, Header, PType, split_auth
from protocols.rpc.security import NtlmProvider, ServerSecurityProvider
from protocols.rpc.server import (
    Authenticated,
    AuthenticationRejected,
    AuthInfo,
    ConnectionClosed,
    RequestReceived,
    ServerConfig,
    ServerConnection,
)

if TYPE_CHECKING:
    from groupware.handlers.ntlm import NtlmAccount, NtlmCredentials

logger = logging.getLogger(__name__)

NTLMSSP = b"NTLMSSP\x00"


class RpcFault(Exception):
    """Raised by a handler to answer its call with a fault PDU of ``status``."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"fault 0x{status:08X}")
        self.status = status


@dataclass
class Association:
    """Per-connection state shared by the calls of one client connection."""

    peer: str
    account: NtlmAccount | None = None
    """Who authenticated (set when NTLM completes)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Interfaces keep their per-association data here (e.g. NSPI context handles)."""
    closers: list[Callable[[], None]] = field(default_factory=list)
    """Run once when the association ends (context handle rundown)."""


@dataclass(frozen=True)
class RpcCall:
    """A complete request as a handler sees it."""

    opnum: int
    stub: bytes
    auth: AuthInfo | None
    association: Association


RpcHandler = Callable[[RpcCall], Awaitable[bytes]]


@dataclass(frozen=True)
class RpcSettings:
    """What every association of a listener shares."""

    registry: InterfaceRegistry[RpcHandler]
    identity: ServerIdentity
    ntlm: NtlmCredentials | None
    clock: Callable[[], float]
    config: ServerConfig = field(default_factory=ServerConfig)


def server_identity(hostname: str, domain: str) -> ServerIdentity:
    """The names NTLM's CHALLENGE announces (MS-NLMP 2.2.2.1), from our host and domain."""
    computer = (hostname.split(".", 1)[0] or "groupware").upper()[:15]
    netbios = (domain.split(".", 1)[0] or "WORKGROUP").upper()[:15]
    return ServerIdentity(computer, netbios, hostname, domain)


class RpcEndpoint:
    """A ServerConnection look-alike (receive_data / data_to_send / closed) that runs
    the calls itself; ``on_output`` is called whenever there is something to send."""

    def __init__(self, settings: RpcSettings, peer: str,
                 on_output: Callable[[], None] | None = None) -> None:
        self._settings = settings
        self.association = Association(peer)
        self.on_output = on_output or (lambda: None)
        self._prefetched: dict[tuple[str, str], NtlmAccount | None] = {}
        self._last_user: tuple[str, str] | None = None
        security: dict[int, Callable[[], ServerSecurityProvider]] = {}
        if settings.ntlm is not None and settings.ntlm.enabled:
            # NtlmProvider implements the protocol; mypy cannot see through the
            # property/attribute difference of message_security.
            security[AuthType.WINNT] = cast(Callable[[], ServerSecurityProvider],
                                            NtlmProvider.factory(settings.identity,
                                                                 self._lookup,
                                                                 clock=settings.clock))
        self._conn: ServerConnection[RpcHandler] = ServerConnection(
            settings.registry, config=settings.config, security=security)
        self._inbuf = bytearray()
        self._queue: deque[bytes] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self._finished = False

    # -- the ServerConnection face used by transports and vconn -------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the client; b"" when the transport is gone."""
        if self._finished:
            return
        if not data:
            self._queue.append(b"")
        else:
            self._inbuf += data
            while len(self._inbuf) >= COMMON_HEADER_SIZE:
                length = int.from_bytes(self._inbuf[8:10], "little")
                if length < COMMON_HEADER_SIZE:
                    # Framing is lost: let the core answer and close.
                    self._queue.append(bytes(self._inbuf))
                    self._inbuf.clear()
                    break
                if len(self._inbuf) < length:
                    break
                self._queue.append(bytes(self._inbuf[:length]))
                del self._inbuf[:length]
        self._wakeup.set()
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def data_to_send(self) -> bytes:
        return self._conn.data_to_send()

    def next_event(self) -> None:
        """Events are consumed here; vconn's application side sees none."""
        return None

    @property
    def closed(self) -> bool:
        return self._conn.closed

    @property
    def busy(self) -> bool:
        """True while a call runs (graceful shutdown waits for it)."""
        return self._busy

    # -- internals ----------------------------------------------------------------------

    def _lookup(self, user: str, domain: str) -> bytes | None:
        account = self._prefetched.get((user.lower(), domain.lower()))
        self._last_user = (user, domain)
        return account.nt_hash if account is not None else None

    async def _run(self) -> None:
        try:
            while not self._finished:
                if not self._queue:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                pdu = self._queue.popleft()
                if not pdu:
                    self._conn.receive_data(b"")
                    self._end()
                    return
                await self._prefetch(pdu)
                self._conn.receive_data(pdu)
                await self._pump()
        except Exception:
            logger.exception("DCE/RPC association from %s failed", self.association.peer)
            self._end()

    async def _prefetch(self, pdu: bytes) -> None:
        ntlm = self._settings.ntlm
        if ntlm is None or pdu[2] not in (PType.BIND, PType.ALTER_CONTEXT, PType.AUTH3):
            return
        try:
            header = Header.decode(pdu)
            if header.auth_length == 0 or header.frag_length != len(pdu):
                return
            _, verifier = split_auth(pdu, header)
        except RpcError:
            return
        if verifier is None or verifier.auth_type != AuthType.WINNT:
            return
        token = verifier.auth_value
        if not token.startswith(NTLMSSP) or len(token) < 12 or token[8] != 3:
            return
        try:
            message = AuthenticateMessage.decode(token)
        except NtlmError:
            return  # the core refuses it with the right answer
        key = (message.user.lower(), message.domain.lower())
        if key not in self._prefetched:
            self._prefetched[key] = await ntlm.lookup(message.user, message.domain,
                                                      peer=self.association.peer)

    async def _pump(self) -> None:
        conn = self._conn
        while (event := conn.next_event()) is not None:
            if isinstance(event, RequestReceived):
                self._flush()
                await self._call(event)
            elif isinstance(event, Authenticated):
                self._authenticated(event.auth)
            elif isinstance(event, AuthenticationRejected):
                await self._rejected()
            elif isinstance(event, ConnectionClosed):
                logger.debug("DCE/RPC association from %s: %s", self.association.peer,
                             event.reason)
        self._flush()
        if conn.closed:
            self._end()

    def _authenticated(self, auth: AuthInfo) -> None:
        identity = auth.identity
        account = self._prefetched.get((identity.user.lower(), identity.domain.lower()))
        self.association.account = account
        if account is not None and self._settings.ntlm is not None:
            self._settings.ntlm.succeeded(account, self.association.peer)

    async def _rejected(self) -> None:
        ntlm = self._settings.ntlm
        if ntlm is None or self._last_user is None:
            return
        user, domain = self._last_user
        await ntlm.failed(self._prefetched.get((user.lower(), domain.lower())),
                          f"{domain}\\{user}", self.association.peer)

    async def _call(self, event: RequestReceived[RpcHandler]) -> None:
        call = RpcCall(event.opnum, event.stub, event.auth, self.association)
        self._busy = True
        try:
            stub = await event.handler(call)
        except RpcFault as exc:
            logger.info("DCE/RPC %s opnum %d from %s: fault 0x%08X (%s)",
                        event.interface.name, event.opnum, self.association.peer,
                        exc.status, exc)
            self._conn.fault(event.call_id, exc.status)
        except (NdrError, InvalidInput) as exc:
            logger.info("DCE/RPC %s opnum %d from %s: bad stub: %s", event.interface.name,
                        event.opnum, self.association.peer, exc)
            self._conn.fault(event.call_id, FaultStatus.BAD_STUB_DATA)
        except Exception:
            logger.exception("DCE/RPC %s opnum %d failed", event.interface.name, event.opnum)
            self._conn.fault(event.call_id, FaultStatus.FAULT_UNSPEC)
        else:
            self._conn.respond(event.call_id, stub)
        finally:
            self._busy = False
        self._flush()

    def _flush(self) -> None:
        try:
            self.on_output()
        except Exception:
            logger.exception("DCE/RPC transport write failed")

    def _end(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._flush()
        closers, self.association.closers = self.association.closers, []
        for closer in closers:
            try:
                closer()
            except Exception:
                logger.exception("context handle rundown failed")


__all__ = ["Association", "RpcCall", "RpcEndpoint", "RpcFault", "RpcHandler", "RpcSettings",
           "server_identity"]
