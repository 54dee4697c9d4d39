"""A second opinion on our NSPI and RFR bytes: a real impacket session with the running
server is relayed through a recorder, turned into a capture with text2pcap and
dissected by tshark's NSPI and RFR dissectors; none of our frames may carry a
malformed-packet mark. At auth level connect the stubs are readable to the
dissector; at packet privacy tshark decrypts them with the password."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from impacket.dcerpc.v5 import nspi, oxabref, rpcrt, transport

from tests.protocols.nspi.running import PASSWORD, AddressBook, module_book
from tests.protocols.rpc.test_tshark import _dissect

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[AddressBook]:
    book = module_book(tmp_path_factory, request)
    yield book
    book.server.stop()


class Recorder:
    """A TCP relay in front of the server that keeps ("I"|"O", bytes) in order."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.transcript: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._pump, args=(client, server, "I"), daemon=True).start()
        self._pump(server, client, "O")

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            with self.lock:
                self.transcript.append((direction, data))
                sink.sendall(data)

    def close(self) -> None:
        self.listener.close()


ASCII_USER, ASCII_PASSWORD = "wire", "Wire-shark-1"
"""tshark's ntlmssp.nt_password takes ASCII only, so the decrypting test logs in as a
user with an ASCII password."""


@pytest.fixture(scope="module")
def ascii_user(book: AddressBook) -> str:
    book.server.cli("user", "add", f"{ASCII_USER}@example.test", "--name", "Wire Shark",
                    "--password-stdin", input=ASCII_PASSWORD + "\n")
    return ASCII_USER


def _connect(port: int, level: int, interface: bytes, user: str = "alice",
             password: str = PASSWORD) -> Any:
    rpc = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:127.0.0.1[{port}]")
    rpc.set_credentials(user, password, "EXAMPLE")
    dce = rpc.get_dce_rpc()
    dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
    dce.set_auth_level(level)
    dce.connect()
    dce.bind(interface)
    return dce


def _our_frames(text: str) -> list[str]:
    frames = [chunk for chunk in re.split(r"(?m)^(?=Frame \d+:)", text) if chunk.strip()]
    return [f for f in frames if "(outbound)" in f.splitlines()[0]]


def _stat() -> Any:
    stat = nspi.STAT()
    stat["CodePage"] = nspi.CP_TELETEX
    return stat


@pytest.mark.parametrize("level", [rpcrt.RPC_C_AUTHN_LEVEL_CONNECT,
                                   rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY])
def test_tshark_dissects_our_nspi_session(book: AddressBook, ascii_user: str, tmp_path: Path,
                                          level: int) -> None:
    recorder = Recorder(book.rpc_port)
    try:
        dce = _connect(recorder.port, level, nspi.MSRPC_UUID_NSPI, ascii_user, ASCII_PASSWORD)
        handle = nspi.hNspiBind(dce, _stat())["contextHandle"]
        nspi.hNspiUpdateStat(dce, handle, _stat())
        nspi.hNspiGetSpecialTable(dce, handle)
        rows = nspi.hNspiQueryRows(dce, handle, pStat=_stat(), Count=5,
                                   pPropTags=[0x3001001F, 0x39FE001F, 0x0FFF0102, 0x0FFE0003])
        assert len(rows["ppRows"]["aRow"]) == 5
        nspi.hNspiDNToMId(dce, handle, [book.by_address("bob@example.test").legacy_dn])
        nspi.hNspiResolveNamesW(dce, handle, pPropTags=[0x3001001F], paStr=["bob", "x"])
        nspi.hNspiUnbind(dce, handle)
        dce.disconnect()
    finally:
        recorder.close()
    text = _dissect(recorder.transcript, tmp_path, "-o",
                    f"ntlmssp.nt_password:{ASCII_PASSWORD}")
    ours = _our_frames(text)
    assert len(ours) >= 8  # bind_ack and seven responses
    assert all("Malformed" not in frame and "Exception occurred" not in frame
               for frame in ours), [f for f in ours if "Malformed" in f][:1]
    assert "NSPI" in text or "Name Service Provider" in text
    if level == rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY:
        # tshark unseals our responses with the password, then dissects them alike.
        assert "Decrypted stub data" in text or "Auth Padding" in text
    # tshark's NSPI dissector predates MS-OXNSPI's names for opnums 7 and 12.
    for operation in ("NspiBind (0)", "NspiUpdateStat (2)", "NspiGetHierarchyInfo (12)",
                      "NspiQueryRows (3)", "NspiDNToEph (7)", "NspiResolveNamesW (20)",
                      "NspiUnbind (1)"):
        assert f"Operation: {operation}" in text
    # Our rows, dissected value by value.
    first = book.visible[0]
    assert f"LpszW: {first.display_name}" in text and f"LpszW: {first.address}" in text


def test_tshark_dissects_our_rfr_answer(book: AddressBook, tmp_path: Path) -> None:
    recorder = Recorder(book.rpc_port)
    try:
        dce = _connect(recorder.port, rpcrt.RPC_C_AUTHN_LEVEL_CONNECT,
                       oxabref.MSRPC_UUID_OXABREF)
        answer = oxabref.hRfrGetNewDSA(dce, pUserDN=book.by_address(
            "alice@example.test").legacy_dn)
        assert answer["ppszServer"] == "localhost"
        dce.disconnect()
    finally:
        recorder.close()
    text = _dissect(recorder.transcript, tmp_path)
    ours = _our_frames(text)
    assert ours and all("Malformed" not in frame for frame in ours)
    assert "RfrGetNewDSA" in text
    assert "localhost" in text
