"""impacket's RPC over HTTP v2 client (ncacn_http through an RPC proxy URL) against our
virtual connection core: CONN/A1/B1 -> A3/C2, then NTLM privacy-level DCE/RPC calls
whose PDUs travel in the RPC_IN_DATA request body and the RPC_OUT_DATA response body.

The HTTP side is a deliberately small test harness (Basic auth, 100-continue, an
endless response body); the production adapter is Twisted and lives elsewhere.
"""

from __future__ import annotations

import base64
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest
from impacket.dcerpc.v5 import rpcrt, transport
from impacket.http import AUTH_BASIC
from impacket.uuid import uuidtup_to_bin

from protocols.rpc.server import RequestReceived
from protocols.rpc.vconn import Channel, ChannelKind, VirtualConnection, VirtualConnectionTable

from .conftest import ECHO_UUID, make_connection
from .test_impacket_conversation import EchoCall, EchoResponse

pytestmark = pytest.mark.interop

EXPECTED_AUTH = "Basic " + base64.b64encode(b"EXAMPLE\\alice:Secret123").decode()


class RpcProxyHarness:
    """Moves bytes between HTTP sockets and one VirtualConnectionTable, under a lock."""

    def __init__(self) -> None:
        self.table = VirtualConnectionTable(make_connection)
        self.lock = threading.Lock()
        self.out_sockets: dict[int, socket.socket] = {}
        self.methods: list[str] = []

    def pump(self, channel: Channel) -> None:
        """Run calls of the channel's virtual connection and ship OUT channel bytes."""
        vc = channel.vc
        if vc is None:
            return
        while (event := vc.next_event()) is not None:
            if isinstance(event, RequestReceived):
                vc.respond(event.call_id, event.handler(event))
        vc.flush()
        out = vc.out_channel
        if out is not None and id(out) in self.out_sockets:
            data = out.data_to_send()
            if data:
                self.out_sockets[id(out)].sendall(data)

    def handle(self, sock: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method = lines[0].split(" ", 1)[0]
        headers = dict(line.split(": ", 1) for line in lines[1:])
        self.methods.append(method)
        if headers.get("Authorization") != EXPECTED_AUTH:
            sock.sendall(
                b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\n'
                b"Content-Length: 0\r\n\r\n"
            )
            return
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        kind = ChannelKind.IN if method == "RPC_IN_DATA" else ChannelKind.OUT
        with self.lock:
            channel = self.table.open_channel(kind)
        if kind is ChannelKind.OUT:
            body = rest
            while len(body) < 76:  # CONN/A1; the OUT request body is exactly that
                body += sock.recv(76 - len(body))
            with self.lock:
                channel.receive_data(body)
                sock.sendall(
                    b"HTTP/1.1 200 Success\r\nContent-Type: application/rpc\r\n"
                    b"Content-Length: 1073741824\r\n\r\n" + channel.data_to_send()
                )
                self.out_sockets[id(channel)] = sock
                self.pump(channel)
            while sock.recv(4096):
                pass
            with self.lock:
                channel.connection_lost()
            return
        data = rest
        while True:
            with self.lock:
                channel.receive_data(data)
                assert channel.error is None, channel.error
                self.pump(channel)
            data = sock.recv(65536)
            if not data:
                with self.lock:
                    channel.connection_lost()
                return


@pytest.fixture
def proxy() -> Iterator[tuple[int, RpcProxyHarness]]:
    harness = RpcProxyHarness()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            harness.handle(self.request)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], harness
    finally:
        server.shutdown()
        server.server_close()


def test_impacket_over_rpc_over_http_with_ntlm_privacy(
    proxy: tuple[int, RpcProxyHarness], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, harness = proxy
    acks: list[tuple[int, int]] = []
    original = VirtualConnection._acknowledged

    def counting(self: VirtualConnection, received: int, available: int) -> None:
        acks.append((received, self.queued_bytes))
        original(self, received, available)

    monkeypatch.setattr(VirtualConnection, "_acknowledged", counting)
    rpc_transport = transport.DCERPCTransportFactory("ncacn_http:GW[6004]")
    # impacket keeps two credential sets: before the proxy URL is set, set_credentials
    # feeds the DCE/RPC (NTLM) layer; afterwards, the HTTP (Basic) layer.
    rpc_transport.set_credentials("alice", "Secret123", "EXAMPLE")
    rpc_transport.set_rpc_proxy_url(f"http://127.0.0.1:{port}/rpc/rpcproxy.dll")
    rpc_transport.set_credentials("alice", "Secret123", "EXAMPLE")
    rpc_transport.set_auth_type(AUTH_BASIC)
    rpc_transport.set_connect_timeout(5)
    dce = rpc_transport.get_dce_rpc()
    dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
    dce.set_auth_level(rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    dce.connect()
    try:
        dce.bind(uuidtup_to_bin((ECHO_UUID, "1.0")))
        # 280 kB answers exceed impacket's 256 KiB receive window: our OUT channel must
        # hold PDUs back until impacket's FlowControlAckWithDestination frees room.
        for text in ("over http", "x" * 140000):
            call = EchoCall()
            call["Text"] = text + "\x00"
            call["Number"] = 1
            dce.call(call.opnum, call)
            answer = EchoResponse(dce.recv())
            assert answer["Text"] == text.upper() + "\x00" and answer["Number"] == 2
    finally:
        dce.disconnect()
    assert sorted(harness.methods) == ["RPC_IN_DATA", "RPC_OUT_DATA"]
    assert acks and any(queued > 0 for _, queued in acks)  # something was waiting
