"""RTS PDUs and virtual connections against impacket's RPC over HTTP v2 client structures."""

from __future__ import annotations

import ipaddress
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5 import rpch, rpcrt
from impacket.uuid import uuidtup_to_bin

from protocols.rpc.errors import RtsError
from protocols.rpc.pdu import BindAck, PType, decode_pdu
from protocols.rpc.rts import (
    Command,
    CommandType,
    ConnA1,
    ConnB1,
    Destination,
    FlowControlAck,
    RtsFlags,
    RtsPdu,
    conn_a3,
    conn_c2,
    decode_rts,
    encode_rts,
    flow_control_ack,
    flow_control_ack_with_destination,
    ping,
)
from protocols.rpc.server import RequestReceived
from protocols.rpc.vconn import (
    ChannelKind,
    VirtualConnectionConfig,
    VirtualConnectionTable,
)

from .conftest import ECHO_UUID, make_connection
from .test_server import echo_stub, request_pdu


def test_impacket_conn_a1_and_b1_are_recognised() -> None:
    vc, out, inn, group = (os.urandom(16) for _ in range(4))
    a1 = ConnA1.from_pdu(decode_rts(rpch.hCONN_A1(vc, out, 123456)))
    assert a1 == ConnA1(1, vc, out, 123456)
    b1 = ConnB1.from_pdu(decode_rts(rpch.hCONN_B1(vc, inn, group)))
    assert (b1.virtual_connection_cookie, b1.in_channel_cookie, b1.association_group_id) == (
        vc,
        inn,
        group,
    )
    assert b1.client_keepalive == 300000 and b1.channel_lifetime == 1073741824
    # Our encoders produce exactly impacket's bytes for the same PDUs.
    assert encode_rts(a1.to_pdu()) == rpch.hCONN_A1(vc, out, 123456)
    assert encode_rts(b1.to_pdu()) == rpch.hCONN_B1(vc, inn, group)


def test_our_a3_c2_ack_and_ping_parse_in_impacket() -> None:
    header = rpch.RTSHeader(encode_rts(conn_a3(120000)))
    assert header["type"] == rpcrt.MSRPC_RTS and header["Flags"] == rpch.RTS_FLAG_NONE
    assert (
        rpch.CONN_A3_RTS_PDU(header["pduData"])["ConnectionTimeout"]["ConnectionTimeout"] == 120000
    )
    header = rpch.RTSHeader(encode_rts(conn_c2(1, 65536, 120000)))
    c2 = rpch.CONN_C2_RTS_PDU(header["pduData"])
    assert c2["ReceiveWindowSize"]["ReceiveWindowSize"] == 65536
    assert header["NumberOfCommands"] == 3
    cookie = os.urandom(16)
    header = rpch.RTSHeader(encode_rts(flow_control_ack(10, 20, cookie)))
    assert header["Flags"] == rpch.RTS_FLAG_OTHER_CMD
    ack = rpch.FlowControlAck(header["pduData"])["Ack"]
    assert (ack["BytesReceived"], ack["AvailableWindow"], ack["ChannelCookie"]["Cookie"]) == (
        10,
        20,
        cookie,
    )
    assert encode_rts(ping()) == rpch.hPing()


def test_flow_control_ack_with_destination_from_impacket() -> None:
    cookie = os.urandom(16)
    pdu = decode_rts(rpch.hFlowControlAckWithDestination(rpch.FDOutProxy, 5000, 262144, cookie))
    assert flow_control_ack_with_destination(pdu) == (
        Destination.OUT_PROXY,
        FlowControlAck(5000, 262144, cookie),
    )
    assert flow_control_ack_with_destination(ping()) is None


commands = st.one_of(
    st.builds(
        Command,
        st.sampled_from(
            [CommandType.VERSION, CommandType.DESTINATION, CommandType.RECEIVE_WINDOW_SIZE]
        ),
        st.integers(0, 2**32 - 1),
    ),
    st.builds(
        Command,
        st.sampled_from([CommandType.COOKIE, CommandType.ASSOCIATION_GROUP_ID]),
        st.binary(min_size=16, max_size=16),
    ),
    st.builds(
        lambda r, w, c: Command(CommandType.FLOW_CONTROL_ACK, FlowControlAck(r, w, c)),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.binary(min_size=16, max_size=16),
    ),
    st.builds(Command, st.just(CommandType.PADDING), st.integers(0, 40)),
    st.builds(
        Command,
        st.just(CommandType.CLIENT_ADDRESS),
        st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)),
    ),
    st.builds(Command, st.sampled_from([CommandType.EMPTY, CommandType.ANCE])),
)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0x7F), st.lists(commands, max_size=8))
def test_round_trip(flags: int, cmds: list[Command]) -> None:
    pdu = RtsPdu(RtsFlags(flags), tuple(cmds))
    assert decode_rts(encode_rts(pdu)) == pdu


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_raises_only_rts_error(data: bytes) -> None:
    raw = bytearray(rpch.hPing()[:16]) + data
    raw[8:10] = struct.pack("<H", len(raw))
    try:
        pdu = decode_rts(bytes(raw))
    except RtsError:
        return
    assert decode_rts(encode_rts(pdu)) == pdu


