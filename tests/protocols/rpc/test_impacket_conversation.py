"""impacket's DCERPC_v5 client (a real, independent implementation) against our core.

Bind with NTLM at every supported level, then calls on the echo interface whose
handler decodes the stub with our NDR reader and answers in upper case, so request
decryption/verification and response sealing/signing are proven in both directions,
with fragmentation both ways for the large call.
"""

from __future__ import annotations

import pytest
from impacket.dcerpc.v5 import rpcrt, transport
from impacket.dcerpc.v5.dtypes import DWORD, WSTR
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.uuid import uuidtup_to_bin

from protocols.rpc.server import Authenticated, AuthenticationRejected, Bound

from .conftest import ECHO_UUID, Harness

pytestmark = pytest.mark.interop


class EchoCall(NDRCALL):
    opnum = 0
    structure = (("Text", WSTR), ("Number", DWORD))


class EchoResponse(NDRCALL):
    structure = (("Text", WSTR), ("Number", DWORD), ("ErrorCode", DWORD))


class MissingCall(NDRCALL):
    opnum = 7
    structure = (("Number", DWORD),)


def _connect(port: int, level: int, password: str = "Secret123") -> rpcrt.DCERPC_v5:
    rpc_transport = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:127.0.0.1[{port}]")
    rpc_transport.set_credentials("alice", password, "EXAMPLE")
    rpc_transport.set_connect_timeout(5)
    dce = rpc_transport.get_dce_rpc()
    dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
    dce.set_auth_level(level)
    dce.connect()
    return dce


def _echo(dce: rpcrt.DCERPC_v5, text: str, number: int) -> tuple[str, int]:
    call = EchoCall()
    call["Text"] = text + "\x00"
    call["Number"] = number
    dce.call(call.opnum, call)
    answer = EchoResponse(dce.recv())
    return answer["Text"].rstrip("\x00"), answer["Number"]


@pytest.mark.parametrize(
    "level",
    [
        rpcrt.RPC_C_AUTHN_LEVEL_CONNECT,
        rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
        rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
    ],
)
def test_bind_and_echo_at_each_level(tcp_server: Harness, level: int) -> None:
    dce = _connect(tcp_server.port, level)
    try:
        dce.bind(uuidtup_to_bin((ECHO_UUID, "1.0")))
        assert _echo(dce, "hello outlook", 41) == ("HELLO OUTLOOK", 42)
        # A second call proves both directions' sequence numbers and RC4 states advance.
        assert _echo(dce, "Grüße", 0xFFFFFFFF) == ("GRÜSSE", 0)
    finally:
        dce.disconnect()
    auth_events = [e for e in tcp_server.events if isinstance(e, Authenticated)]
    assert len(auth_events) == 1
    assert auth_events[0].auth.identity.user == "alice"
    assert auth_events[0].auth.auth_level == level


def test_privacy_level_with_fragmentation_both_ways(tcp_server: Harness) -> None:
    dce = _connect(tcp_server.port, rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    try:
        dce.bind(uuidtup_to_bin((ECHO_UUID, "1.0")))
        text = "".join(chr(0x61 + i % 26) for i in range(9000))  # 18 kB of UTF-16 each way
        assert _echo(dce, text, 7) == (text.upper(), 8)
        assert _echo(dce, "after the big one", 1) == ("AFTER THE BIG ONE", 2)
    finally:
        dce.disconnect()


def test_wrong_password_is_refused(tcp_server: Harness) -> None:
    dce = _connect(tcp_server.port, rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY, password="wrong")
    try:
        dce.bind(uuidtup_to_bin((ECHO_UUID, "1.0")))
        with pytest.raises(rpcrt.DCERPCException) as excinfo:
            _echo(dce, "x", 1)
        assert "access_denied" in str(excinfo.value).lower()
    finally:
        dce.disconnect()
    assert any(isinstance(e, AuthenticationRejected) for e in tcp_server.events)


def test_unknown_opnum_faults_op_rng_error(tcp_server: Harness) -> None:
    dce = _connect(tcp_server.port, rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY)
    try:
        dce.bind(uuidtup_to_bin((ECHO_UUID, "1.0")))
        call = MissingCall()
        call["Number"] = 3
        with pytest.raises(rpcrt.DCERPCException) as excinfo:
            dce.request(call)
        assert "nca_s_op_rng_error" in str(excinfo.value)
        # The connection survives a fault.
        assert _echo(dce, "still here", 1) == ("STILL HERE", 2)
    finally:
        dce.disconnect()


def test_unknown_interface_is_rejected_in_bind_ack(tcp_server: Harness) -> None:
    dce = _connect(tcp_server.port, rpcrt.RPC_C_AUTHN_LEVEL_CONNECT)
    try:
        with pytest.raises(rpcrt.DCERPCException) as excinfo:
            dce.bind(uuidtup_to_bin(("11111111-2222-3333-4444-555555555555", "1.0")))
        assert "abstract_syntax_not_supported" in str(excinfo.value)
    finally:
        dce.disconnect()
    bound = [e for e in tcp_server.events if isinstance(e, Bound)]
    assert bound and bound[0].accepted == () and bound[0].rejected == (0,)
