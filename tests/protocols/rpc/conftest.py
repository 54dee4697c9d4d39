"""Shared test fixtures: an echo interface and a loopback TCP harness for the core.

The harness is only a transport: a socketserver thread moving bytes between a real
client socket and our sans-IO ``ServerConnection``. Handlers are plain functions
``(RequestReceived) -> bytes`` so tests can decode stubs with our NDR reader.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from groupware.md4 import md4
from protocols.rpc import ndr
from protocols.rpc.interface import InterfaceRegistry, RpcInterface
from protocols.rpc.ntlm import ServerIdentity
from protocols.rpc.pdu import AuthType, SyntaxId
from protocols.rpc.security import NtlmProvider
from protocols.rpc.server import (
    ConnectionClosed,
    RequestReceived,
    ServerConfig,
    ServerConnection,
)

Handler = Callable[[RequestReceived[object]], bytes]

ECHO_UUID = "9f0c5a55-3c6e-4f0e-8a53-2f7d2d8e1a01"
ECHO_SYNTAX = SyntaxId.of(ECHO_UUID, 1, 0)
USERS = {("alice", "EXAMPLE"): "Secret123", ("bob", ""): "Pässwörd"}
IDENTITY = ServerIdentity("GW", "EXAMPLE", "gw.example.org", "example.org")


def lookup_nt_hash(user: str, domain: str) -> bytes | None:
    for (name, dom), password in USERS.items():
        if name.lower() == user.lower() and dom.lower() in (domain.lower(), ""):
            return md4(password.encode("utf-16-le"))
    return None


def echo_handler(call: RequestReceived[object]) -> bytes:
    """opnum 0: (in [string] wchar_t* text, in long n) -> (out text upper, n + 1, status 0)."""
    reader = ndr.Reader(call.stub)
    text = reader.wstring()
    number = reader.u32()
    writer = ndr.Writer()
    writer.wstring(text.upper())
    writer.u32((number + 1) & 0xFFFFFFFF)
    writer.u32(0)
    return writer.getvalue()


def make_registry(handlers: dict[int, Handler] | None = None) -> InterfaceRegistry[Handler]:
    registry: InterfaceRegistry[Handler] = InterfaceRegistry()
    registry.register(RpcInterface("echo", ECHO_SYNTAX, handlers or {0: echo_handler}))
    return registry


def make_connection(**kwargs: object) -> ServerConnection[Handler]:
    security = {AuthType.WINNT: NtlmProvider.factory(IDENTITY, lookup_nt_hash, clock=time.time)}
    config = kwargs.pop("config", ServerConfig())
    return ServerConnection(make_registry(), config=config, security=security, **kwargs)  # type: ignore[arg-type]


@dataclass
class Harness:
    port: int
    events: list[object] = field(default_factory=list)
    transcript: list[tuple[str, bytes]] = field(default_factory=list)


def serve(
    conn: ServerConnection[Handler],
    sock: socket.socket,
    events: list[object],
    transcript: list[tuple[str, bytes]] | None = None,
) -> None:
    """Pump bytes between ``sock`` and ``conn`` until either side closes.

    ``transcript`` collects ("I", client bytes) and ("O", server bytes) in order.
    """
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if transcript is not None and data:
            transcript.append(("I", data))
        conn.receive_data(data)
        while (event := conn.next_event()) is not None:
            events.append(event)
            if isinstance(event, RequestReceived):
                conn.respond(event.call_id, event.handler(event))
        out = conn.data_to_send()
        if out:
            if transcript is not None:
                transcript.append(("O", out))
            sock.sendall(out)
        if conn.closed:
            return


@pytest.fixture
def tcp_server() -> Iterator[Harness]:
    events: list[object] = []
    transcript: list[tuple[str, bytes]] = []

    class Handler_(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            serve(make_connection(), self.request, events, transcript)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler_)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Harness(server.server_address[1], events, transcript)
    finally:
        server.shutdown()
        server.server_close()


__all__ = ["ConnectionClosed", "Harness", "echo_handler", "make_connection", "make_registry"]
