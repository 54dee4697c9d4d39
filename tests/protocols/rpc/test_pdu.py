"""PDU codec: bytes from impacket's DCE/RPC structures in, our bytes parsed by impacket."""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5 import rpcrt
from impacket.uuid import uuidtup_to_bin

from protocols.rpc.errors import PduError
from protocols.rpc.pdu import (
    NDR20,
    NDR64,
    NULL_SYNTAX,
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
    Pdu,
    PfcFlags,
    PType,
    Request,
    Response,
    Result,
    SyntaxId,
    bind_time_feature_syntax,
    bind_time_features,
    decode_pdu,
    encode_pdu,
)

NSPI = SyntaxId.of("f5cc5a18-4264-101a-8c59-08002b2f8426", 56, 0)


def impacket_bind() -> bytes:
    """A bind as impacket's DCERPC_v5.bind builds it, plus NDR64 and feature contexts."""
    bind = rpcrt.MSRPCBind()
    for ctx_id, transfer in enumerate(
        [
            uuidtup_to_bin(("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0")),
            uuidtup_to_bin(("71710533-beba-4937-8319-b5dbef9ccc36", "1.0")),
            bind_time_feature_syntax(3).encode(),
        ]
    ):
        item = rpcrt.CtxItem()
        item["ContextID"] = ctx_id
        item["TransItems"] = 1
        item["AbstractSyntax"] = uuidtup_to_bin((str(NSPI.uuid), "56.0"))
        item["TransferSyntax"] = transfer
        bind.addCtxItem(item)
    packet = rpcrt.MSRPCHeader()
    packet["type"] = rpcrt.MSRPC_BIND
    packet["flags"] = rpcrt.PFC_FIRST_FRAG | rpcrt.PFC_LAST_FRAG
    packet["call_id"] = 7
    packet["pduData"] = bind.getData()
    return packet.get_packet()


def test_impacket_bind_is_decoded() -> None:
    pdu = decode_pdu(impacket_bind())
    assert pdu.ptype == PType.BIND and pdu.call_id == 7 and pdu.auth is None
    assert isinstance(pdu.body, Bind)
    assert pdu.body.max_xmit_frag == 4280
    assert [c.context_id for c in pdu.body.contexts] == [0, 1, 2]
    assert all(c.abstract_syntax == NSPI for c in pdu.body.contexts)
    assert pdu.body.contexts[0].transfer_syntaxes == (NDR20,)
    assert pdu.body.contexts[1].transfer_syntaxes == (NDR64,)
    features = bind_time_features(pdu.body.contexts[2].transfer_syntaxes[0])
    assert features == BindTimeFeature(3)
    assert bind_time_features(NDR20) is None


def test_bind_ack_with_auth_parses_in_impacket() -> None:
    ack = BindAck(
        5840,
        5840,
        0x1234,
        b"49154\x00",
        (
            Result(ContextResult.ACCEPTANCE, 0, NDR20),
            Result(ContextResult.PROVIDER_REJECTION, 2, NULL_SYNTAX),
            Result(ContextResult.NEGOTIATE_ACK, 2, NULL_SYNTAX),
        ),
    )
    verifier = AuthVerifier(10, 6, 79231, b"NTLMSSP\x00challenge-bytes")
    raw = encode_pdu(Pdu(PType.BIND_ACK, 7, ack, auth=verifier))
    header = rpcrt.MSRPCHeader(raw)
    assert header["type"] == rpcrt.MSRPC_BINDACK and header["frag_len"] == len(raw)
    theirs = rpcrt.MSRPCBindAck(raw)
    assert theirs["max_tfrag"] == 5840 and theirs["assoc_group"] == 0x1234
    assert theirs["SecondaryAddr"] == "49154"
    assert theirs["ctx_num"] == 3
    assert theirs.getCtxItem(1)["TransferSyntax"] == NDR20.encode()
    assert theirs.getCtxItem(2)["Result"] == 2 and theirs.getCtxItem(2)["Reason"] == 2
    assert theirs["auth_data"] == verifier.auth_value
    assert rpcrt.SEC_TRAILER(theirs["sec_trailer"])["auth_ctx_id"] == 79231
    assert decode_pdu(raw) == Pdu(PType.BIND_ACK, 7, ack, auth=verifier)


