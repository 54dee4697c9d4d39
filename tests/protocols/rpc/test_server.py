"""The sans-IO server state machine, driven byte by byte with PDUs we build ourselves."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket import ntlm as impacket_ntlm

from protocols.rpc import ndr
from protocols.rpc.ntlm import NtlmSession
from protocols.rpc.pdu import (
    NDR20,
    NDR64,
    Auth3,
    AuthLevel,
    AuthType,
    AuthVerifier,
    Bind,
    BindAck,
    BindNak,
    BindNakReason,
    BindTimeFeature,
    ContextElement,
    ContextResult,
    Empty,
    Fault,
    FaultStatus,
    Header,
    Pdu,
    PfcFlags,
    ProviderReason,
    PType,
    Request,
    Response,
    SyntaxId,
    bind_time_feature_syntax,
    decode_pdu,
    encode_pdu,
)
from protocols.rpc.security import protect, unprotect
from protocols.rpc.server import (
    Authenticated,
    Bound,
    CallCancelled,
    ConnectionClosed,
    RequestReceived,
    ServerConfig,
    ServerConnection,
    protection_level,
)
from protocols.rpc.verification import Header2, VerificationTrailer

from .conftest import ECHO_SYNTAX, Handler, make_connection

BOTH = PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG


def bind_pdu(
    *contexts: ContextElement,
    call_id: int = 1,
    auth: AuthVerifier | None = None,
    ptype: PType = PType.BIND,
    max_frag: int = 5840,
) -> bytes:
    return encode_pdu(Pdu(ptype, call_id, Bind(max_frag, max_frag, 0, contexts), auth=auth))


def echo_stub(text: str, number: int) -> bytes:
    w = ndr.Writer()
    w.wstring(text)
    w.u32(number)
    return w.getvalue()


def request_pdu(
    stub: bytes,
    *,
    call_id: int = 2,
    context_id: int = 0,
    opnum: int = 0,
    flags: int = BOTH,
    alloc_hint: int | None = None,
) -> bytes:
    hint = len(stub) if alloc_hint is None else alloc_hint
    return encode_pdu(Pdu(PType.REQUEST, call_id, Request(hint, context_id, opnum, stub), flags))


def output(conn: ServerConnection[Handler]) -> list[Pdu]:
    data = conn.data_to_send()
    pdus = []
    while data:
        length = struct.unpack_from("<H", data, 8)[0]
        pdus.append(decode_pdu(data[:length]))
        data = data[length:]
    return pdus


def events(conn: ServerConnection[Handler]) -> list[object]:
    found = []
    while (event := conn.next_event()) is not None:
        found.append(event)
    return found


def bound(**kwargs: object) -> ServerConnection[Handler]:
    conn = make_connection(**kwargs)
    conn.receive_data(bind_pdu(ContextElement(0, ECHO_SYNTAX, (NDR20,))))
    output(conn)
    events(conn)
    return conn


def test_bind_negotiation_ndr64_refused_features_acked_fragment_sizes() -> None:
    conn = make_connection()
    conn.receive_data(
        bind_pdu(
            ContextElement(0, ECHO_SYNTAX, (NDR64,)),
            ContextElement(1, ECHO_SYNTAX, (NDR20,)),
            ContextElement(2, ECHO_SYNTAX, (bind_time_feature_syntax(3),)),
            ContextElement(3, SyntaxId.of("11111111-2222-3333-4444-555555555555", 1), (NDR20,)),
            ContextElement(4, SyntaxId.of(str(ECHO_SYNTAX.uuid), 2), (NDR20,)),
            max_frag=2000,
        )
    )
    (ack,) = output(conn)
    assert ack.ptype == PType.BIND_ACK and isinstance(ack.body, BindAck)
    results = [(r.result, r.reason) for r in ack.body.results]
    assert results == [
        (ContextResult.PROVIDER_REJECTION, ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED),
        (ContextResult.ACCEPTANCE, 0),
        (ContextResult.NEGOTIATE_ACK, BindTimeFeature.KEEP_CONNECTION_ON_ORPHAN),
        (ContextResult.PROVIDER_REJECTION, ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED),
        (ContextResult.PROVIDER_REJECTION, ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED),
    ]
    assert ack.body.results[1].transfer_syntax == NDR20
    assert (ack.body.max_xmit_frag, ack.body.max_recv_frag) == (2000, 2000)
    assert ack.body.assoc_group_id != 0
    (event,) = events(conn)
    assert isinstance(event, Bound) and event.accepted == (1,) and event.rejected == (0, 3, 4)
    assert conn.features == BindTimeFeature.KEEP_CONNECTION_ON_ORPHAN


def test_request_is_delivered_and_answered_in_fragments() -> None:
    conn = bound(config=ServerConfig(max_xmit_frag=1432))
    stub = echo_stub("x" * 10, 5)
    # Feed the request one byte at a time: framing must not care.
    for byte in request_pdu(stub):
        conn.receive_data(bytes([byte]))
    (call,) = events(conn)
    assert isinstance(call, RequestReceived)
    assert (call.call_id, call.opnum, call.stub, call.auth) == (2, 0, stub, None)
    payload = bytes(range(256)) * 20
    conn.respond(call.call_id, payload)
    frags = output(conn)
    assert len(frags) == -(-len(payload) // (1432 - 24))
    assert frags[0].flags & PfcFlags.FIRST_FRAG and frags[-1].flags & PfcFlags.LAST_FRAG
    assert all(not (f.flags & PfcFlags.LAST_FRAG) for f in frags[:-1])
    bodies = [f.body for f in frags]
    assert all(isinstance(b, Response) for b in bodies)
    assert b"".join(b.stub for b in bodies) == payload  # type: ignore[union-attr]
    assert bodies[1].alloc_hint == len(payload) - len(bodies[0].stub)  # type: ignore[union-attr]
    conn.respond(call.call_id, b"again")  # already answered: ignored
    assert conn.data_to_send() == b""


def test_fragmented_request_is_reassembled() -> None:
    conn = bound()
    stub = echo_stub("fragmented", 1)
    conn.receive_data(request_pdu(stub[:8], flags=PfcFlags.FIRST_FRAG, alloc_hint=len(stub)))
    assert events(conn) == []
    conn.receive_data(request_pdu(stub[8:], flags=PfcFlags.LAST_FRAG))
    (call,) = events(conn)
    assert isinstance(call, RequestReceived) and call.stub == stub


def _single_fault(conn: ServerConnection[Handler]) -> Fault:
    (pdu,) = output(conn)
    assert pdu.ptype == PType.FAULT and isinstance(pdu.body, Fault)
    return pdu.body


def test_unknown_context_and_opnum_fault_but_keep_the_connection() -> None:
    conn = bound()
    conn.receive_data(request_pdu(echo_stub("a", 1), context_id=9))
    assert _single_fault(conn).status == FaultStatus.UNK_IF
    conn.receive_data(request_pdu(b"", call_id=3, opnum=5))
    assert _single_fault(conn).status == FaultStatus.OP_RNG_ERROR
    conn.receive_data(request_pdu(echo_stub("b", 2), call_id=4))
    assert isinstance(events(conn)[0], RequestReceived)
    assert not conn.closed


def test_unknown_opnum_hook_chooses_the_status() -> None:
    seen: list[int] = []

    def hook(interface: object, opnum: int) -> int:
        seen.append(opnum)
        return FaultStatus.UNSUPPORTED_TYPE

    conn = bound(unknown_opnum=hook)
    conn.receive_data(request_pdu(b"", opnum=77))
    assert _single_fault(conn).status == FaultStatus.UNSUPPORTED_TYPE and seen == [77]


def test_out_of_order_fragment_is_a_protocol_error() -> None:
    conn = bound()
    conn.receive_data(request_pdu(b"tail", flags=PfcFlags.LAST_FRAG))
    assert _single_fault(conn).status == FaultStatus.PROTO_ERROR
    assert conn.closed
    assert isinstance(events(conn)[-1], ConnectionClosed)
    conn.receive_data(request_pdu(b"more"))  # ignored after close
    assert conn.data_to_send() == b""


def test_interleaved_calls_are_a_protocol_error() -> None:
    conn = bound()
    conn.receive_data(request_pdu(b"a" * 8, call_id=2, flags=PfcFlags.FIRST_FRAG))
    conn.receive_data(request_pdu(b"b" * 8, call_id=3, flags=PfcFlags.FIRST_FRAG))
    assert _single_fault(conn).status == FaultStatus.PROTO_ERROR and conn.closed


def test_oversized_fragment_closes() -> None:
    conn = bound()
    conn.receive_data(request_pdu(b"z" * 6000))
    assert _single_fault(conn).status == FaultStatus.PROTO_ERROR and conn.closed


def test_oversized_call_is_refused_and_its_fragments_skipped() -> None:
    conn = bound(config=ServerConfig(max_request_size=100))
    conn.receive_data(request_pdu(b"a" * 64, flags=PfcFlags.FIRST_FRAG, alloc_hint=64))
    conn.receive_data(request_pdu(b"b" * 64, flags=0))
    assert _single_fault(conn).status == FaultStatus.REMOTE_NO_MEMORY
    conn.receive_data(request_pdu(b"c" * 64, flags=PfcFlags.LAST_FRAG))
    assert conn.data_to_send() == b"" and events(conn) == []
    conn.receive_data(request_pdu(echo_stub("ok", 1), call_id=3))
    assert isinstance(events(conn)[0], RequestReceived)
    # A huge alloc_hint is refused on the first fragment already.
    conn.receive_data(request_pdu(b"d", call_id=4, alloc_hint=1 << 30))
    assert _single_fault(conn).status == FaultStatus.REMOTE_NO_MEMORY


def test_request_before_bind_and_second_bind() -> None:
    conn = make_connection()
    conn.receive_data(request_pdu(b""))
    assert _single_fault(conn).status == FaultStatus.PROTO_ERROR and conn.closed
    conn = bound()
    conn.receive_data(bind_pdu(ContextElement(0, ECHO_SYNTAX, (NDR20,)), call_id=5))
    (nak,) = output(conn)
    assert nak.ptype == PType.BIND_NAK and conn.closed


def test_alter_context_adds_a_context() -> None:
    conn = bound()
    conn.receive_data(
        bind_pdu(ContextElement(1, ECHO_SYNTAX, (NDR20,)), call_id=3, ptype=PType.ALTER_CONTEXT)
    )
    (resp,) = output(conn)
    assert resp.ptype == PType.ALTER_CONTEXT_RESP and isinstance(resp.body, BindAck)
    assert resp.body.results[0].result == ContextResult.ACCEPTANCE
    assert sorted(conn.contexts()) == [0, 1]
    # Proposing an existing context id again with the same syntax is accepted.
    conn.receive_data(
        bind_pdu(ContextElement(1, ECHO_SYNTAX, (NDR20,)), call_id=4, ptype=PType.ALTER_CONTEXT)
    )
    (resp,) = output(conn)
    assert isinstance(resp.body, BindAck)
    assert resp.body.results[0].result == ContextResult.ACCEPTANCE


def test_cancel_and_orphan() -> None:
    conn = bound()
    conn.receive_data(request_pdu(echo_stub("c", 1)))
    (call,) = events(conn)
    assert isinstance(call, RequestReceived)
    conn.receive_data(_empty_pdu(PType.CO_CANCEL, call.call_id))
    (cancel,) = events(conn)
    assert cancel == CallCancelled(call.call_id, orphaned=False)
    conn.respond(call.call_id, b"late")
    assert conn.data_to_send() == b""
    conn.receive_data(request_pdu(b"x" * 8, call_id=3, flags=PfcFlags.FIRST_FRAG))
    conn.receive_data(_empty_pdu(PType.ORPHANED, 3))
    assert events(conn) == [CallCancelled(3, orphaned=True)]
    conn.receive_data(request_pdu(echo_stub("next", 1), call_id=4))
    assert isinstance(events(conn)[0], RequestReceived)


def _empty_pdu(ptype: PType, call_id: int) -> bytes:
    return encode_pdu(Pdu(ptype, call_id, Empty()))


def test_min_auth_level_and_unknown_auth_type() -> None:
    conn = bound(config=ServerConfig(min_auth_level=AuthLevel.PKT_PRIVACY))
    conn.receive_data(request_pdu(echo_stub("x", 1)))
    assert _single_fault(conn).status == FaultStatus.ACCESS_DENIED and not conn.closed
    conn = make_connection()
    conn.receive_data(
        bind_pdu(
            ContextElement(0, ECHO_SYNTAX, (NDR20,)),
            auth=AuthVerifier(AuthType.GSS_KERBEROS, 6, 0, b"krb"),
        )
    )
    (nak,) = output(conn)
    assert isinstance(nak.body, BindNak)
    assert nak.body.reason == BindNakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED


def _ntlm_bind(conn: ServerConnection[Handler], level: int) -> None:
    """Do the three legs with impacket's NTLM client messages, as impacket's bind does."""
    type1 = impacket_ntlm.getNTLMSSPType1("", "", signingRequired=True)
    conn.receive_data(
        bind_pdu(
            ContextElement(0, ECHO_SYNTAX, (NDR20,)),
            auth=AuthVerifier(AuthType.WINNT, level, 5, type1.getData()),
        )
    )
    (ack,) = output(conn)
    assert ack.auth is not None and ack.auth.auth_context_id == 5
    type3, _ = impacket_ntlm.getNTLMSSPType3(
        type1, ack.auth.auth_value, "alice", "Secret123", "EXAMPLE"
    )
    conn.receive_data(
        encode_pdu(
            Pdu(
                PType.AUTH3,
                1,
                Auth3(),
                auth=AuthVerifier(AuthType.WINNT, level, 5, type3.getData()),
            )
        )
    )


def test_verification_trailer_is_checked_and_stripped() -> None:
    conn = make_connection()
    _ntlm_bind(conn, AuthLevel.CONNECT)
    assert any(isinstance(e, Authenticated) for e in events(conn))
    stub = echo_stub("vt", 1)
    good = VerificationTrailer(
        bitmask=1,
        interface=ECHO_SYNTAX,
        transfer_syntax=NDR20,
        header=Header2(PType.REQUEST, b"\x10\x00\x00\x00", 2, 0, 0),
    ).encode()
    conn.receive_data(request_pdu(stub + good))
    (call,) = events(conn)
    assert isinstance(call, RequestReceived) and call.stub == stub
    assert call.verification is not None and call.verification.bitmask == 1
    assert call.auth is not None and call.auth.identity.user == "alice"
    bad = VerificationTrailer(header=Header2(PType.REQUEST, b"\x10\x00\x00\x00", 3, 0, 9)).encode()
    conn.receive_data(request_pdu(stub + bad, call_id=3))
    assert _single_fault(conn).status == FaultStatus.ACCESS_DENIED


def test_tampered_signed_request_is_rejected() -> None:
    conn = make_connection()
    _ntlm_bind(conn, AuthLevel.PKT_INTEGRITY)
    events(conn)
    raw = bytearray(request_pdu(echo_stub("x", 1)))
    # Add a bogus verifier of the right shape: the signature cannot match.
    forged = encode_pdu(
        Pdu(
            PType.REQUEST,
            2,
            Request(len(raw), 0, 0, echo_stub("x", 1)),
            auth=AuthVerifier(AuthType.WINNT, AuthLevel.PKT_INTEGRITY, 5, b"\x01" + b"\x00" * 15),
        )
    )
    conn.receive_data(forged)
    assert _single_fault(conn).status == FaultStatus.SEC_PKG_ERROR and conn.closed
    conn = make_connection()
    _ntlm_bind(conn, AuthLevel.PKT_INTEGRITY)
    events(conn)
    conn.receive_data(bytes(raw))  # no verifier at all
    assert _single_fault(conn).status == FaultStatus.ACCESS_DENIED


def test_pending_call_limit() -> None:
    conn = bound(config=ServerConfig(max_pending_calls=1))
    conn.receive_data(request_pdu(echo_stub("1", 1), call_id=2))
    conn.receive_data(request_pdu(echo_stub("2", 1), call_id=3))
    assert len(events(conn)) == 1
    assert _single_fault(conn).status == FaultStatus.SERVER_TOO_BUSY


def test_handler_fault_and_peer_close() -> None:
    conn = bound()
    conn.receive_data(request_pdu(echo_stub("f", 1)))
    (call,) = events(conn)
    assert isinstance(call, RequestReceived)
    conn.fault(call.call_id, FaultStatus.BAD_STUB_DATA)
    fault = output(conn)[0]
    assert isinstance(fault.body, Fault) and fault.body.status == FaultStatus.BAD_STUB_DATA
    assert not fault.flags & PfcFlags.DID_NOT_EXECUTE
    conn.receive_data(b"")
    assert conn.closed and isinstance(events(conn)[0], ConnectionClosed)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_garbage_after_bind_never_raises(chunks: list[bytes]) -> None:
    conn = bound()
    for chunk in chunks:
        conn.receive_data(b"\x05\x00" + chunk)
    assert all(pdu.ptype in (PType.FAULT, PType.RESPONSE) for pdu in output(conn))
    found = events(conn)
    if conn.closed:
        assert isinstance(found[-1], ConnectionClosed)


@pytest.mark.parametrize("ptype", [PType.RESPONSE, PType.BIND_ACK, PType.FAULT])
def test_server_only_pdus_from_the_client_close(ptype: PType) -> None:
    conn = bound()
    body = {
        PType.RESPONSE: Response(0, 0, b""),
        PType.FAULT: Fault(1),
        PType.BIND_ACK: BindAck(1, 1, 1, b"", ()),
    }[ptype]
    conn.receive_data(encode_pdu(Pdu(ptype, 9, body)))  # type: ignore[arg-type]
    assert _single_fault(conn).status == FaultStatus.PROTO_ERROR and conn.closed


@pytest.mark.parametrize("password", ["Secret123", "wrong"])
def test_third_leg_in_alter_context(password: str) -> None:
    conn = make_connection()
    type1 = impacket_ntlm.getNTLMSSPType1("", "", signingRequired=True)
    context = ContextElement(0, ECHO_SYNTAX, (NDR20,))
    level = AuthLevel.PKT_PRIVACY
    conn.receive_data(
        bind_pdu(context, auth=AuthVerifier(AuthType.WINNT, level, 1, type1.getData()))
    )
    (ack,) = output(conn)
    assert ack.auth is not None
    type3, _ = impacket_ntlm.getNTLMSSPType3(
        type1, ack.auth.auth_value, "alice", password, "EXAMPLE"
    )
    conn.receive_data(
        bind_pdu(
            context,
            call_id=2,
            ptype=PType.ALTER_CONTEXT,
            auth=AuthVerifier(AuthType.WINNT, level, 1, type3.getData()),
        )
    )
    (reply,) = output(conn)
    found = events(conn)
    if password == "Secret123":
        assert reply.ptype == PType.ALTER_CONTEXT_RESP
        assert any(isinstance(e, Authenticated) for e in found)
        assert conn.auth is not None and conn.auth.auth_level == level
    else:
        assert reply.ptype == PType.FAULT and isinstance(reply.body, Fault)
        assert reply.body.status == FaultStatus.ACCESS_DENIED and conn.closed


def _secure_client(conn: ServerConnection[Handler], level: int) -> NtlmSession:
    """Bind with impacket's NTLM messages; return the client half of the session."""
    type1 = impacket_ntlm.getNTLMSSPType1("", "", signingRequired=True)
    context = ContextElement(0, ECHO_SYNTAX, (NDR20,))
    conn.receive_data(
        bind_pdu(context, auth=AuthVerifier(AuthType.WINNT, level, 9, type1.getData()))
    )
    (ack,) = output(conn)
    assert ack.auth is not None
    type3, exported = impacket_ntlm.getNTLMSSPType3(
        type1, ack.auth.auth_value, "alice", "Secret123", "EXAMPLE"
    )
    conn.receive_data(
        encode_pdu(
            Pdu(
                PType.AUTH3,
                1,
                Auth3(),
                auth=AuthVerifier(AuthType.WINNT, level, 9, type3.getData()),
            )
        )
    )
    assert any(isinstance(e, Authenticated) for e in events(conn))
    return NtlmSession(exported, type3["flags"], server=False)


