"""The MS-RPCE 2.2.2.13 verification trailer a client may append to request stubs.

It protects header fields a security provider without header signing cannot:
the presentation context (interface + transfer syntax) and the PDU header (type,
drep, call_id, context id, opnum). The server finds it, checks it against the
actual call and strips it before the stub reaches NDR decoding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.rpc.errors import PduError
from protocols.rpc.pdu import SyntaxId

SIGNATURE = bytes((0x8A, 0xE3, 0x13, 0x71, 0x02, 0xF4, 0x36, 0x71))
"""rpc_sec_verification_trailer (MS-RPCE 2.2.2.13.1)."""
COMMAND_BITMASK_1 = 0x0001
COMMAND_PCONTEXT = 0x0002
COMMAND_HEADER2 = 0x0003
COMMAND_END = 0x4000
COMMAND_MUST_PROCESS = 0x8000
MAX_TRAILER = 256
"""A trailer has at most three small commands; anything longer is not one."""
CLIENT_SUPPORT_HEADER_SIGNING = 0x00000001


@dataclass(frozen=True)
class Header2:
    """rpc_sec_vt_header2 (MS-RPCE 2.2.2.13.3)."""

    ptype: int
    drep: bytes
    call_id: int
    context_id: int
    opnum: int


@dataclass(frozen=True)
class VerificationTrailer:
    """Commands found in a trailer; absent commands are None."""

    bitmask: int | None = None
    interface: SyntaxId | None = None
    transfer_syntax: SyntaxId | None = None
    header: Header2 | None = None

    def encode(self) -> bytes:
        commands: list[tuple[int, bytes]] = []
        if self.bitmask is not None:
            commands.append((COMMAND_BITMASK_1, struct.pack("<I", self.bitmask)))
        if self.interface is not None and self.transfer_syntax is not None:
            commands.append(
                (COMMAND_PCONTEXT, self.interface.encode() + self.transfer_syntax.encode())
            )
        if self.header is not None:
            h = self.header
            commands.append(
                (
                    COMMAND_HEADER2,
                    struct.pack(
                        "<BBH4sIHH", h.ptype, 0, 0, h.drep, h.call_id, h.context_id, h.opnum
                    ),
                )
            )
        out = bytearray(SIGNATURE)
        for index, (command, body) in enumerate(commands):
            flag = COMMAND_END if index == len(commands) - 1 else 0
            out += struct.pack("<HH", command | flag | COMMAND_MUST_PROCESS, len(body)) + body
        return bytes(out)


def _parse_commands(data: bytes) -> VerificationTrailer | None:
    """Parse the commands after the signature; None if they do not end exactly."""
    bitmask = interface = transfer = header = None
    offset = 0
    while offset + 4 <= len(data):
        raw_command, length = struct.unpack_from("<HH", data, offset)
        body = data[offset + 4 : offset + 4 + length]
        if len(body) != length:
            return None
        command = raw_command & 0x3FFF
        if command == COMMAND_BITMASK_1 and length == 4:
            bitmask = struct.unpack("<I", body)[0]
        elif command == COMMAND_PCONTEXT and length == 40:
            interface, transfer = SyntaxId.decode(body, 0), SyntaxId.decode(body, 20)
        elif command == COMMAND_HEADER2 and length == 16:
            ptype, _r1, _r2, drep, call_id, context_id, opnum = struct.unpack("<BBH4sIHH", body)
            header = Header2(ptype, drep, call_id, context_id, opnum)
        elif raw_command & COMMAND_MUST_PROCESS:
            raise PduError(f"unknown verification trailer command {command:#x} marked must-process")
        offset += 4 + length
        if raw_command & COMMAND_END:
            if offset != len(data):
                return None
            return VerificationTrailer(bitmask, interface, transfer, header)
    return None


def split_verification_trailer(stub: bytes) -> tuple[bytes, VerificationTrailer | None]:
    """Return the stub without its trailer, and the trailer if there is one.

    MS-RPCE 2.2.2.13 lets clients pad the stub before the trailer, so the
    signature is searched backwards from the end at 4-byte aligned offsets.
    """
    lowest = max(0, len(stub) - MAX_TRAILER)
    at = stub.rfind(SIGNATURE, lowest)
    while at >= 0:
        if at % 4 == 0:
            trailer = _parse_commands(stub[at + len(SIGNATURE) :])
            if trailer is not None:
                return stub[:at], trailer
        at = stub.rfind(SIGNATURE, lowest, at)
    return stub, None
