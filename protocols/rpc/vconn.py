"""Sans-IO server side of RPC over HTTP v2 virtual connections (MS-RPCH 3.2).

Our server plays the inbound proxy, the outbound proxy and the RPC server at once,
so of the CONN/A..C exchange only the client-facing PDUs travel: the client sends
CONN/A1 in the RPC_OUT_DATA request body and CONN/B1 in the RPC_IN_DATA body; we
answer CONN/A3 and, once both channels are there (paired by the virtual connection
cookie), CONN/C2 on the OUT channel (MS-RPCH 3.2.4.5.x). From then on the IN channel
body carries the client's DCE/RPC PDUs into one :class:`ServerConnection` and the OUT
channel response body carries its answers.

Flow control (MS-RPCH 3.2.1.1.4, 3.2.1.4.1.x): RPC PDUs we send count against the
client's receive window (from CONN/A1) and wait in a queue until the client's
FlowControlAckWithDestination frees room; RPC PDUs we receive are acknowledged with
a FlowControlAck on the OUT channel whenever half of our advertised window is used.
RTS PDUs are never flow controlled.

Not implemented yet: channel recycling (IN_R1/IN_R2/OUT_R1/OUT_R2), needed when an
HTTP request or response reaches its Content-Length; the adapter learns of it
through :attr:`Channel.error` and closes.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocols.rpc.errors import RtsError
from protocols.rpc.pdu import COMMON_HEADER_SIZE, MAX_FRAG_LENGTH, PType
from protocols.rpc.rts import (
    RPC_OVER_HTTP_VERSION,
    ConnA1,
    ConnB1,
    Destination,
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
from protocols.rpc.server import ServerConnection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VirtualConnectionConfig:
    """Numbers we announce and limits we keep."""

    receive_window_size: int = 65536
    """Our IN channel window, announced in CONN/C2 (MS-RPCH 2.2.3.5.1, >= 8192)."""
    connection_timeout: int = 120_000
    """Milliseconds, announced in CONN/A3 and CONN/C2."""
    max_connections: int = 1024
    max_queued_bytes: int = 8 << 20
    """Output held back by the client's flow control before the connection is dropped."""


class ChannelKind(enum.Enum):
    IN = "RPC_IN_DATA"
    OUT = "RPC_OUT_DATA"


