"""Sans-IO server side of a connection-oriented DCE/RPC association (C706 chapter 12).

Feed the bytes the client sent with :meth:`ServerConnection.receive_data`, take
events with :meth:`~ServerConnection.next_event`, answer calls with
:meth:`~ServerConnection.respond` or :meth:`~ServerConnection.fault`, and write
whatever :meth:`~ServerConnection.data_to_send` returns. No sockets, no clock.

Protocol housekeeping is answered here without involving the application: bind /
alter_context negotiation (presentation contexts, NDR20 only, bind time feature
negotiation, fragment sizes, association groups), the three-leg security exchange,
verification and stripping of per-PDU verifiers, request reassembly, and faults for
unknown interfaces, opnums, out-of-order fragments and oversized calls.

After a :class:`ConnectionClosed` event the transport should send what is left in
``data_to_send()`` and close; later input is ignored.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from groupware.errors import AuthenticationFailed
from protocols.rpc.errors import NtlmError, PduError
from protocols.rpc.interface import InterfaceRegistry, RpcInterface
from protocols.rpc.pdu import (
    COMMON_HEADER_SIZE,
    MUST_RECV_FRAG_SIZE,
    NDR20,
    NULL_SYNTAX,
    SEC_TRAILER_SIZE,
    STUB_PAD_ALIGNMENT,
    AuthLevel,
    AuthVerifier,
    Bind,
    BindAck,
    BindNak,
    BindNakReason,
    BindTimeFeature,
    ContextElement,
    ContextResult,
    Fault,
    FaultStatus,
    Header,
    Pdu,
    PfcFlags,
    ProviderReason,
    PType,
    Request,
    Response,
    Result,
    SyntaxId,
    bind_time_features,
    decode_pdu,
    encode_pdu,
)
from protocols.rpc.security import Identity, ServerSecurityProvider, protect, unprotect
from protocols.rpc.verification import VerificationTrailer, split_verification_trailer

log = logging.getLogger(__name__)

H = TypeVar("H")

SUPPORTED_AUTH_LEVELS = frozenset(
    {
        AuthLevel.CONNECT,
        AuthLevel.CALL,
        AuthLevel.PKT,
        AuthLevel.PKT_INTEGRITY,
        AuthLevel.PKT_PRIVACY,
    }
)


def protection_level(auth_level: int) -> int:
    """The protection actually applied for a wire auth_level.

    MS-RPCE 2.2.1.1.8: CALL is processed as PKT on connection-oriented transports,
    and a level the provider lacks is upgraded to the next supported one; NTLM has
    no separate replay-only protection, so PKT is applied as PKT_INTEGRITY (as Samba
    does). The wire value in every sec_trailer stays the client's.
    """
    if auth_level in (AuthLevel.CALL, AuthLevel.PKT):
        return AuthLevel.PKT_INTEGRITY
    return auth_level


_assoc_counter = itertools.count(0x1000)


def _next_assoc_group() -> int:
    return next(_assoc_counter) & 0xFFFFFFFF or 1


@dataclass(frozen=True)
class ServerConfig:
    """Limits and choices of one listener; the defaults are Windows'."""

    max_recv_frag: int = 5840
    max_xmit_frag: int = 5840
    max_request_size: int = 4 << 20
    """Largest reassembled request stub; larger calls fault nca_s_fault_remote_no_memory."""
    max_contexts: int = 64
    max_pending_calls: int = 64
    """Calls handed to the application and not yet answered."""
    secondary_address: bytes = b""
    """sec_addr of bind_ack (the port as ASCII with NUL for ncacn_ip_tcp)."""
    min_auth_level: int = AuthLevel.NONE
    """Requests on connections below this level fault rpc_s_access_denied."""
    features: BindTimeFeature = BindTimeFeature.KEEP_CONNECTION_ON_ORPHAN


