"""MS-RPCE 2.2.2.13 verification trailer: finding, parsing and stripping it."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.rpc.errors import PduError
from protocols.rpc.pdu import NDR20, SyntaxId
from protocols.rpc.verification import (
    COMMAND_END,
    SIGNATURE,
    Header2,
    VerificationTrailer,
    split_verification_trailer,
)

IFACE = SyntaxId.of("f5cc5a18-4264-101a-8c59-08002b2f8426", 56)
FULL = VerificationTrailer(
    bitmask=1,
    interface=IFACE,
    transfer_syntax=NDR20,
    header=Header2(0, b"\x10\x00\x00\x00", 7, 0, 3),
)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 3))
def test_trailer_after_padded_stub_is_found_and_stripped(stub: bytes, extra: int) -> None:
    padded = stub + b"\x00" * (-len(stub) % 4) + b"\x00" * (4 * extra)
    found, trailer = split_verification_trailer(padded + FULL.encode())
    assert trailer == FULL
    assert found == padded


def test_encoded_layout_follows_the_spec() -> None:
    raw = FULL.encode()
    assert raw[:8] == SIGNATURE
    # bitmask command: type 1, length 4; pcontext: type 2, length 0x28; header2 last with END.
    assert struct.unpack_from("<HH", raw, 8)[1] == 4
    assert struct.unpack_from("<H", raw, 8)[0] & 0x3FFF == 1
    assert struct.unpack_from("<HH", raw, 16)[1] == 0x28
    last_command = struct.unpack_from("<H", raw, 16 + 4 + 40)[0]
    assert last_command & 0x3FFF == 3 and last_command & COMMAND_END
    assert len(raw) == 8 + 8 + 44 + 20


def test_signature_without_valid_commands_is_not_a_trailer() -> None:
    stub = b"abcd" + SIGNATURE + b"\x01\x00\x99\x00"  # length runs past the end
    assert split_verification_trailer(stub) == (stub, None)
    unaligned = b"abc" + FULL.encode()
    assert split_verification_trailer(unaligned) == (unaligned, None)
    assert split_verification_trailer(b"plain stub") == (b"plain stub", None)


def test_unknown_must_process_command_is_refused() -> None:
    raw = SIGNATURE + struct.pack("<HH", 0x0007 | 0x8000 | COMMAND_END, 0)
    with pytest.raises(PduError, match="must-process"):
        split_verification_trailer(raw)
    ignorable = SIGNATURE + struct.pack("<HH", 0x0007 | COMMAND_END, 0)
    assert split_verification_trailer(ignorable) == (b"", VerificationTrailer())
