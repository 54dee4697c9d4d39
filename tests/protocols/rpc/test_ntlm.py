"""NTLM server: MS-NLMP section 4.2.4 vectors, impacket's client messages, MIC, failures."""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket import ntlm as impacket_ntlm

from groupware.md4 import md4
from protocols.rpc.errors import NtlmAuthenticationFailed, NtlmError, NtlmIntegrityError
from protocols.rpc.ntlm import (
    AuthenticateMessage,
    AvId,
    ChallengeMessage,
    NegotiateFlags,
    NtlmServer,
    NtlmSession,
    ServerIdentity,
    encode_av_pairs,
    ntowf_v2,
    parse_av_pairs,
)

# MS-NLMP 4.2.1 common values and 4.2.4 NTLMv2 results.
SERVER_CHALLENGE = bytes.fromhex("0123456789abcdef")
CLIENT_CHALLENGE = b"\xaa" * 8
RANDOM_SESSION_KEY = b"\x55" * 16
SPEC_FLAGS = 0xE28A8233  # 4.2.4 "Challenge Flags": 33 82 8a e2
SPEC_SERVER_INFO = bytes.fromhex(
    "02000c0044006f006d00610069006e00"  # MsvAvNbDomainName "Domain"
    "01000c005300650072007600650072000000"
    "0000"  # MsvAvNbComputerName "Server", EOL
)
NTOWFV2 = "0c868a403bfd7a93a3001ef22ef02e3f"  # 4.2.4.1.1
SESSION_BASE_KEY = "8de40ccadbc14a82f15cb0ad0de95ca3"  # 4.2.4.1.2
LMV2_RESPONSE = bytes.fromhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")  # 4.2.4.2.1
NT_PROOF = bytes.fromhex("68cd0ab851e51c96aabc927bebef6a1c")  # 4.2.4.2.2
ENCRYPTED_SESSION_KEY = bytes.fromhex("c5dad2544fc9799094ce1ce90bc9d03e")  # 4.2.4.2.3
IDENTITY = ServerIdentity("SERVER", "DOMAIN", "server.domain.test", "domain.test")


def _nt(password: str) -> bytes:
    """NTOWFv1 (MS-NLMP 3.3.1) with the project's one MD4."""
    return md4(password.encode("utf-16-le"))


def _temp(av_pairs: bytes, timestamp: int = 0) -> bytes:
    """NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7)."""
    return (
        b"\x01\x01"
        + b"\x00" * 6
        + struct.pack("<Q", timestamp)
        + CLIENT_CHALLENGE
        + b"\x00" * 4
        + av_pairs
        + b"\x00" * 4
    )


def build_authenticate(
    *,
    user: str,
    domain: str,
    workstation: str,
    lm: bytes,
    nt: bytes,
    session_key: bytes,
    flags: int,
    with_mic: bool = False,
) -> bytes:
    """A test-side AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) laid out as Windows does."""
    payload_at = 88 if with_mic else 72
    fields = [
        lm,
        nt,
        domain.encode("utf-16-le"),
        user.encode("utf-16-le"),
        workstation.encode("utf-16-le"),
        session_key,
    ]
    header = bytearray(b"NTLMSSP\x00" + struct.pack("<I", 3))
    payload = bytearray()
    for value in fields:
        header += struct.pack("<HHI", len(value), len(value), payload_at + len(payload))
        payload += value
    header += struct.pack("<I", flags) + bytes.fromhex("0601b11d0000000f")
    if with_mic:
        header += b"\x00" * 16
    return bytes(header + payload)


def spec_server(random: Callable[[int], bytes] | None = None) -> NtlmServer:
    return NtlmServer(
        IDENTITY,
        lambda user, domain: _nt("Password") if user == "User" else None,
        random=random or (lambda n: SERVER_CHALLENGE[:n]),
        clock=lambda: 1_700_000_000.0,
    )


def spec_negotiate(flags: int = SPEC_FLAGS) -> bytes:
    return b"NTLMSSP\x00" + struct.pack("<II", 1, flags) + b"\x00" * 16


def test_ntowfv2_vector() -> None:
    assert ntowf_v2(_nt("Password"), "User", "Domain").hex() == NTOWFV2