@dataclass(frozen=True)
class PresentationContext(Generic[H]):
    """An accepted presentation context (C706 12.6.3.1)."""

    context_id: int
    interface: RpcInterface[H]
    abstract_syntax: SyntaxId
    transfer_syntax: SyntaxId


@dataclass(frozen=True)
class AuthInfo:
    """The security context calls arrive under."""

    auth_type: int
    auth_level: int
    auth_context_id: int
    identity: Identity

    @property
    def protection(self) -> int:
        """Effective protection (see :func:`protection_level`)."""
        return protection_level(self.auth_level)


# -- events -----------------------------------------------------------------------
@dataclass(frozen=True)
class Bound:
    """A bind or alter_context was accepted (some contexts may have been refused)."""

    assoc_group_id: int
    accepted: tuple[int, ...]
    rejected: tuple[int, ...]


@dataclass(frozen=True)
class Authenticated:
    """The security exchange completed; later calls carry ``auth``."""

    auth: AuthInfo


@dataclass(frozen=True)
class AuthenticationRejected:
    """Credentials did not verify; calls on this connection will be refused."""

    reason: str


@dataclass(frozen=True)
class RequestReceived(Generic[H]):
    """A complete (reassembled, verified, decrypted) call for the application."""

    call_id: int
    context_id: int
    opnum: int
    stub: bytes
    interface: RpcInterface[H]
    handler: H
    auth: AuthInfo | None
    object_uuid: uuid.UUID | None = None
    verification: VerificationTrailer | None = None


@dataclass(frozen=True)
class CallCancelled:
    """co_cancel or orphaned for a call: its response will not be wanted."""

    call_id: int
    orphaned: bool


@dataclass(frozen=True)
class ConnectionClosed:
    """Fatal protocol error or client shutdown: flush data_to_send() and close."""

    reason: str


Event = (
    Bound
    | Authenticated
    | AuthenticationRejected
    | RequestReceived[H]
    | CallCancelled
    | ConnectionClosed
)


@dataclass
class _PartialCall:
    call_id: int
    context_id: int
    opnum: int
    object_uuid: uuid.UUID | None
    drep: bytes
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    discarding: bool = False


@dataclass
class _AuthState:
    provider: ServerSecurityProvider
    auth_type: int
    auth_level: int
    auth_context_id: int
    established: AuthInfo | None = None
    failed: bool = False