@pytest.mark.parametrize("level", [AuthLevel.PKT, AuthLevel.PKT_INTEGRITY, AuthLevel.PKT_PRIVACY])
def test_our_own_client_halves_with_fragmented_protected_request(level: int) -> None:
    """Client-side sealing/signing built from our session class (server=False), so the
    per-fragment sequence numbers and RC4 streams are checked on both ends."""
    conn = make_connection()
    client = _secure_client(conn, level)
    protection = protection_level(level)
    stub = echo_stub("fragment me " * 20, 5)
    pieces = [stub[:96], stub[96:192], stub[192:]]
    for index, piece in enumerate(pieces):
        flags = (PfcFlags.FIRST_FRAG if index == 0 else 0) | (
            PfcFlags.LAST_FRAG if index == len(pieces) - 1 else 0
        )
        verifier = AuthVerifier(AuthType.WINNT, level, 9, b"\x00" * 16)
        raw = encode_pdu(Pdu(PType.REQUEST, 2, Request(len(stub), 0, 0, piece), flags, verifier))
        conn.receive_data(protect(raw, Header.decode(raw), protection, client))
    (call,) = events(conn)
    assert isinstance(call, RequestReceived) and call.stub == stub
    assert call.auth is not None and call.auth.auth_level == level
    conn.respond(call.call_id, b"answer" * 1000)
    data = conn.data_to_send()
    wire = data
    answer = b""
    while data:
        length = struct.unpack_from("<H", data, 8)[0]
        raw, data = data[:length], data[length:]
        header = Header.decode(raw)
        assert header.auth_length == 16 and raw[-16 - 8 + 1] == level  # wire level echoed
        plain = decode_pdu(unprotect(raw, header, protection, client))
        assert isinstance(plain.body, Response)
        answer += plain.body.stub
    assert answer == b"answer" * 1000
    # Sealed at privacy, signed but readable otherwise.
    assert (b"answeranswer" in wire) == (protection != AuthLevel.PKT_PRIVACY)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=4))
def test_garbage_before_bind_never_raises(chunks: list[bytes]) -> None:
    conn = make_connection()
    for chunk in chunks:
        conn.receive_data(bytes((5, 0)) + chunk)
    emitted = output(conn)
    assert all(pdu.ptype in (PType.FAULT, PType.BIND_ACK, PType.BIND_NAK) for pdu in emitted)
    if emitted and emitted[-1].ptype == PType.FAULT:
        assert conn.closed