def test_spec_authenticate_is_accepted_and_keys_match_4_2_4_4() -> None:
    server = spec_server()
    challenge = ChallengeMessage.decode(server.process_negotiate(spec_negotiate()))
    assert challenge.server_challenge == SERVER_CHALLENGE
    nt_response = NT_PROOF + _temp(SPEC_SERVER_INFO)
    message = build_authenticate(
        user="User",
        domain="Domain",
        workstation="COMPUTER",
        lm=LMV2_RESPONSE,
        nt=nt_response,
        session_key=ENCRYPTED_SESSION_KEY,
        flags=0xE2888235,
    )
    result = server.process_authenticate(message)
    assert (result.user, result.domain, result.workstation) == ("User", "Domain", "COMPUTER")
    # KEY_EXCH: RC4(SessionBaseKey, EncryptedRandomSessionKey) recovers the RandomSessionKey.
    assert result.session.exported_session_key == RANDOM_SESSION_KEY
    response_key = bytes.fromhex(NTOWFV2)
    assert hmac.new(response_key, NT_PROOF, hashlib.md5).hexdigest() == SESSION_BASE_KEY

    # 4.2.4.4 GSS_WrapEx: the client seals "Plaintext" with client-to-server keys.
    client = NtlmSession(RANDOM_SESSION_KEY, result.session.flags, server=False)
    plaintext = "Plaintext".encode("utf-16-le")
    sealed, signature = client.seal(plaintext, plaintext)
    assert sealed.hex() == "54e50165bf1936dc996020c1811b0f06fb5f"
    assert signature.hex() == "010000007fb38ec5c55d497600000000"
    # ... and our server session opens it.
    assert result.session.unseal(sealed, lambda clear: clear, signature) == plaintext


def test_wrong_password_and_unknown_user_fail() -> None:
    for user, proof in (("User", b"\x00" * 16), ("Nobody", NT_PROOF)):
        server = spec_server()
        server.process_negotiate(spec_negotiate())
        message = build_authenticate(
            user=user,
            domain="Domain",
            workstation="W",
            lm=b"",
            nt=proof + _temp(SPEC_SERVER_INFO),
            session_key=b"",
            flags=SPEC_FLAGS,
        )
        with pytest.raises(NtlmAuthenticationFailed):
            server.process_authenticate(message)


def test_ntlmv1_and_anonymous_are_refused() -> None:
    for nt, lm in ((b"\x11" * 24, b"\x22" * 24), (b"", b"\x00")):
        server = spec_server()
        server.process_negotiate(spec_negotiate())
        message = build_authenticate(
            user="User",
            domain="Domain",
            workstation="W",
            lm=lm,
            nt=nt,
            session_key=b"",
            flags=SPEC_FLAGS,
        )
        with pytest.raises(NtlmAuthenticationFailed):
            server.process_authenticate(message)


def test_stale_timestamp_is_refused() -> None:
    server = spec_server()
    server.process_negotiate(spec_negotiate())
    old = 116444736000000000 + 1_000_000_000 * 10_000_000  # 2001, far outside 36 h
    temp = _temp(SPEC_SERVER_INFO, timestamp=old)
    proof = hmac.new(bytes.fromhex(NTOWFV2), SERVER_CHALLENGE + temp, hashlib.md5).digest()
    message = build_authenticate(
        user="User",
        domain="Domain",
        workstation="W",
        lm=b"",
        nt=proof + temp,
        session_key=b"",
        flags=SPEC_FLAGS,
    )
    with pytest.raises(NtlmAuthenticationFailed, match="timestamp"):
        server.process_authenticate(message)


@pytest.mark.parametrize("tamper", [False, True])
def test_mic_is_checked_when_announced(tamper: bool) -> None:
    server = spec_server()
    negotiate = spec_negotiate()
    challenge = server.process_negotiate(negotiate)
    av = encode_av_pairs(
        [(AvId.NB_DOMAIN_NAME, "Domain".encode("utf-16-le")), (AvId.FLAGS, struct.pack("<I", 2))]
    )
    temp = _temp(av)
    response_key = bytes.fromhex(NTOWFV2)
    proof = hmac.new(response_key, SERVER_CHALLENGE + temp, hashlib.md5).digest()
    base_key = hmac.new(response_key, proof, hashlib.md5).digest()
    message = build_authenticate(
        user="User",
        domain="Domain",
        workstation="W",
        lm=b"",
        nt=proof + temp,
        session_key=b"",
        flags=SPEC_FLAGS & ~0x40000000,
        with_mic=True,
    )
    mic = hmac.new(base_key, negotiate + challenge + message, hashlib.md5).digest()
    if tamper:
        mic = bytes([mic[0] ^ 1]) + mic[1:]
    message = message[:72] + mic + message[88:]
    if tamper:
        with pytest.raises(NtlmAuthenticationFailed, match="MIC"):
            server.process_authenticate(message)
    else:
        assert server.process_authenticate(message).session.exported_session_key == base_key


