"""NTLM server side (MS-NLMP): message codec, NTLMv2 verification, signing and sealing.

The server never sees a password: the directory supplies the user's NT hash
(NTOWFv1, MS-NLMP 3.3.1) through ``lookup_nt_hash(user, domain)``. Only NTLMv2
responses are accepted (NTLMv1 and LM are broken), and message security always uses
extended session security (MS-NLMP 3.4.4.2); a client that negotiates signing or
sealing without it is refused.

Everything here is pure: time and randomness are injected so tests can replay the
MS-NLMP section 4.2.4 examples byte for byte.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher

from protocols.rpc.errors import NtlmAuthenticationFailed, NtlmError, NtlmIntegrityError

try:  # cryptography >= 43 moved RC4 to the "decrepit" namespace
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import (  # type: ignore[no-redef,unused-ignore]
        ARC4,
    )

log = logging.getLogger(__name__)

SIGNATURE = b"NTLMSSP\x00"
MAX_MESSAGE_SIZE = 8192
"""Largest NTLMSSP message accepted; real ones are a few hundred bytes."""
MAX_AV_PAIRS = 64
FILETIME_EPOCH_OFFSET = 116444736000000000
"""100 ns intervals between 1601-01-01 and 1970-01-01."""
NTLM_REVISION_W2K3 = 0x0F


class NegotiateFlags(enum.IntFlag):
    """NegotiateFlags (MS-NLMP 2.2.2.5)."""

    UNICODE = 0x00000001
    OEM = 0x00000002
    REQUEST_TARGET = 0x00000004
    SIGN = 0x00000010
    SEAL = 0x00000020
    DATAGRAM = 0x00000040
    LM_KEY = 0x00000080
    NTLM = 0x00000200
    ANONYMOUS = 0x00000800
    OEM_DOMAIN_SUPPLIED = 0x00001000
    OEM_WORKSTATION_SUPPLIED = 0x00002000
    ALWAYS_SIGN = 0x00008000
    TARGET_TYPE_DOMAIN = 0x00010000
    TARGET_TYPE_SERVER = 0x00020000
    EXTENDED_SESSIONSECURITY = 0x00080000
    IDENTIFY = 0x00100000
    REQUEST_NON_NT_SESSION_KEY = 0x00400000
    TARGET_INFO = 0x00800000
    VERSION = 0x02000000
    NEG_128 = 0x20000000
    KEY_EXCH = 0x40000000
    NEG_56 = 0x80000000


SERVER_SUPPORTED = (
    NegotiateFlags.UNICODE
    | NegotiateFlags.OEM
    | NegotiateFlags.REQUEST_TARGET
    | NegotiateFlags.SIGN
    | NegotiateFlags.SEAL
    | NegotiateFlags.NTLM
    | NegotiateFlags.ALWAYS_SIGN
    | NegotiateFlags.EXTENDED_SESSIONSECURITY
    | NegotiateFlags.TARGET_INFO
    | NegotiateFlags.VERSION
    | NegotiateFlags.NEG_128
    | NegotiateFlags.KEY_EXCH
    | NegotiateFlags.NEG_56
)


class AvId(enum.IntEnum):
    """AV_PAIR identifiers (MS-NLMP 2.2.2.1)."""

    EOL = 0
    NB_COMPUTER_NAME = 1
    NB_DOMAIN_NAME = 2
    DNS_COMPUTER_NAME = 3
    DNS_DOMAIN_NAME = 4
    DNS_TREE_NAME = 5
    FLAGS = 6
    TIMESTAMP = 7
    SINGLE_HOST = 8
    TARGET_NAME = 9
    CHANNEL_BINDINGS = 10


AV_FLAG_MIC_PRESENT = 0x00000002


def parse_av_pairs(data: bytes) -> list[tuple[int, bytes]]:
    """AV_PAIR list up to MsvAvEOL (MS-NLMP 2.2.2.1); unknown ids are kept."""
    pairs: list[tuple[int, bytes]] = []
    offset = 0
    while True:
        if offset + 4 > len(data):
            raise NtlmError("AV_PAIR list not terminated by MsvAvEOL")
        av_id, length = struct.unpack_from("<HH", data, offset)
        offset += 4
        if av_id == AvId.EOL:
            return pairs
        if offset + length > len(data):
            raise NtlmError("AV_PAIR value truncated")
        pairs.append((av_id, bytes(data[offset : offset + length])))
        offset += length
        if len(pairs) > MAX_AV_PAIRS:
            raise NtlmError("too many AV_PAIRs")


def encode_av_pairs(pairs: list[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for av_id, value in pairs:
        out += struct.pack("<HH", av_id, len(value)) + value
    out += struct.pack("<HH", AvId.EOL, 0)
    return bytes(out)


def _field(data: bytes, offset: int, what: str) -> bytes:
    """Read a len/maxlen/offset payload descriptor (MS-NLMP 2.2.1.x *Fields)."""
    if offset + 8 > len(data):
        raise NtlmError(f"{what} fields truncated")
    length, _max_length, where = struct.unpack_from("<HHI", data, offset)
    if length == 0:
        return b""
    if where + length > len(data):
        raise NtlmError(f"{what} payload outside the message")
    return bytes(data[where : where + length])


def _check_header(data: bytes, message_type: int, minimum: int) -> None:
    if len(data) > MAX_MESSAGE_SIZE:
        raise NtlmError(f"NTLM message of {len(data)} bytes is too large")
    if len(data) < minimum or data[:8] != SIGNATURE:
        raise NtlmError("not an NTLMSSP message")
    found = struct.unpack_from("<I", data, 8)[0]
    if found != message_type:
        raise NtlmError(f"expected NTLM message type {message_type}, got {found}")


def _text(raw: bytes, unicode: bool, what: str) -> str:
    try:
        return raw.decode("utf-16-le") if unicode else raw.decode("cp1252")
    except UnicodeDecodeError:
        raise NtlmError(f"{what} is not valid text") from None


@dataclass(frozen=True)
class Version:
    """VERSION structure (MS-NLMP 2.2.2.10): informative only."""

    major: int = 10
    minor: int = 0
    build: int = 17763
    revision: int = NTLM_REVISION_W2K3

    def encode(self) -> bytes:
        return struct.pack("<BBH3xB", self.major, self.minor, self.build, self.revision)

    @classmethod
    def decode(cls, data: bytes) -> Version:
        major, minor, build, revision = struct.unpack("<BBH3xB", data)
        return cls(major, minor, build, revision)


@dataclass(frozen=True)
class NegotiateMessage:
    """NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1)."""

    flags: int
    domain: bytes = b""
    workstation: bytes = b""

    @classmethod
    def decode(cls, data: bytes) -> NegotiateMessage:
        _check_header(data, 1, 16)
        flags = struct.unpack_from("<I", data, 12)[0]
        domain = _field(data, 16, "DomainName") if len(data) >= 32 else b""
        workstation = _field(data, 24, "Workstation") if len(data) >= 32 else b""
        return cls(flags, domain, workstation)


@dataclass(frozen=True)
class ChallengeMessage:
    """CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2)."""

    flags: int
    server_challenge: bytes
    target_name: bytes
    target_info: bytes
    version: Version | None = Version()

    HEADER_SIZE = 56

    def encode(self) -> bytes:
        target_name_at = self.HEADER_SIZE
        target_info_at = target_name_at + len(self.target_name)
        return (
            SIGNATURE
            + struct.pack("<I", 2)
            + struct.pack("<HHI", len(self.target_name), len(self.target_name), target_name_at)
            + struct.pack("<I", self.flags)
            + self.server_challenge
            + b"\x00" * 8
            + struct.pack("<HHI", len(self.target_info), len(self.target_info), target_info_at)
            + (self.version.encode() if self.version is not None else b"\x00" * 8)
            + self.target_name
            + self.target_info
        )

    @classmethod
    def decode(cls, data: bytes) -> ChallengeMessage:
        _check_header(data, 2, 48)
        flags = struct.unpack_from("<I", data, 20)[0]
        version = (
            Version.decode(data[48:56])
            if flags & NegotiateFlags.VERSION and len(data) >= 56
            else None
        )
        return cls(
            flags,
            bytes(data[24:32]),
            _field(data, 12, "TargetName"),
            _field(data, 40, "TargetInfo"),
            version,
        )


@dataclass(frozen=True)
class AuthenticateMessage:
    """AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).

    ``mic_offset`` is 72 when the message has room for a MIC (payload starts at or
    after 88), else None.
    """

    lm_response: bytes
    nt_response: bytes
    domain: str
    user: str
    workstation: str
    encrypted_random_session_key: bytes
    flags: int
    mic: bytes | None
    raw: bytes

    MIC_OFFSET = 72

    @classmethod
    def decode(cls, data: bytes) -> AuthenticateMessage:
        _check_header(data, 3, 64)
        flags = struct.unpack_from("<I", data, 60)[0]
        unicode = bool(flags & NegotiateFlags.UNICODE)
        offsets = [
            struct.unpack_from("<I", data, at + 4)[0]
            for at in (12, 20, 28, 36, 44, 52)
            if struct.unpack_from("<H", data, at)[0]
        ]
        payload_start = min(offsets, default=len(data))
        mic = None
        if payload_start >= cls.MIC_OFFSET + 16 and len(data) >= cls.MIC_OFFSET + 16:
            mic = bytes(data[cls.MIC_OFFSET : cls.MIC_OFFSET + 16])
        return cls(
            lm_response=_field(data, 12, "LmChallengeResponse"),
            nt_response=_field(data, 20, "NtChallengeResponse"),
            domain=_text(_field(data, 28, "DomainName"), unicode, "domain"),
            user=_text(_field(data, 36, "UserName"), unicode, "user name"),
            workstation=_text(_field(data, 44, "Workstation"), unicode, "workstation"),
            encrypted_random_session_key=_field(data, 52, "EncryptedRandomSessionKey"),
            flags=flags,
            mic=mic,
            raw=bytes(data),
        )


def _hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.md5).digest()


def _md5(data: bytes) -> bytes:
    """MD5 as MS-NLMP 3.4.5.2/3.4.5.3 key derivation defines it (not our choice)."""
    return hashlib.md5(data).digest()  # noqa: S324


def ntowf_v2(nt_hash: bytes, user: str, domain: str) -> bytes:
    """NTOWFv2 from the stored NT hash (MS-NLMP 3.3.2)."""
    return _hmac_md5(nt_hash, (user.upper() + domain).encode("utf-16-le"))


def _rc4(key: bytes) -> Callable[[bytes], bytes]:
    """A stateful RC4 keystream: successive calls continue where the last stopped."""
    # RC4 is what MS-NLMP 3.4.3 prescribes for sealing; there is no choice here.
    encryptor = Cipher(ARC4(key), mode=None).encryptor()  # noqa: S304
    return encryptor.update


def filetime_now(clock: Callable[[], float]) -> int:
    """FILETIME (100 ns since 1601) for ``clock()`` epoch seconds."""
    return FILETIME_EPOCH_OFFSET + int(clock() * 10_000_000)


@dataclass(frozen=True)
class ServerIdentity:
    """Names the server announces in TargetInfo (MS-NLMP 2.2.2.1)."""

    netbios_computer: str
    netbios_domain: str
    dns_computer: str
    dns_domain: str

    def target_info(self, timestamp: int) -> bytes:
        def utf16(text: str) -> bytes:
            return text.encode("utf-16-le")

        return encode_av_pairs(
            [
                (AvId.NB_DOMAIN_NAME, utf16(self.netbios_domain)),
                (AvId.NB_COMPUTER_NAME, utf16(self.netbios_computer)),
                (AvId.DNS_DOMAIN_NAME, utf16(self.dns_domain)),
                (AvId.DNS_COMPUTER_NAME, utf16(self.dns_computer)),
                (AvId.DNS_TREE_NAME, utf16(self.dns_domain)),
                (AvId.TIMESTAMP, struct.pack("<Q", timestamp)),
            ]
        )


class NtlmSession:
    """Message integrity and confidentiality after authentication (MS-NLMP 3.4).

    Extended session security only. Connection-oriented: one RC4 handle per
    direction runs across all messages (no per-message rekeying), and each
    direction keeps its own sequence number, as DCE/RPC uses them.
    """

    def __init__(self, exported_session_key: bytes, flags: int, *, server: bool = True) -> None:
        if not flags & NegotiateFlags.EXTENDED_SESSIONSECURITY:
            raise NtlmError("message security needs extended session security")
        self.flags = flags
        self.exported_session_key = exported_session_key
        client_sign = _md5(
            exported_session_key + b"session key to client-to-server signing key magic constant\x00"
        )
        server_sign = _md5(
            exported_session_key + b"session key to server-to-client signing key magic constant\x00"
        )
        if flags & NegotiateFlags.NEG_128:
            seal_base = exported_session_key
        elif flags & NegotiateFlags.NEG_56:
            seal_base = exported_session_key[:7]
        else:
            seal_base = exported_session_key[:5]
        client_seal = _md5(
            seal_base + b"session key to client-to-server sealing key magic constant\x00"
        )
        server_seal = _md5(
            seal_base + b"session key to server-to-client sealing key magic constant\x00"
        )
        if server:
            self._send_sign, self._recv_sign = server_sign, client_sign
            send_seal, recv_seal = server_seal, client_seal
        else:
            self._send_sign, self._recv_sign = client_sign, server_sign
            send_seal, recv_seal = client_seal, server_seal
        self.send_sealing_key = send_seal
        self.send_signing_key = self._send_sign
        self._send_rc4 = _rc4(send_seal)
        self._recv_rc4 = _rc4(recv_seal)
        self.send_seq = 0
        self.recv_seq = 0

    def _mac(
        self, sign_key: bytes, rc4: Callable[[bytes], bytes], seq: int, message: bytes
    ) -> bytes:
        """MS-NLMP 3.4.4.2: version 1, HMAC-MD5 checksum (RC4'd with key exchange), seq."""
        checksum = _hmac_md5(sign_key, struct.pack("<I", seq) + message)[:8]
        if self.flags & NegotiateFlags.KEY_EXCH:
            checksum = rc4(checksum)
        return struct.pack("<I", 1) + checksum + struct.pack("<I", seq)

    def sign(self, message: bytes) -> bytes:
        """Signature for an outgoing message (GSS_GetMIC)."""
        signature = self._mac(self._send_sign, self._send_rc4, self.send_seq, message)
        self.send_seq = (self.send_seq + 1) & 0xFFFFFFFF
        return signature

    def seal(self, plaintext: bytes, signed_message: bytes) -> tuple[bytes, bytes]:
        """Encrypt ``plaintext`` and sign ``signed_message`` (which contains the plaintext;
        for DCE/RPC the whole PDU) in the order MS-NLMP 3.4.3 prescribes."""
        ciphertext = self._send_rc4(plaintext)
        return ciphertext, self.sign(signed_message)

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check an incoming signature; raises :class:`NtlmIntegrityError`."""
        if len(signature) != 16:
            raise NtlmIntegrityError(f"NTLM signature of {len(signature)} bytes")
        expected = self._mac(self._recv_sign, self._recv_rc4, self.recv_seq, message)
        self.recv_seq = (self.recv_seq + 1) & 0xFFFFFFFF
        if not hmac.compare_digest(expected, signature):
            raise NtlmIntegrityError("NTLM signature or sequence number mismatch")

    def unseal(
        self, ciphertext: bytes, signed_message: Callable[[bytes], bytes], signature: bytes
    ) -> bytes:
        """Decrypt, rebuild the signed message around the plaintext, verify."""
        plaintext = self._recv_rc4(ciphertext)
        self.verify(signed_message(plaintext), signature)
        return plaintext


@dataclass(frozen=True)
class AuthenticatedUser:
    """Outcome of a successful NTLM authentication."""

    user: str
    domain: str
    workstation: str
    session: NtlmSession


NtHashLookup = Callable[[str, str], bytes | None]


class NtlmServer:
    """One server-side NTLM exchange: NEGOTIATE -> CHALLENGE -> AUTHENTICATE.

    ``lookup_nt_hash(user, domain)`` returns the 16-byte NT hash or None for an
    unknown user. ``clock`` returns epoch seconds (pass ``groupware.clock.Clock.time``);
    it stamps MsvAvTimestamp and bounds the client's clock skew. ``random`` is
    injectable so tests can replay the MS-NLMP examples.
    """

    def __init__(
        self,
        identity: ServerIdentity,
        lookup_nt_hash: NtHashLookup,
        *,
        clock: Callable[[], float],
        random: Callable[[int], bytes] = os.urandom,
        max_clock_skew: float = 36 * 3600.0,
    ) -> None:
        self._identity = identity
        self._lookup = lookup_nt_hash
        self._random = random
        self._clock = clock
        self._max_skew = max_clock_skew
        self._negotiate: bytes | None = None
        self._challenge: bytes | None = None
        self._challenge_message: ChallengeMessage | None = None
        self.done = False

    def process_negotiate(self, data: bytes) -> bytes:
        """Parse NEGOTIATE_MESSAGE, return the CHALLENGE_MESSAGE to send."""
        if self._negotiate is not None:
            raise NtlmError("NEGOTIATE_MESSAGE received twice")
        negotiate = NegotiateMessage.decode(data)
        self._negotiate = bytes(data)
        requested = negotiate.flags
        flags = requested & SERVER_SUPPORTED
        if requested & NegotiateFlags.UNICODE:
            flags &= ~NegotiateFlags.OEM
        flags |= (
            NegotiateFlags.NTLM
            | NegotiateFlags.TARGET_INFO
            | NegotiateFlags.TARGET_TYPE_DOMAIN
            | NegotiateFlags.REQUEST_TARGET
        )
        if requested & (NegotiateFlags.SIGN | NegotiateFlags.SEAL | NegotiateFlags.ALWAYS_SIGN):
            # MS-NLMP 3.1.5.1.1: ESS is what makes NTLMv2 signing sound.
            flags |= NegotiateFlags.EXTENDED_SESSIONSECURITY
        unicode = bool(flags & NegotiateFlags.UNICODE)
        target = self._identity.netbios_domain
        challenge = ChallengeMessage(
            flags=int(flags),
            server_challenge=self._random(8),
            target_name=target.encode("utf-16-le" if unicode else "cp1252"),
            target_info=self._identity.target_info(filetime_now(self._clock)),
            version=Version() if flags & NegotiateFlags.VERSION else None,
        )
        self._challenge_message = challenge
        self._challenge = challenge.encode()
        return self._challenge

    def process_authenticate(self, data: bytes) -> AuthenticatedUser:
        """Verify AUTHENTICATE_MESSAGE (MS-NLMP 3.2.5.1.2) and derive the session."""
        if self._challenge_message is None or self._negotiate is None or self._challenge is None:
            raise NtlmError("AUTHENTICATE_MESSAGE before CHALLENGE")
        if self.done:
            raise NtlmError("AUTHENTICATE_MESSAGE received twice")
        self.done = True
        message = AuthenticateMessage.decode(data)
        challenge = self._challenge_message
        flags = message.flags & challenge.flags
        if not message.nt_response and message.lm_response in (b"", b"\x00"):
            raise NtlmAuthenticationFailed("anonymous NTLM logon refused")
        if len(message.nt_response) <= 24:
            raise NtlmAuthenticationFailed(f"NTLMv1 response refused for {message.user!r}")
        if len(message.nt_response) < 16 + 28 + 4:
            raise NtlmError("NTLMv2 response too short")
        nt_proof, blob = message.nt_response[:16], message.nt_response[16:]
        if blob[0] != 1 or blob[1] != 1:
            raise NtlmError("unknown NTLMv2_CLIENT_CHALLENGE version")
        client_pairs = parse_av_pairs(blob[28:])
        self._check_timestamp(blob[8:16])

        nt_hash = self._lookup(message.user, message.domain)
        if nt_hash is None:
            raise NtlmAuthenticationFailed(f"unknown user {message.user!r}")
        if len(nt_hash) != 16:
            raise ValueError("lookup_nt_hash must return a 16-byte NT hash")
        session_base_key = None
        # MS-NLMP 3.3.2 computes the key with the client's UserDom; some clients use
        # an empty domain, so that is tried too (as Windows and Samba do).
        for domain in dict.fromkeys((message.domain, "")):
            response_key = ntowf_v2(nt_hash, message.user, domain)
            expected = _hmac_md5(response_key, challenge.server_challenge + blob)
            if hmac.compare_digest(expected, nt_proof):
                session_base_key = _hmac_md5(response_key, nt_proof)
                break
        if session_base_key is None:
            raise NtlmAuthenticationFailed(f"wrong NTLMv2 response for {message.user!r}")

        key_exchange_key = session_base_key  # NTLMv2: KXKEY is SessionBaseKey (3.4.5.1)
        if flags & NegotiateFlags.KEY_EXCH and message.encrypted_random_session_key:
            if len(message.encrypted_random_session_key) != 16:
                raise NtlmError("EncryptedRandomSessionKey must be 16 bytes")
            exported = _rc4(key_exchange_key)(message.encrypted_random_session_key)
        else:
            exported = key_exchange_key

        av_flags = next((value for av_id, value in client_pairs if av_id == AvId.FLAGS), None)
        if (
            av_flags is not None
            and len(av_flags) == 4
            and struct.unpack("<I", av_flags)[0] & AV_FLAG_MIC_PRESENT
        ):
            self._check_mic(message, exported)

        if flags & (NegotiateFlags.SIGN | NegotiateFlags.SEAL) and not (
            flags & NegotiateFlags.EXTENDED_SESSIONSECURITY
        ):
            raise NtlmAuthenticationFailed("signing without extended session security refused")
        log.debug(
            "NTLM authenticated %s\\%s from %s", message.domain, message.user, message.workstation
        )
        session_flags = flags | NegotiateFlags.EXTENDED_SESSIONSECURITY
        return AuthenticatedUser(
            message.user, message.domain, message.workstation, NtlmSession(exported, session_flags)
        )

    def _check_timestamp(self, raw: bytes) -> None:
        timestamp = struct.unpack("<Q", raw)[0]
        if timestamp == 0:
            return
        skew = abs(timestamp - filetime_now(self._clock)) / 10_000_000
        if skew > self._max_skew:
            raise NtlmAuthenticationFailed(f"NTLMv2 timestamp {skew:.0f}s away from now")

    def _check_mic(self, message: AuthenticateMessage, exported_session_key: bytes) -> None:
        """MS-NLMP 3.2.5.1.2: MIC over all three messages, with the MIC field zeroed."""
        if message.mic is None:
            raise NtlmAuthenticationFailed("MsvAvFlags announces a MIC but there is none")
        assert self._negotiate is not None and self._challenge is not None
        at = AuthenticateMessage.MIC_OFFSET
        zeroed = message.raw[:at] + b"\x00" * 16 + message.raw[at + 16 :]
        expected = _hmac_md5(exported_session_key, self._negotiate + self._challenge + zeroed)
        if not hmac.compare_digest(expected, message.mic):
            raise NtlmAuthenticationFailed("NTLM MIC mismatch")