def test_bad_shapes() -> None:
    with pytest.raises(RtsError):
        ConnA1.from_pdu(ping())
    with pytest.raises(RtsError, match="Padding"):
        encode_rts(RtsPdu(RtsFlags.NONE, (Command(CommandType.PADDING, -1),)))
    address = ipaddress.IPv4Address("10.0.0.1")
    pdu = RtsPdu(RtsFlags.NONE, (Command(CommandType.CLIENT_ADDRESS, address),))
    assert decode_rts(encode_rts(pdu)).commands[0].value == address
    raw = bytearray(encode_rts(pdu))
    raw[24] = 7  # address family other than IPv4/IPv6
    with pytest.raises(RtsError, match="address type"):
        decode_rts(bytes(raw))


def _frames(data: bytes) -> list[bytes]:
    out = []
    while data:
        length = struct.unpack_from("<H", data, 8)[0]
        out.append(data[:length])
        data = data[length:]
    return out


def _bind_bytes() -> bytes:
    bind = rpcrt.MSRPCBind()
    item = rpcrt.CtxItem()
    item["TransItems"] = 1
    item["AbstractSyntax"] = uuidtup_to_bin((ECHO_UUID, "1.0"))
    item["TransferSyntax"] = uuidtup_to_bin(("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0"))
    bind.addCtxItem(item)
    packet = rpcrt.MSRPCHeader()
    packet["type"] = rpcrt.MSRPC_BIND
    packet["flags"] = rpcrt.PFC_FIRST_FRAG | rpcrt.PFC_LAST_FRAG
    packet["pduData"] = bind.getData()
    return packet.get_packet()


@pytest.mark.parametrize("in_first", [False, True])
def test_virtual_connection_establishment_and_bind(in_first: bool) -> None:
    table = VirtualConnectionTable(
        make_connection, VirtualConnectionConfig(receive_window_size=8192)
    )
    vc_cookie, out_cookie, in_cookie = (os.urandom(16) for _ in range(3))
    out = table.open_channel(ChannelKind.OUT)
    inn = table.open_channel(ChannelKind.IN)
    a1 = rpch.hCONN_A1(vc_cookie, out_cookie, 262144)
    b1 = rpch.hCONN_B1(vc_cookie, in_cookie, os.urandom(16))
    if in_first:
        inn.receive_data(b1)
        assert out.data_to_send() == b""
        out.receive_data(a1)
    else:
        out.receive_data(a1)
        (a3,) = _frames(out.data_to_send())
        rpch.CONN_A3_RTS_PDU(rpch.RTSHeader(a3)["pduData"])
        inn.receive_data(b1)
    frames = _frames(out.data_to_send())
    c2 = rpch.CONN_C2_RTS_PDU(rpch.RTSHeader(frames[-1])["pduData"])
    assert c2["ReceiveWindowSize"]["ReceiveWindowSize"] == 8192
    vc = table.get(vc_cookie)
    assert vc is not None and vc.established and len(table) == 1

    inn.receive_data(_bind_bytes())
    (ack,) = _frames(out.data_to_send())
    assert decode_pdu(ack).ptype == PType.BIND_ACK
    assert isinstance(decode_pdu(ack).body, BindAck)


