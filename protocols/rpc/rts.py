"""RPC over HTTP v2 RTS PDUs (MS-RPCH 2.2.3 commands, 2.2.4 PDUs).

An RTS PDU is a connection-oriented PDU of type 20 whose 16-byte common header is
followed by Flags (u16), NumberOfCommands (u16) and the commands (2.2.3.6.1). They
set up and maintain the virtual connection that carries ordinary DCE/RPC PDUs over
two HTTP requests (IN and OUT channel). This module is the pure codec plus builders
and recognisers for the PDUs a combined proxy+server exchanges with the client;
:mod:`protocols.rpc.vconn` runs the sequences.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

from protocols.rpc.errors import PduError, RtsError
from protocols.rpc.pdu import COMMON_HEADER_SIZE, DREP_LITTLE_ENDIAN, Header, PfcFlags, PType

RTS_HEADER_SIZE = 20
MAX_COMMANDS = 16
"""The largest real RTS PDU (OUT_R2/A8 family) has 8 commands."""
MAX_PADDING = 0xFFFF
COOKIE_SIZE = 16
RPC_OVER_HTTP_VERSION = 1


class RtsFlags(enum.IntFlag):
    """RTS Header Flags (MS-RPCH 2.2.3.6.1)."""

    NONE = 0x0000
    PING = 0x0001
    OTHER_CMD = 0x0002
    RECYCLE_CHANNEL = 0x0004
    IN_CHANNEL = 0x0008
    OUT_CHANNEL = 0x0010
    EOF = 0x0020
    ECHO = 0x0040


class CommandType(enum.IntEnum):
    """RTS command types (MS-RPCH 2.2.3.5)."""

    RECEIVE_WINDOW_SIZE = 0
    FLOW_CONTROL_ACK = 1
    CONNECTION_TIMEOUT = 2
    COOKIE = 3
    CHANNEL_LIFETIME = 4
    CLIENT_KEEPALIVE = 5
    VERSION = 6
    EMPTY = 7
    PADDING = 8
    NEGATIVE_ANCE = 9
    ANCE = 10
    CLIENT_ADDRESS = 11
    ASSOCIATION_GROUP_ID = 12
    DESTINATION = 13
    PING_TRAFFIC_SENT_NOTIFY = 14


class Destination(enum.IntEnum):
    """ForwardDestinations (MS-RPCH 2.2.3.3)."""

    CLIENT = 0
    IN_PROXY = 1
    SERVER = 2
    OUT_PROXY = 3


@dataclass(frozen=True)
class Command:
    """One RTS command. ``value`` depends on the type:

    - an int for the 4-byte commands (window size, timeouts, lifetime, keepalive,
      version, destination, ping traffic sent) and Padding (its length),
    - 16 bytes for Cookie and AssociationGroupId,
    - a :class:`FlowControlAck` for FlowControlAck,
    - an IP address for ClientAddress,
    - None for Empty, NegativeANCE and ANCE.
    """

    type: CommandType
    value: int | bytes | FlowControlAck | ipaddress.IPv4Address | ipaddress.IPv6Address | None = (
        None
    )


@dataclass(frozen=True)
class FlowControlAck:
    """Flow Control Acknowledgment (MS-RPCH 2.2.3.4)."""

    bytes_received: int
    available_window: int
    channel_cookie: bytes


@dataclass(frozen=True)
class RtsPdu:
    """An RTS PDU: flags and ordered commands."""

    flags: RtsFlags
    commands: tuple[Command, ...] = ()

    def find(self, command_type: CommandType) -> Command | None:
        return next((c for c in self.commands if c.type == command_type), None)

    @property
    def types(self) -> tuple[CommandType, ...]:
        return tuple(c.type for c in self.commands)


_U32_COMMANDS = frozenset(
    {
        CommandType.RECEIVE_WINDOW_SIZE,
        CommandType.CONNECTION_TIMEOUT,
        CommandType.CHANNEL_LIFETIME,
        CommandType.CLIENT_KEEPALIVE,
        CommandType.VERSION,
        CommandType.DESTINATION,
        CommandType.PING_TRAFFIC_SENT_NOTIFY,
    }
)
_COOKIE_COMMANDS = frozenset({CommandType.COOKIE, CommandType.ASSOCIATION_GROUP_ID})


def _encode_command(command: Command) -> bytes:
    head = struct.pack("<I", command.type)
    value = command.value
    if command.type in _U32_COMMANDS:
        if not isinstance(value, int):
            raise RtsError(f"{command.type.name} needs an integer")
        return head + struct.pack("<I", value)
    if command.type in _COOKIE_COMMANDS:
        if not isinstance(value, bytes) or len(value) != COOKIE_SIZE:
            raise RtsError(f"{command.type.name} needs a 16-byte cookie")
        return head + value
    if command.type == CommandType.FLOW_CONTROL_ACK:
        if not isinstance(value, FlowControlAck) or len(value.channel_cookie) != COOKIE_SIZE:
            raise RtsError("FlowControlAck needs a FlowControlAck value")
        return (
            head
            + struct.pack("<II", value.bytes_received, value.available_window)
            + (value.channel_cookie)
        )
    if command.type == CommandType.PADDING:
        if not isinstance(value, int) or not 0 <= value <= MAX_PADDING:
            raise RtsError("Padding needs a length")
        return head + struct.pack("<I", value) + b"\x00" * value
    if command.type == CommandType.CLIENT_ADDRESS:
        if isinstance(value, ipaddress.IPv4Address):
            return head + struct.pack("<I", 0) + value.packed + b"\x00" * 12
        if isinstance(value, ipaddress.IPv6Address):
            return head + struct.pack("<I", 1) + value.packed + b"\x00" * 12
        raise RtsError("ClientAddress needs an IP address")
    return head  # Empty, NegativeANCE, ANCE


def encode_rts(pdu: RtsPdu) -> bytes:
    """Encode an RTS PDU: FIRST|LAST frag, call_id 0, auth_length 0 (2.2.3.6.1)."""
    if len(pdu.commands) > MAX_COMMANDS:
        raise RtsError("too many RTS commands")
    body = struct.pack("<HH", pdu.flags, len(pdu.commands)) + b"".join(
        _encode_command(c) for c in pdu.commands
    )
    length = COMMON_HEADER_SIZE + len(body)
    header = Header(
        PType.RTS, PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG, length, 0, 0, DREP_LITTLE_ENDIAN
    )
    return header.encode() + body


def _take(data: bytes, offset: int, size: int) -> bytes:
    if offset + size > len(data):
        raise RtsError("RTS command truncated")
    return data[offset : offset + size]


def decode_rts(data: bytes) -> RtsPdu:
    """Decode one complete RTS PDU (``frag_length`` bytes)."""
    try:
        header = Header.decode(data)
    except PduError as exc:
        raise RtsError(f"bad RTS header: {exc}") from None
    if header.ptype != PType.RTS:
        raise RtsError(f"PDU type {header.ptype} is not RTS")
    if header.frag_length != len(data) or len(data) < RTS_HEADER_SIZE:
        raise RtsError("RTS frag_length does not match")
    if header.auth_length != 0:
        raise RtsError("RTS PDUs carry no verifier")
    flags, count = struct.unpack_from("<HH", data, COMMON_HEADER_SIZE)
    if count > MAX_COMMANDS:
        raise RtsError(f"{count} RTS commands")
    offset = RTS_HEADER_SIZE
    commands: list[Command] = []
    for _ in range(count):
        raw_type = struct.unpack("<I", _take(data, offset, 4))[0]
        offset += 4
        try:
            ctype = CommandType(raw_type)
        except ValueError:
            raise RtsError(f"unknown RTS command {raw_type}") from None
        value: int | bytes | FlowControlAck | ipaddress.IPv4Address | ipaddress.IPv6Address | None
        value = None
        if ctype in _U32_COMMANDS:
            value = struct.unpack("<I", _take(data, offset, 4))[0]
            offset += 4
        elif ctype in _COOKIE_COMMANDS:
            value = _take(data, offset, COOKIE_SIZE)
            offset += COOKIE_SIZE
        elif ctype == CommandType.FLOW_CONTROL_ACK:
            received, window = struct.unpack("<II", _take(data, offset, 8))
            value = FlowControlAck(received, window, _take(data, offset + 8, COOKIE_SIZE))
            offset += 24
        elif ctype == CommandType.PADDING:
            length = struct.unpack("<I", _take(data, offset, 4))[0]
            if length > MAX_PADDING:
                raise RtsError("RTS padding too long")
            _take(data, offset + 4, length)
            value = length
            offset += 4 + length
        elif ctype == CommandType.CLIENT_ADDRESS:
            family = struct.unpack("<I", _take(data, offset, 4))[0]
            if family == 0:
                value = ipaddress.IPv4Address(_take(data, offset + 4, 4))
                offset += 4 + 4 + 12
            elif family == 1:
                value = ipaddress.IPv6Address(_take(data, offset + 4, 16))
                offset += 4 + 16 + 12
            else:
                raise RtsError(f"unknown client address type {family}")
            _take(data, offset - 12, 12)
        commands.append(Command(ctype, value))
    if offset != len(data):
        raise RtsError(f"{len(data) - offset} bytes after the last RTS command")
    return RtsPdu(RtsFlags(flags), tuple(commands))


# -- the PDUs of connection establishment and flow control ------------------------
def _u32(pdu: RtsPdu, index: int, ctype: CommandType) -> int:
    command = pdu.commands[index]
    if command.type != ctype or not isinstance(command.value, int):
        raise RtsError(f"command {index} should be {ctype.name}")
    return command.value


def _cookie(pdu: RtsPdu, index: int, ctype: CommandType = CommandType.COOKIE) -> bytes:
    command = pdu.commands[index]
    if command.type != ctype or not isinstance(command.value, bytes):
        raise RtsError(f"command {index} should be {ctype.name}")
    return command.value


@dataclass(frozen=True)
class ConnA1:
    """CONN/A1 (MS-RPCH 2.2.4.2): client -> outbound proxy, opens the OUT channel."""

    version: int
    virtual_connection_cookie: bytes
    out_channel_cookie: bytes
    receive_window_size: int

    @classmethod
    def from_pdu(cls, pdu: RtsPdu) -> ConnA1:
        if pdu.flags != RtsFlags.NONE or len(pdu.commands) != 4:
            raise RtsError("not a CONN/A1 RTS PDU")
        return cls(
            _u32(pdu, 0, CommandType.VERSION),
            _cookie(pdu, 1),
            _cookie(pdu, 2),
            _u32(pdu, 3, CommandType.RECEIVE_WINDOW_SIZE),
        )

    def to_pdu(self) -> RtsPdu:
        return RtsPdu(
            RtsFlags.NONE,
            (
                Command(CommandType.VERSION, self.version),
                Command(CommandType.COOKIE, self.virtual_connection_cookie),
                Command(CommandType.COOKIE, self.out_channel_cookie),
                Command(CommandType.RECEIVE_WINDOW_SIZE, self.receive_window_size),
            ),
        )


@dataclass(frozen=True)
class ConnB1:
    """CONN/B1 (MS-RPCH 2.2.4.5): client -> inbound proxy, opens the IN channel."""

    version: int
    virtual_connection_cookie: bytes
    in_channel_cookie: bytes
    channel_lifetime: int
    client_keepalive: int
    association_group_id: bytes

    @classmethod
    def from_pdu(cls, pdu: RtsPdu) -> ConnB1:
        if pdu.flags != RtsFlags.NONE or len(pdu.commands) != 6:
            raise RtsError("not a CONN/B1 RTS PDU")
        return cls(
            _u32(pdu, 0, CommandType.VERSION),
            _cookie(pdu, 1),
            _cookie(pdu, 2),
            _u32(pdu, 3, CommandType.CHANNEL_LIFETIME),
            _u32(pdu, 4, CommandType.CLIENT_KEEPALIVE),
            _cookie(pdu, 5, CommandType.ASSOCIATION_GROUP_ID),
        )

    def to_pdu(self) -> RtsPdu:
        return RtsPdu(
            RtsFlags.NONE,
            (
                Command(CommandType.VERSION, self.version),
                Command(CommandType.COOKIE, self.virtual_connection_cookie),
                Command(CommandType.COOKIE, self.in_channel_cookie),
                Command(CommandType.CHANNEL_LIFETIME, self.channel_lifetime),
                Command(CommandType.CLIENT_KEEPALIVE, self.client_keepalive),
                Command(CommandType.ASSOCIATION_GROUP_ID, self.association_group_id),
            ),
        )


def conn_a3(connection_timeout: int) -> RtsPdu:
    """CONN/A3 (MS-RPCH 2.2.4.4): outbound proxy -> client, timeout in milliseconds."""
    return RtsPdu(RtsFlags.NONE, (Command(CommandType.CONNECTION_TIMEOUT, connection_timeout),))


def conn_c2(version: int, receive_window_size: int, connection_timeout: int) -> RtsPdu:
    """CONN/C2 (MS-RPCH 2.2.4.9): the virtual connection is established."""
    return RtsPdu(
        RtsFlags.NONE,
        (
            Command(CommandType.VERSION, version),
            Command(CommandType.RECEIVE_WINDOW_SIZE, receive_window_size),
            Command(CommandType.CONNECTION_TIMEOUT, connection_timeout),
        ),
    )


def flow_control_ack(bytes_received: int, available_window: int, cookie: bytes) -> RtsPdu:
    """FlowControlAck RTS PDU (MS-RPCH 2.2.4.50)."""
    ack = FlowControlAck(bytes_received & 0xFFFFFFFF, available_window, cookie)
    return RtsPdu(RtsFlags.OTHER_CMD, (Command(CommandType.FLOW_CONTROL_ACK, ack),))


def ping() -> RtsPdu:
    """Ping RTS PDU (MS-RPCH 2.2.4.49): keeps idle channels alive through proxies."""
    return RtsPdu(RtsFlags.PING)


def flow_control_ack_with_destination(pdu: RtsPdu) -> tuple[Destination, FlowControlAck] | None:
    """Recognise FlowControlAckWithDestination (MS-RPCH 2.2.4.51), which clients send on
    the IN channel to acknowledge OUT channel traffic; None for other PDUs."""
    if pdu.types != (CommandType.DESTINATION, CommandType.FLOW_CONTROL_ACK):
        return None
    destination, ack = pdu.commands[0].value, pdu.commands[1].value
    if not isinstance(destination, int) or not isinstance(ack, FlowControlAck):
        return None
    try:
        return Destination(destination), ack
    except ValueError:
        raise RtsError(f"unknown forward destination {destination}") from None