class VirtualConnection:
    """An IN/OUT channel pair and the DCE/RPC association it carries."""

    def __init__(
        self, cookie: bytes, rpc: ServerConnection[Any], config: VirtualConnectionConfig
    ) -> None:
        self.cookie = cookie
        self.rpc = rpc
        self.config = config
        self.in_channel: Channel | None = None
        self.out_channel: Channel | None = None
        self.in_cookie = b""
        self.out_cookie = b""
        self.association_group_id = b""
        self.client_keepalive = 0
        self.version = RPC_OVER_HTTP_VERSION
        self.established = False
        # OUT channel: what the client lets us send.
        self._send_window = 0
        self._bytes_sent = 0
        self._queue: deque[bytes] = deque()
        self._queued = 0
        # IN channel: what we acknowledged.
        self._bytes_received = 0
        self._bytes_acked = 0

    # -- application side ---------------------------------------------------
    def next_event(self) -> Any:
        """Events of the inner :class:`ServerConnection` (bind, requests ...)."""
        return self.rpc.next_event()

    def respond(self, call_id: int, stub: bytes) -> None:
        self.rpc.respond(call_id, stub)
        self.flush()

    def fault(self, call_id: int, status: int) -> None:
        self.rpc.fault(call_id, status)
        self.flush()

    @property
    def closed(self) -> bool:
        return self.rpc.closed

    @property
    def keepalive_interval(self) -> int:
        """Milliseconds the client asked for in CONN/B1; 0 means 300000 (2.2.3.5.6)."""
        return self.client_keepalive or 300_000

    def send_ping(self) -> None:
        """Queue a Ping RTS PDU on the OUT channel. The adapter calls this from its
        timer when the OUT channel has been idle for half the keep-alive interval, so
        proxies between us and the client do not time the response out."""
        if self.established:
            self._send_rts(ping())

    # -- flow ---------------------------------------------------------------
    def _send_rts(self, pdu: RtsPdu) -> None:
        if self.out_channel is not None:
            self.out_channel.queue(encode_rts(pdu))

    def flush(self) -> None:
        """Move the RPC layer's output onto the OUT channel as the window allows."""
        data = self.rpc.data_to_send()
        while data:
            length = int.from_bytes(data[8:10], "little")
            self._queue.append(data[:length])
            self._queued += length
            data = data[length:]
        if self._queued > self.config.max_queued_bytes:
            raise RtsError("client does not acknowledge OUT channel traffic")
        if not self.established or self.out_channel is None:
            return
        while self._queue and len(self._queue[0]) <= self._send_window:
            pdu = self._queue.popleft()
            self._queued -= len(pdu)
            self._send_window -= len(pdu)
            self._bytes_sent += len(pdu)
            self.out_channel.queue(pdu)

    @property
    def queued_bytes(self) -> int:
        """RPC output waiting for the client's flow control acknowledgement."""
        return self._queued

    def _acknowledged(self, received: int, available: int) -> None:
        """MS-RPCH 3.2.1.5.1.x: window = AvailableWindow - (BytesSent - BytesReceived)."""
        in_flight = (self._bytes_sent - received) & 0xFFFFFFFF
        self._send_window = max(0, available - in_flight)
        self.flush()

    def _received_rpc(self, pdu: bytes) -> None:
        self._bytes_received += len(pdu)
        self.rpc.receive_data(pdu)
        window = self.config.receive_window_size
        if self._bytes_received - self._bytes_acked >= window // 2:
            self._bytes_acked = self._bytes_received
            self._send_rts(flow_control_ack(self._bytes_received, window, self.in_cookie))
        self.flush()

    def _maybe_establish(self) -> None:
        if self.established or self.in_channel is None or self.out_channel is None:
            return
        self.established = True
        self._send_rts(
            conn_c2(self.version, self.config.receive_window_size, self.config.connection_timeout)
        )
        self.flush()


class Channel:
    """One HTTP request body (IN) or response body (OUT) of a virtual connection."""

    def __init__(self, table: VirtualConnectionTable, kind: ChannelKind) -> None:
        self.table = table
        self.kind = kind
        self.vc: VirtualConnection | None = None
        self.error: str | None = None
        self._inbuf = bytearray()
        self._out = bytearray()

    def queue(self, data: bytes) -> None:
        self._out += data

    def data_to_send(self) -> bytes:
        """Bytes for this channel's HTTP response body (only the OUT channel has any)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def receive_data(self, data: bytes) -> None:
        """Bytes of this channel's HTTP request body."""
        if self.error is not None:
            return
        self._inbuf += data
        try:
            while len(self._inbuf) >= COMMON_HEADER_SIZE:
                length = int.from_bytes(self._inbuf[8:10], "little")
                if length < COMMON_HEADER_SIZE or length > MAX_FRAG_LENGTH:
                    raise RtsError(f"bad frag_length {length}")
                if len(self._inbuf) < length:
                    return
                pdu = bytes(self._inbuf[:length])
                del self._inbuf[:length]
                self._handle(pdu)
        except RtsError as exc:
            self.fail(str(exc))

    def fail(self, reason: str) -> None:
        log.info("RPC over HTTP %s channel failed: %s", self.kind.value, reason)
        self.error = reason
        self.table.drop(self)

    def connection_lost(self) -> None:
        """The HTTP request ended or its connection closed."""
        if self.error is None:
            self.error = "channel closed"
        self.table.drop(self)

    def _handle(self, pdu: bytes) -> None:
        if pdu[2] == PType.RTS:
            self._handle_rts(decode_rts(pdu))
            return
        if self.kind is not ChannelKind.IN or self.vc is None:
            raise RtsError(f"RPC PDU on the {self.kind.value} channel before CONN/B1")
        if not self.vc.established:
            raise RtsError("RPC PDU before the virtual connection is established")
        self.vc._received_rpc(pdu)

    def _handle_rts(self, rts: RtsPdu) -> None:
        if self.vc is None:
            if self.kind is ChannelKind.OUT:
                self.table._attach_out(self, ConnA1.from_pdu(rts))
            else:
                self.table._attach_in(self, ConnB1.from_pdu(rts))
            return
        vc = self.vc
        acked = flow_control_ack_with_destination(rts)
        if acked is not None:
            destination, ack = acked
            if destination == Destination.OUT_PROXY and ack.channel_cookie == vc.out_cookie:
                vc._acknowledged(ack.bytes_received, ack.available_window)
            return
        if rts.flags & RtsFlags.PING or rts.flags & RtsFlags.OTHER_CMD:
            return  # pings and keep-alives only keep intermediaries from timing out
        if rts.flags & RtsFlags.RECYCLE_CHANNEL:
            raise RtsError("channel recycling is not supported")
        log.debug("ignoring RTS PDU %s on %s channel", rts.types, self.kind.value)


