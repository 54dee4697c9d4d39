"""A second opinion on our bytes: tshark dissects (and with the NT password, decrypts)
a real impacket conversation with our server, and our RTS PDUs, without malformed marks.

The bytes go through text2pcap with dummy TCP headers on port 135 (the endpoint
mapper port, which tshark dissects as DCE/RPC).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from impacket.dcerpc.v5 import rpch, rpcrt
from impacket.uuid import uuidtup_to_bin

from protocols.rpc.rts import conn_a3, conn_c2, encode_rts, flow_control_ack

from .conftest import ECHO_UUID, Harness
from .test_impacket_conversation import MissingCall, _connect, _echo

pytestmark = pytest.mark.interop


def _tools() -> tuple[str, str]:
    tshark, text2pcap = shutil.which("tshark"), shutil.which("text2pcap")
    assert tshark and text2pcap, "tshark/text2pcap missing: `make install-test` installs them"
    return tshark, text2pcap


def _dissect(transcript: list[tuple[str, bytes]], tmp_path: Path, *options: str) -> str:
    tshark, text2pcap = _tools()
    lines = []
    for direction, data in transcript:
        lines.append(direction)
        lines.extend(
            f"{offset:06x} " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
            for offset in range(0, len(data), 16)
        )
    dump = tmp_path / "dump.txt"
    dump.write_text("\n".join(lines) + "\n")
    capture = tmp_path / "capture.pcap"
    subprocess.run(
        [text2pcap, "-q", "-D", "-T", "50000,135", str(dump), str(capture)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    result = subprocess.run(
        [tshark, "-r", str(capture), "-V", *options],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout


def _frames(text: str) -> list[str]:
    return [chunk for chunk in re.split(r"(?m)^(?=Frame \d+:)", text) if chunk.strip()]


def test_tshark_decrypts_our_sealed_response(tcp_server: Harness, tmp_path: Path) -> None:
    dce = _connect(tcp_server.port, rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    try:
        dce.bind(uuidtup_to_bin((ECHO_UUID, "1.0")))
        assert _echo(dce, "tshark sees this", 1) == ("TSHARK SEES THIS", 2)
        with pytest.raises(rpcrt.DCERPCException):
            dce.request(MissingCall())
    finally:
        dce.disconnect()
    text = _dissect(tcp_server.transcript, tmp_path, "-o", "ntlmssp.nt_password:Secret123")
    ours = [frame for frame in _frames(text) if "(outbound)" in frame.splitlines()[0]]
    assert len(ours) == 3  # bind_ack, response, fault
    # Only our frames are judged: tshark 4.0 trips over impacket's own 4-byte sealed
    # request for the missing opnum, which is not ours to fix.
    assert all("Malformed" not in frame for frame in ours)
    assert "Ack result: Acceptance" in text
    assert "NTLMSSP_CHALLENGE" in text
    assert "NTLMv2 authenticated" in text  # tshark verified the exchange itself
    assert "Status: nca_op_rng_error (0x1c010002)" in text
    # The response stub, sealed by us, decrypts to the upper-cased UTF-16 string.
    expected = "TSHARK SEES THIS".encode("utf-16-le").hex()
    decrypted = [
        line.split(":", 1)[1].strip().rstrip("…")
        for line in text.splitlines()
        if "Decrypted stub data" in line
    ]
    assert any(expected[:40] in value for value in decrypted), decrypted


def test_tshark_dissects_our_rts_pdus(tmp_path: Path) -> None:
    # The Ping RTS PDU (no commands, MS-RPCH 2.2.4.49) is left out: tshark 4.0 flags
    # any zero-command RTS PDU as malformed, impacket's identical bytes included.
    transcript = [
        ("I", rpch.hCONN_A1(os.urandom(16), os.urandom(16), 262144)),
        ("O", encode_rts(conn_a3(120000))),
        ("O", encode_rts(conn_c2(1, 65536, 120000))),
        ("O", encode_rts(flow_control_ack(5000, 65536, os.urandom(16)))),
    ]
    text = _dissect(transcript, tmp_path)
    assert "Malformed" not in text
    for name in ("CONN/A1", "CONN/A3", "CONN/C2", "FlowControlAck"):
        assert name in text
    assert "Receive Window Size: 0x00010000" in text