def test_response_fault_and_nak_parse_in_impacket() -> None:
    raw = encode_pdu(Pdu(PType.RESPONSE, 3, Response(5, 1, b"hello")))
    theirs = rpcrt.MSRPCRespHeader(raw)
    assert (theirs["ctx_id"], theirs["alloc_hint"], theirs["pduData"]) == (1, 5, b"hello")

    raw = encode_pdu(
        Pdu(
            PType.FAULT,
            4,
            Fault(FaultStatus.OP_RNG_ERROR),
            PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG | PfcFlags.DID_NOT_EXECUTE,
        )
    )
    assert len(raw) == 32
    assert struct.unpack_from("<I", raw, 24)[0] == 0x1C010002
    assert rpcrt.MSRPCHeader(raw)["flags"] & rpcrt.PFC_DID_NOT_EXECUTE

    raw = encode_pdu(
        Pdu(PType.BIND_NAK, 5, BindNak(BindNakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED))
    )
    nak = rpcrt.MSRPCBindNak(rpcrt.MSRPCHeader(raw)["pduData"])
    assert nak["RejectedReason"] == 8


def test_request_with_object_uuid_and_padding() -> None:
    obj = uuid.uuid4()
    verifier = AuthVerifier(10, 5, 1, b"\x01" * 16)
    raw = encode_pdu(Pdu(PType.REQUEST, 9, Request(3, 0, 12, b"abc", obj), auth=verifier))
    header = rpcrt.MSRPCRequestHeader(raw)
    assert header["op_num"] == 12 and header["uuid"] == obj.bytes_le
    pdu = decode_pdu(raw)
    assert isinstance(pdu.body, Request) and pdu.body.stub == b"abc"
    assert pdu.auth is not None and pdu.auth.auth_pad_length == 13  # stub padded to 16
    assert (len(raw) - 16 - 8) % 4 == 0  # sec_trailer 4-byte aligned


syntaxes = st.builds(SyntaxId, st.uuids(), st.integers(0, 2**32 - 1))
verifiers = st.one_of(
    st.none(),
    st.builds(
        AuthVerifier,
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 2**32 - 1),
        st.binary(min_size=1, max_size=64),
    ),
)
bodies = st.one_of(
    st.builds(
        Bind,
        st.integers(0, 65535),
        st.integers(0, 65535),
        st.integers(0, 2**32 - 1),
        st.lists(
            st.builds(
                ContextElement,
                st.integers(0, 65535),
                syntaxes,
                st.lists(syntaxes, min_size=1, max_size=3).map(tuple),
            ),
            max_size=4,
        ).map(tuple),
    ),
    st.builds(
        Request,
        st.integers(0, 2**32 - 1),
        st.integers(0, 65535),
        st.integers(0, 65535),
        st.binary(max_size=100),
    ),
    st.builds(Response, st.integers(0, 2**32 - 1), st.integers(0, 65535), st.binary(max_size=100)),
    st.builds(Fault, st.integers(0, 2**32 - 1), st.integers(0, 65535)),
)


@settings(max_examples=200, deadline=None)
@given(bodies, st.integers(0, 2**32 - 1), verifiers)
def test_round_trip(body: object, call_id: int, verifier: AuthVerifier | None) -> None:
    ptype = {
        Bind: PType.BIND,
        Request: PType.REQUEST,
        Response: PType.RESPONSE,
        Fault: PType.FAULT,
    }[type(body)]
    pdu = Pdu(ptype, call_id, body, auth=verifier)  # type: ignore[arg-type]
    decoded = decode_pdu(encode_pdu(pdu))
    if verifier is not None:
        assert decoded.auth is not None
        assert decoded.auth.auth_value == verifier.auth_value
        decoded = Pdu(decoded.ptype, decoded.call_id, decoded.body, decoded.flags, verifier)
    assert decoded == pdu


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=200), st.sampled_from([0, 2, 3, 11, 12, 13, 14, 16, 20]))
def test_garbage_raises_only_pdu_error(data: bytes, ptype: int) -> None:
    raw = bytearray(data)
    raw[0:4] = bytes((5, 0, ptype, 3))
    raw[4:8] = b"\x10\x00\x00\x00"
    raw[8:10] = struct.pack("<H", len(raw))
    try:
        pdu = decode_pdu(bytes(raw))
    except PduError:
        return
    assert pdu.ptype == ptype


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({0: 4}, "version"),
        ({4: 0x00}, "representation"),
        ({2: 99}, "unknown PDU type"),
        ({2: 20}, "not a connection-oriented"),
    ],
)
def test_header_errors(patch: dict[int, int], message: str) -> None:
    raw = bytearray(encode_pdu(Pdu(PType.RESPONSE, 1, Response(0, 0, b""))))
    for offset, value in patch.items():
        raw[offset] = value
    with pytest.raises(PduError, match=message):
        decode_pdu(bytes(raw))


def test_auth_length_larger_than_pdu() -> None:
    raw = bytearray(encode_pdu(Pdu(PType.RESPONSE, 1, Response(0, 0, b"xy"))))
    raw[10:12] = struct.pack("<H", 200)
    with pytest.raises(PduError, match="auth_length"):
        decode_pdu(bytes(raw))