class VirtualConnectionTable:
    """All virtual connections of a listener, found by their cookie."""

    def __init__(
        self,
        rpc_factory: Callable[[], ServerConnection[Any]],
        config: VirtualConnectionConfig | None = None,
    ) -> None:
        self._factory = rpc_factory
        self.config = config or VirtualConnectionConfig()
        self._connections: dict[bytes, VirtualConnection] = {}

    def __len__(self) -> int:
        return len(self._connections)

    def get(self, cookie: bytes) -> VirtualConnection | None:
        return self._connections.get(cookie)

    def open_channel(self, kind: ChannelKind) -> Channel:
        """A new RPC_IN_DATA or RPC_OUT_DATA request has arrived."""
        return Channel(self, kind)

    def _connection(self, cookie: bytes) -> VirtualConnection:
        vc = self._connections.get(cookie)
        if vc is None:
            if len(self._connections) >= self.config.max_connections:
                raise RtsError("too many virtual connections")
            vc = VirtualConnection(cookie, self._factory(), self.config)
            self._connections[cookie] = vc
        return vc

    def _attach_out(self, channel: Channel, a1: ConnA1) -> None:
        vc = self._connection(a1.virtual_connection_cookie)
        if vc.out_channel is not None:
            raise RtsError("virtual connection already has an OUT channel")
        vc.out_channel = channel
        channel.vc = vc
        vc.out_cookie = a1.out_channel_cookie
        vc.version = min(vc.version, a1.version)
        vc._send_window = a1.receive_window_size
        channel.queue(encode_rts(conn_a3(self.config.connection_timeout)))
        vc._maybe_establish()

    def _attach_in(self, channel: Channel, b1: ConnB1) -> None:
        vc = self._connection(b1.virtual_connection_cookie)
        if vc.in_channel is not None:
            raise RtsError("virtual connection already has an IN channel")
        vc.in_channel = channel
        channel.vc = vc
        vc.in_cookie = b1.in_channel_cookie
        vc.version = min(vc.version, b1.version)
        vc.client_keepalive = b1.client_keepalive
        vc.association_group_id = b1.association_group_id
        vc._maybe_establish()

    def drop(self, channel: Channel) -> None:
        """Forget the virtual connection of a failed or closed channel."""
        vc = channel.vc
        if vc is None:
            return
        if self._connections.get(vc.cookie) is vc:
            del self._connections[vc.cookie]
        if not vc.rpc.closed:
            vc.rpc.receive_data(b"")
