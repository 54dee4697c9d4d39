"""``[auth] store_nt_hash = false`` (docs/outlook.md): NTLM is not offered at all —
impacket's DCE/RPC bind with NTLM is refused on ``ncacn_ip_tcp``, ``/rpc/rpcproxy.dll``
asks for Basic only — while MAPI/HTTP with Basic keeps answering."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from impacket.dcerpc.v5 import nspi, rpcrt, transport

from protocols.nspi.client import NspiHttpClient
from tests.conftest import RunningServer, start_server

pytestmark = pytest.mark.interop

ADMIN = "admin@example.test"
ADMIN_PASSWORD = "admin-secret"  # what tests.conftest.start_server's init sets


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[RunningServer]:
    running = start_server(tmp_path, database_url, listeners=[
        {"protocol": "rpc", "address": "127.0.0.1", "port": 0},
        {"protocol": "http", "address": "127.0.0.1", "port": 0, "tls": "none"},
    ], extra_config="\n[auth]\nstore_nt_hash = false\nargon2_time_cost = 1\n"
                    "argon2_memory_cost = 1024\nargon2_parallelism = 1\n")
    yield running
    running.stop()


def test_ntlm_is_not_offered_and_basic_still_works(server: RunningServer) -> None:
    rpc = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:127.0.0.1[{server.port('rpc')}]")
    rpc.set_credentials("admin", ADMIN_PASSWORD, "EXAMPLE")
    rpc.set_connect_timeout(10)
    dce = rpc.get_dce_rpc()
    dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
    dce.set_auth_level(rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    dce.connect()
    # bind_nak, reason 8 "authentication type not recognized" (MS-RPCE 2.2.2.5): the
    # provider is absent, not merely short of a hash.
    with pytest.raises(rpcrt.DCERPCException, match="Authentication type not recognized"):
        dce.bind(nspi.MSRPC_UUID_NSPI)
    dce.disconnect()

    with socket.create_connection(("127.0.0.1", server.port("http", "none")), 10) as sock:
        sock.sendall(b"RPC_IN_DATA /rpc/rpcproxy.dll?localhost:6004 HTTP/1.1\r\n"
                     b"Host: localhost\r\nContent-Length: 1073741824\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].split()[1] == "401"
    offered = [v for k, _, v in (line.partition(": ") for line in lines[1:])
               if k.lower() == "www-authenticate"]
    assert offered and all(not v.upper().startswith(("NTLM", "NEGOTIATE")) for v in offered)
    assert any(v.startswith("Basic") for v in offered)

    port = server.port("http", "none")
    client = NspiHttpClient(f"http://127.0.0.1:{port}/mapi/nspi/?MailboxId=x@example.test",
                            ADMIN, ADMIN_PASSWORD)
    client.bind()
    answer = client.resolve_names(["admin"], [0x39FE001F])
    assert answer["mids"][0] not in (0, 1)
    client.unbind()
    client.close()