def test_impacket_client_messages_round_trip() -> None:
    """impacket builds NEGOTIATE and AUTHENTICATE; we parse, challenge and verify them."""
    server = NtlmServer(
        IDENTITY,
        lambda user, domain: _nt("S3cret!") if user == "carol" else None,
        clock=time.time,
    )
    type1 = impacket_ntlm.getNTLMSSPType1("WS1", "", signingRequired=True)
    challenge = server.process_negotiate(type1.getData())
    parsed = impacket_ntlm.NTLMAuthChallenge(challenge)
    assert parsed["challenge"] == ChallengeMessage.decode(challenge).server_challenge
    assert parsed["flags"] & NegotiateFlags.EXTENDED_SESSIONSECURITY
    pairs = dict(parse_av_pairs(parsed["TargetInfoFields"]))
    assert pairs[AvId.DNS_COMPUTER_NAME].decode("utf-16-le") == "server.domain.test"
    type3, exported = impacket_ntlm.getNTLMSSPType3(type1, challenge, "carol", "S3cret!", "DOMAIN")
    result = server.process_authenticate(type3.getData())
    assert result.user == "carol" and result.workstation == "WS1"
    assert result.session.exported_session_key == exported

    # impacket's SEAL with client keys is opened by our server session and vice versa.
    flags = type3["flags"]
    client_seal_key = impacket_ntlm.SEALKEY(flags, exported)
    client_sign_key = impacket_ntlm.SIGNKEY(flags, exported)
    from Cryptodome.Cipher import ARC4

    handle = ARC4.new(client_seal_key).encrypt
    sealed, signature = impacket_ntlm.SEAL(
        flags, client_sign_key, client_seal_key, b"hdr" + b"data", b"data", 0, handle
    )
    opened = result.session.unseal(sealed, lambda clear: b"hdr" + clear, signature.getData())
    assert opened == b"data"
    with pytest.raises(NtlmIntegrityError):
        result.session.verify(b"other", signature.getData())


def test_authenticate_before_negotiate_and_twice() -> None:
    server = spec_server()
    with pytest.raises(NtlmError):
        server.process_authenticate(b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * 60)
    server.process_negotiate(spec_negotiate())
    with pytest.raises(NtlmError):
        server.process_negotiate(spec_negotiate())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_authenticate_never_crashes(data: bytes) -> None:
    server = spec_server()
    server.process_negotiate(spec_negotiate())
    message = b"NTLMSSP\x00\x03\x00\x00\x00" + data
    with pytest.raises((NtlmError, NtlmAuthenticationFailed)):
        server.process_authenticate(message)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_negotiate_and_av_pairs(data: bytes) -> None:
    try:
        spec_server().process_negotiate(b"NTLMSSP\x00\x01\x00\x00\x00" + data)
    except NtlmError:
        pass
    else:
        assert len(data) >= 4  # only messages with a flags field are accepted
    try:
        pairs = parse_av_pairs(data)
    except NtlmError:
        return
    assert encode_av_pairs(pairs) == data[: len(encode_av_pairs(pairs))]


def test_authenticate_message_decode_finds_mic_slot() -> None:
    with_mic = build_authenticate(
        user="u",
        domain="d",
        workstation="w",
        lm=b"",
        nt=b"x" * 60,
        session_key=b"",
        flags=SPEC_FLAGS,
        with_mic=True,
    )
    without = build_authenticate(
        user="u",
        domain="d",
        workstation="w",
        lm=b"",
        nt=b"x" * 60,
        session_key=b"",
        flags=SPEC_FLAGS,
    )
    assert AuthenticateMessage.decode(with_mic).mic == b"\x00" * 16
    assert AuthenticateMessage.decode(without).mic is None