class _Fatal(Exception):
    """Internal: answer with a fault (if a call id is known) and close."""

    def __init__(self, reason: str, status: int, call_id: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.call_id = call_id


class ServerConnection(Generic[H]):
    """One client connection (one association) as a byte-in/event-out machine."""

    def __init__(
        self,
        registry: InterfaceRegistry[H],
        *,
        config: ServerConfig | None = None,
        security: Mapping[int, Callable[[], ServerSecurityProvider]] | None = None,
        assoc_group: Callable[[int], int | None] | None = None,
        unknown_opnum: Callable[[RpcInterface[H], int], int] | None = None,
    ) -> None:
        """``security`` maps an auth_type to a per-connection provider factory.

        ``assoc_group(requested)`` returns the association group id to use (a new
        one for 0) or None to refuse the bind; ``unknown_opnum(interface, opnum)``
        chooses the fault status for opnums outside the interface table (default
        nca_s_op_rng_error) and is the place to log them.
        """
        self._registry = registry
        self._config = config or ServerConfig()
        self._security = dict(security or {})
        self._assoc_group = assoc_group
        self._unknown_opnum = unknown_opnum
        self._inbuf = bytearray()
        self._out = bytearray()
        self._events: deque[Event[H]] = deque()
        self._closed = False
        self._bound = False
        self.assoc_group_id = 0
        self.max_recv_frag = max(self._config.max_recv_frag, MUST_RECV_FRAG_SIZE)
        self.max_xmit_frag = max(self._config.max_xmit_frag, MUST_RECV_FRAG_SIZE)
        self.features = BindTimeFeature(0)
        self.header_signing = False
        self._contexts: dict[int, PresentationContext[H]] = {}
        self._auth: _AuthState | None = None
        self._partial: _PartialCall | None = None
        self._pending: dict[int, int] = {}  # call_id -> context_id, answered by respond()

    # -- public API ---------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def auth(self) -> AuthInfo | None:
        return self._auth.established if self._auth else None

    def contexts(self) -> Mapping[int, PresentationContext[H]]:
        return dict(self._contexts)

    def receive_data(self, data: bytes) -> None:
        """Bytes from the transport; an empty ``data`` means the peer closed."""
        if self._closed:
            return
        if not data:
            self._close("peer closed the connection")
            return
        self._inbuf += data
        while not self._closed and len(self._inbuf) >= COMMON_HEADER_SIZE:
            frag_length = int.from_bytes(self._inbuf[8:10], "little")
            limit = self.max_recv_frag
            if frag_length > limit:
                call_id = int.from_bytes(self._inbuf[12:16], "little")
                self._fatal(
                    _Fatal(
                        f"fragment of {frag_length} bytes over {limit}",
                        FaultStatus.PROTO_ERROR,
                        call_id,
                    )
                )
                return
            if frag_length < COMMON_HEADER_SIZE:
                self._fatal(_Fatal(f"frag_length {frag_length} too short", FaultStatus.PROTO_ERROR))
                return
            if len(self._inbuf) < frag_length:
                return
            raw = bytes(self._inbuf[:frag_length])
            del self._inbuf[:frag_length]
            try:
                self._handle(raw)
            except _Fatal as exc:
                self._fatal(exc)
            except PduError as exc:
                self._fatal(
                    _Fatal(
                        str(exc),
                        exc.status or FaultStatus.PROTO_ERROR,
                        int.from_bytes(raw[12:16], "little"),
                    )
                )

    def next_event(self) -> Event[H] | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def respond(self, call_id: int, stub: bytes) -> None:
        """Answer a :class:`RequestReceived` with its marshalled output stub."""
        context_id = self._take_pending(call_id)
        if context_id is None:
            return
        self._send_response(call_id, context_id, stub)

    def fault(self, call_id: int, status: int, *, did_not_execute: bool = False) -> None:
        """Answer a :class:`RequestReceived` with a fault PDU (e.g. the handler failed)."""
        context_id = self._take_pending(call_id)
        if context_id is None:
            return
        self._send_fault(call_id, status, context_id, did_not_execute=did_not_execute)

    # -- internals: output --------------------------------------------------
    def _take_pending(self, call_id: int) -> int | None:
        if self._closed:
            return None
        if call_id not in self._pending:
            log.debug("dropping answer to unknown or cancelled call %d", call_id)
            return None
        return self._pending.pop(call_id)

    def _emit(self, pdu: Pdu) -> None:
        self._out += encode_pdu(pdu)

    def _send_fault(
        self, call_id: int, status: int, context_id: int = 0, *, did_not_execute: bool = True
    ) -> None:
        flags = PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG
        if did_not_execute:
            flags |= PfcFlags.DID_NOT_EXECUTE
        self._emit(Pdu(PType.FAULT, call_id, Fault(status, context_id), flags))

    def _send_response(self, call_id: int, context_id: int, stub: bytes) -> None:
        auth = self._auth.established if self._auth else None
        signed = auth is not None and auth.protection >= AuthLevel.PKT_INTEGRITY
        overhead = 24
        if signed:
            assert self._auth is not None
            overhead += SEC_TRAILER_SIZE + self._auth.provider.signature_size
            chunk = (self.max_xmit_frag - overhead) // STUB_PAD_ALIGNMENT * STUB_PAD_ALIGNMENT
        else:
            chunk = self.max_xmit_frag - overhead
        offset = 0
        while True:
            piece = stub[offset : offset + chunk]
            flags = PfcFlags(0)
            if offset == 0:
                flags |= PfcFlags.FIRST_FRAG
            if offset + chunk >= len(stub):
                flags |= PfcFlags.LAST_FRAG
            body = Response(len(stub) - offset, context_id, piece)
            if signed:
                assert self._auth is not None and auth is not None
                verifier = AuthVerifier(
                    auth.auth_type,
                    auth.auth_level,
                    auth.auth_context_id,
                    b"\x00" * self._auth.provider.signature_size,
                )
                raw = encode_pdu(Pdu(PType.RESPONSE, call_id, body, flags, verifier))
                header = Header.decode(raw)
                raw = protect(raw, header, auth.protection, self._auth.provider.message_security)
                self._out += raw
            else:
                self._emit(Pdu(PType.RESPONSE, call_id, body, flags))
            offset += chunk
            if offset >= len(stub):
                break

    def _close(self, reason: str) -> None:
        if not self._closed:
            self._closed = True
            self._partial = None
            self._pending.clear()
            self._events.append(ConnectionClosed(reason))

    def _fatal(self, exc: _Fatal) -> None:
        log.info("closing DCE/RPC connection: %s", exc)
        self._send_fault(exc.call_id, exc.status)
        self._close(str(exc))

    # -- internals: input ---------------------------------------------------
    def _handle(self, raw: bytes) -> None:
        header = Header.decode(raw)
        ptype = header.ptype
        if ptype == PType.REQUEST:
            self._handle_request(raw, header)
            return
        if ptype in (PType.BIND, PType.ALTER_CONTEXT):
            self._handle_bind(decode_pdu(raw), ptype == PType.ALTER_CONTEXT)
            return
        if ptype == PType.AUTH3:
            self._handle_auth3(decode_pdu(raw))
            return
        if ptype in (PType.CO_CANCEL, PType.ORPHANED):
            self._handle_cancel(header)
            return
        if ptype == PType.SHUTDOWN:
            log.debug("ignoring shutdown PDU from client")
            return
        raise _Fatal(
            f"unexpected PDU type {ptype} from client", FaultStatus.PROTO_ERROR, header.call_id
        )

    def _handle_cancel(self, header: Header) -> None:
        orphaned = header.ptype == PType.ORPHANED
        call_id = header.call_id
        if self._partial is not None and self._partial.call_id == call_id:
            self._partial = None
        self._pending.pop(call_id, None)
        self._events.append(CallCancelled(call_id, orphaned))

    # bind / alter_context ----------------------------------------------------
    def _nak(self, call_id: int, reason: BindNakReason, text: str) -> None:
        log.info("bind_nak (%s): %s", reason.name, text)
        self._emit(Pdu(PType.BIND_NAK, call_id, BindNak(reason)))
        self._close(f"bind refused: {text}")

    def _negotiate(self, element: ContextElement) -> Result:
        if len(element.transfer_syntaxes) == 1:
            wanted = bind_time_features(element.transfer_syntaxes[0])
            if wanted is not None:
                # MS-RPCE 3.3.1.5.3: answer negotiate_ack with the features we share.
                self.features = BindTimeFeature(wanted & self._config.features)
                return Result(ContextResult.NEGOTIATE_ACK, int(self.features), NULL_SYNTAX)
        interface = self._registry.find(element.abstract_syntax)
        if interface is None:
            return Result(
                ContextResult.PROVIDER_REJECTION,
                ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED,
                NULL_SYNTAX,
            )
        if NDR20 not in element.transfer_syntaxes:
            # NDR64 and anything else: refused, the client retries with NDR20.
            return Result(
                ContextResult.PROVIDER_REJECTION,
                ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED,
                NULL_SYNTAX,
            )
        existing = self._contexts.get(element.context_id)
        if existing is not None and existing.abstract_syntax != element.abstract_syntax:
            return Result(
                ContextResult.PROVIDER_REJECTION, ProviderReason.NOT_SPECIFIED, NULL_SYNTAX
            )
        if existing is None and len(self._contexts) >= self._config.max_contexts:
            return Result(
                ContextResult.PROVIDER_REJECTION, ProviderReason.LOCAL_LIMIT_EXCEEDED, NULL_SYNTAX
            )
        self._contexts[element.context_id] = PresentationContext(
            element.context_id, interface, element.abstract_syntax, NDR20
        )
        return Result(ContextResult.ACCEPTANCE, 0, NDR20)

    def _handle_bind(self, pdu: Pdu, alter: bool) -> None:
        body = pdu.body
        assert isinstance(body, Bind)
        call_id = pdu.call_id
        if not alter:
            if self._bound:
                self._nak(call_id, BindNakReason.NOT_SPECIFIED, "second bind on the connection")
                return
            assoc = body.assoc_group_id
            if self._assoc_group is not None:
                chosen = self._assoc_group(assoc)
                if chosen is None:
                    self._nak(call_id, BindNakReason.NOT_SPECIFIED, f"unknown assoc group {assoc}")
                    return
                assoc = chosen
            elif assoc == 0:
                assoc = _next_assoc_group()
            self.assoc_group_id = assoc
            # The client's transmit size bounds what we receive and vice versa.
            self.max_recv_frag = min(
                self.max_recv_frag, max(body.max_xmit_frag, MUST_RECV_FRAG_SIZE)
            )
            self.max_xmit_frag = min(
                self.max_xmit_frag, max(body.max_recv_frag, MUST_RECV_FRAG_SIZE)
            )
            self.header_signing = bool(pdu.flags & PfcFlags.SUPPORT_HEADER_SIGN)
        elif not self._bound:
            raise _Fatal("alter_context before bind", FaultStatus.PROTO_ERROR, call_id)

        auth_out: AuthVerifier | None = None
        if pdu.auth is not None:
            auth_out = self._bind_auth(pdu, alter)
            if self._closed:
                return

        results = tuple(self._negotiate(element) for element in body.contexts)
        self._bound = True
        flags = PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG
        if self.header_signing:
            flags |= PfcFlags.SUPPORT_HEADER_SIGN
        ack = BindAck(
            self.max_xmit_frag,
            self.max_recv_frag,
            self.assoc_group_id,
            b"" if alter else self._config.secondary_address,
            results,
        )
        ptype = PType.ALTER_CONTEXT_RESP if alter else PType.BIND_ACK
        self._emit(Pdu(ptype, call_id, ack, flags, auth_out))
        accepted = tuple(
            e.context_id
            for e, r in zip(body.contexts, results, strict=True)
            if r.result == ContextResult.ACCEPTANCE
        )
        rejected = tuple(
            e.context_id
            for e, r in zip(body.contexts, results, strict=True)
            if r.result in (ContextResult.PROVIDER_REJECTION, ContextResult.USER_REJECTION)
        )
        self._events.append(Bound(self.assoc_group_id, accepted, rejected))

    def _bind_auth(self, pdu: Pdu, alter: bool) -> AuthVerifier | None:
        verifier = pdu.auth
        assert verifier is not None
        state = self._auth
        if state is not None:
            same = (
                verifier.auth_type == state.auth_type
                and verifier.auth_context_id == state.auth_context_id
            )
            if alter and same and state.established is None and not state.failed:
                # Third leg carried by alter_context instead of auth3.
                self._complete_auth(state, verifier.auth_value)
                if state.failed:
                    raise _Fatal("authentication failed", FaultStatus.ACCESS_DENIED, pdu.call_id)
                return None
            if same:
                return None  # plain alter_context repeating the established verifier
            raise _Fatal(
                "a second security context is not supported", FaultStatus.ACCESS_DENIED, pdu.call_id
            )
        factory = self._security.get(verifier.auth_type)
        if factory is None:
            self._nak(
                pdu.call_id,
                BindNakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED,
                f"auth type {verifier.auth_type}",
            )
            return None
        if verifier.auth_level not in SUPPORTED_AUTH_LEVELS:
            self._nak(
                pdu.call_id,
                BindNakReason.NOT_SPECIFIED,
                f"auth level {verifier.auth_level} not supported",
            )
            return None
        provider = factory()
        try:
            token = provider.accept(verifier.auth_value)
        except NtlmError as exc:
            self._nak(pdu.call_id, BindNakReason.INVALID_CHECKSUM, str(exc))
            return None
        self._auth = _AuthState(
            provider, verifier.auth_type, verifier.auth_level, verifier.auth_context_id
        )
        return AuthVerifier(
            verifier.auth_type, verifier.auth_level, verifier.auth_context_id, token
        )

    def _complete_auth(self, state: _AuthState, token: bytes) -> None:
        try:
            identity = state.provider.complete(token)
        except (NtlmError, AuthenticationFailed) as exc:
            state.failed = True
            log.info("DCE/RPC authentication failed: %s", exc)
            self._events.append(AuthenticationRejected(str(exc)))
            return
        state.established = AuthInfo(
            state.auth_type, state.auth_level, state.auth_context_id, identity
        )
        self._events.append(Authenticated(state.established))

    def _handle_auth3(self, pdu: Pdu) -> None:
        state = self._auth
        verifier = pdu.auth
        if state is None or verifier is None or state.established is not None or state.failed:
            raise _Fatal("unexpected auth3", FaultStatus.PROTO_ERROR, pdu.call_id)
        if (
            verifier.auth_type != state.auth_type
            or verifier.auth_context_id != state.auth_context_id
        ):
            raise _Fatal("auth3 for another security context", FaultStatus.PROTO_ERROR, pdu.call_id)
        self._complete_auth(state, verifier.auth_value)

    # requests ------------------------------------------------------------------
    def _open_request(self, raw: bytes, header: Header) -> Pdu:
        """Apply the security context: verify, decrypt, strip the verifier."""
        state = self._auth
        if state is not None and state.failed:
            raise _Fatal(
                "call after failed authentication", FaultStatus.ACCESS_DENIED, header.call_id
            )
        auth = state.established if state else None
        if auth is None or auth.protection < AuthLevel.PKT_INTEGRITY:
            if state is not None and state.established is None:
                raise _Fatal(
                    "call before the security exchange completed",
                    FaultStatus.ACCESS_DENIED,
                    header.call_id,
                )
            return decode_pdu(raw)  # connect level: any verifier is stripped unread
        if header.auth_length != _signature_size(state):
            raise _Fatal(
                "request without a valid verifier", FaultStatus.ACCESS_DENIED, header.call_id
            )
        trailer_at = len(raw) - header.auth_length - SEC_TRAILER_SIZE
        auth_type, auth_level = raw[trailer_at], raw[trailer_at + 1]
        context_id = int.from_bytes(raw[trailer_at + 4 : trailer_at + 8], "little")
        if (auth_type, auth_level, context_id) != (
            auth.auth_type,
            auth.auth_level,
            auth.auth_context_id,
        ):
            raise _Fatal(
                "verifier does not match the security context",
                FaultStatus.ACCESS_DENIED,
                header.call_id,
            )
        assert state is not None
        try:
            plain = unprotect(raw, header, auth.protection, state.provider.message_security)
        except NtlmError as exc:
            raise _Fatal(
                f"verifier check failed: {exc}", FaultStatus.SEC_PKG_ERROR, header.call_id
            ) from None
        return decode_pdu(plain)

    def _handle_request(self, raw: bytes, header: Header) -> None:
        if not self._bound:
            raise _Fatal("request before bind", FaultStatus.PROTO_ERROR, header.call_id)
        pdu = self._open_request(raw, header)
        body = pdu.body
        assert isinstance(body, Request)
        first = bool(pdu.flags & PfcFlags.FIRST_FRAG)
        last = bool(pdu.flags & PfcFlags.LAST_FRAG)
        partial = self._partial
        if first:
            if partial is not None:
                raise _Fatal(
                    f"call {pdu.call_id} started while call {partial.call_id} "
                    "is still being reassembled",
                    FaultStatus.PROTO_ERROR,
                    pdu.call_id,
                )
            if pdu.call_id in self._pending:
                raise _Fatal(f"call id {pdu.call_id} reused", FaultStatus.PROTO_ERROR, pdu.call_id)
            partial = _PartialCall(
                pdu.call_id, body.context_id, body.opnum, body.object_uuid, pdu.drep
            )
            self._partial = partial
            if body.context_id not in self._contexts:
                partial.discarding = True
                self._send_fault(pdu.call_id, FaultStatus.UNK_IF, body.context_id)
            elif body.alloc_hint > self._config.max_request_size:
                partial.discarding = True
                self._send_fault(pdu.call_id, FaultStatus.REMOTE_NO_MEMORY, body.context_id)
        else:
            if partial is None or partial.call_id != pdu.call_id:
                raise _Fatal(
                    f"fragment of call {pdu.call_id} out of order",
                    FaultStatus.PROTO_ERROR,
                    pdu.call_id,
                )
            if body.context_id != partial.context_id or body.opnum != partial.opnum:
                raise _Fatal(
                    "fragment changes context or opnum", FaultStatus.PROTO_ERROR, pdu.call_id
                )
        if not partial.discarding:
            partial.size += len(body.stub)
            if partial.size > self._config.max_request_size:
                partial.discarding = True
                partial.chunks.clear()
                self._send_fault(pdu.call_id, FaultStatus.REMOTE_NO_MEMORY, partial.context_id)
            else:
                partial.chunks.append(body.stub)
        if last:
            self._partial = None
            if not partial.discarding:
                self._dispatch(partial)

    def _dispatch(self, call: _PartialCall) -> None:
        context = self._contexts[call.context_id]
        interface = context.interface
        auth = self._auth.established if self._auth else None
        level = auth.protection if auth else AuthLevel.NONE
        if level < self._config.min_auth_level:
            self._send_fault(call.call_id, FaultStatus.ACCESS_DENIED, call.context_id)
            return
        stub = b"".join(call.chunks)
        trailer = None
        if auth is not None:
            stub, trailer = split_verification_trailer(stub)
            if trailer is not None and not self._trailer_matches(trailer, call, context):
                self._send_fault(call.call_id, FaultStatus.ACCESS_DENIED, call.context_id)
                return
        handler = interface.opnums.get(call.opnum)
        if handler is None:
            status = (
                self._unknown_opnum(interface, call.opnum)
                if self._unknown_opnum
                else FaultStatus.OP_RNG_ERROR
            )
            self._send_fault(call.call_id, status, call.context_id)
            return
        if len(self._pending) >= self._config.max_pending_calls:
            self._send_fault(call.call_id, FaultStatus.SERVER_TOO_BUSY, call.context_id)
            return
        self._pending[call.call_id] = call.context_id
        self._events.append(
            RequestReceived(
                call.call_id,
                call.context_id,
                call.opnum,
                stub,
                interface,
                handler,
                auth,
                call.object_uuid,
                trailer,
            )
        )

    @staticmethod
    def _trailer_matches(
        trailer: VerificationTrailer, call: _PartialCall, context: PresentationContext[H]
    ) -> bool:
        """MS-RPCE 3.3.1.5.2.2: every command present must describe this very call."""
        if trailer.interface is not None and (
            trailer.interface != context.abstract_syntax
            or trailer.transfer_syntax != context.transfer_syntax
        ):
            return False
        header = trailer.header
        return header is None or (
            header.ptype == PType.REQUEST
            and header.call_id == call.call_id
            and header.context_id == call.context_id
            and header.opnum == call.opnum
            and header.drep[:2] == call.drep[:2]
        )


def _signature_size(state: _AuthState | None) -> int:
    return state.provider.signature_size if state is not None else 0