def test_flow_control_both_directions() -> None:
    table = VirtualConnectionTable(
        make_connection, VirtualConnectionConfig(receive_window_size=8192)
    )
    vc_cookie, out_cookie, in_cookie = (os.urandom(16) for _ in range(3))
    out = table.open_channel(ChannelKind.OUT)
    inn = table.open_channel(ChannelKind.IN)
    out.receive_data(rpch.hCONN_A1(vc_cookie, out_cookie, 200))  # tiny client window
    inn.receive_data(rpch.hCONN_B1(vc_cookie, in_cookie, os.urandom(16)))
    out.data_to_send()
    vc = table.get(vc_cookie)
    assert vc is not None
    bind = _bind_bytes()
    inn.receive_data(bind)
    (ack,) = _frames(out.data_to_send())  # 60-byte bind_ack fits the 200-byte window
    assert decode_pdu(ack).ptype == PType.BIND_ACK

    for call_id in range(2, 60):
        inn.receive_data(request_pdu(echo_stub("w" * 40, call_id), call_id=call_id))
        event = vc.next_event()
        while event is not None and not isinstance(event, RequestReceived):
            event = vc.next_event()
        assert isinstance(event, RequestReceived)
        vc.respond(event.call_id, b"r" * 100)
    frames = _frames(out.data_to_send())
    rts = [f for f in frames if f[2] == PType.RTS]
    rpc = [f for f in frames if f[2] != PType.RTS]
    # Our IN window is 8192: after half of it the client gets a FlowControlAck.
    assert rts, "expected a FlowControlAck for the IN channel"
    ack_cmd = decode_rts(rts[0]).find(CommandType.FLOW_CONTROL_ACK)
    assert ack_cmd is not None and isinstance(ack_cmd.value, FlowControlAck)
    assert ack_cmd.value.channel_cookie == in_cookie and ack_cmd.value.bytes_received >= 4096
    # Only what fits the client's window of 200 bytes went out (60 already used).
    assert sum(len(f) for f in rpc) <= 200 - len(ack)
    assert vc.queued_bytes > 0
    sent = len(ack) + sum(len(f) for f in rpc)
    inn.receive_data(
        rpch.hFlowControlAckWithDestination(rpch.FDOutProxy, sent, 1 << 20, out_cookie)
    )
    rest = [f for f in _frames(out.data_to_send()) if f[2] != PType.RTS]
    assert len(rpc) + len(rest) == 58 and vc.queued_bytes == 0


def test_channel_errors() -> None:
    table = VirtualConnectionTable(make_connection)
    out = table.open_channel(ChannelKind.OUT)
    out.receive_data(_bind_bytes())
    assert out.error is not None and "before CONN/B1" in out.error
    inn = table.open_channel(ChannelKind.IN)
    inn.receive_data(rpch.hCONN_A1(os.urandom(16), os.urandom(16), 1000))
    assert inn.error is not None and "CONN/B1" in inn.error
    cookie = os.urandom(16)
    first = table.open_channel(ChannelKind.IN)
    first.receive_data(rpch.hCONN_B1(cookie, os.urandom(16), os.urandom(16)))
    first.receive_data(_bind_bytes())
    assert first.error is not None and "established" in first.error
    assert table.get(cookie) is None
    limited = VirtualConnectionTable(make_connection, VirtualConnectionConfig(max_connections=1))
    limited.open_channel(ChannelKind.IN).receive_data(
        rpch.hCONN_B1(os.urandom(16), os.urandom(16), os.urandom(16))
    )
    extra = limited.open_channel(ChannelKind.IN)
    extra.receive_data(rpch.hCONN_B1(os.urandom(16), os.urandom(16), os.urandom(16)))
    assert extra.error == "too many virtual connections"


def test_ping_and_keepalive_interval() -> None:
    table = VirtualConnectionTable(make_connection)
    cookie = os.urandom(16)
    out = table.open_channel(ChannelKind.OUT)
    inn = table.open_channel(ChannelKind.IN)
    inn.receive_data(rpch.hCONN_B1(cookie, os.urandom(16), os.urandom(16)))
    vc = table.get(cookie)
    assert vc is not None and vc.keepalive_interval == 300000
    vc.send_ping()  # not established yet: nothing to send it on
    out.receive_data(rpch.hCONN_A1(cookie, os.urandom(16), 65536))
    out.data_to_send()
    vc.send_ping()
    assert out.data_to_send() == rpch.hPing()
    inn.receive_data(rpch.hPing())  # the client's pings are accepted silently
    assert inn.error is None and out.data_to_send() == b""
    out.connection_lost()
    assert table.get(cookie) is None and vc.closed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=90), max_size=5), st.booleans())
def test_garbage_on_channels_never_raises(chunks: list[bytes], established: bool) -> None:
    table = VirtualConnectionTable(make_connection)
    out = table.open_channel(ChannelKind.OUT)
    inn = table.open_channel(ChannelKind.IN)
    if established:
        cookie = os.urandom(16)
        out.receive_data(rpch.hCONN_A1(cookie, os.urandom(16), 65536))
        inn.receive_data(rpch.hCONN_B1(cookie, os.urandom(16), os.urandom(16)))
    for chunk in chunks:
        inn.receive_data(b"\x05\x00" + chunk)
        out.receive_data(b"\x05\x00" + chunk)
    for data in (out.data_to_send(), inn.data_to_send()):
        for frame in _frames(data):  # whatever we emitted is well formed
            assert frame[2] == PType.RTS or decode_pdu(frame).ptype in (
                PType.FAULT,
                PType.BIND_ACK,
                PType.BIND_NAK,
                PType.RESPONSE,
            )
    if inn.error is not None:
        assert inn.vc is None or table.get(inn.vc.cookie) is None
