"""Per-PDU security for DCE/RPC: verify/strip incoming verifiers, sign/seal outgoing.

MS-RPCE 3.3.1.5.2.2: at packet integrity (5) the whole PDU up to the auth_value is
signed; at packet privacy (6) the stub plus its padding is sealed and the whole PDU
(with the plaintext stub) is signed. The NTLM provider always signs the header,
whether or not PFC_SUPPORT_HEADER_SIGN was negotiated.

A security provider is the server half of one authentication mechanism; only NTLM
(RPC_C_AUTHN_WINNT) exists today, SPNEGO/Kerberos would plug in the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from protocols.rpc.errors import PduError
from protocols.rpc.ntlm import NtHashLookup, NtlmServer, NtlmSession, ServerIdentity
from protocols.rpc.pdu import (
    SEC_TRAILER_SIZE,
    AuthLevel,
    AuthType,
    Header,
    body_offset,
)


class MessageSecurity(Protocol):
    """What a security context offers once established (GSS_Wrap/GetMIC style)."""

    def sign(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> None: ...

    def seal(self, plaintext: bytes, signed_message: bytes) -> tuple[bytes, bytes]: ...

    def unseal(
        self, ciphertext: bytes, signed_message: Callable[[bytes], bytes], signature: bytes
    ) -> bytes: ...


@dataclass(frozen=True)
class Identity:
    """Who authenticated: handed to every request of the connection."""

    user: str
    domain: str
    workstation: str


class ServerSecurityProvider(Protocol):
    """Server half of a three-leg mechanism (bind -> bind_ack -> auth3/alter_context)."""

    auth_type: int
    signature_size: int

    def accept(self, token: bytes) -> bytes:
        """First client token (in bind); returns the token for bind_ack."""
        ...

    def complete(self, token: bytes) -> Identity:
        """Last client token (auth3 or alter_context); raises on bad credentials."""
        ...

    @property
    def message_security(self) -> MessageSecurity: ...


class NtlmProvider:
    """RPC_C_AUTHN_WINNT (MS-RPCE 2.2.1.1.7) backed by :class:`NtlmServer`."""

    auth_type = AuthType.WINNT
    signature_size = 16

    def __init__(self, server: NtlmServer) -> None:
        self._server = server
        self._session: NtlmSession | None = None

    @classmethod
    def factory(
        cls,
        identity: ServerIdentity,
        lookup_nt_hash: NtHashLookup,
        *,
        clock: Callable[[], float],
    ) -> Callable[[], NtlmProvider]:
        """A per-connection constructor to put in the server's provider table."""
        return lambda: cls(NtlmServer(identity, lookup_nt_hash, clock=clock))

    def accept(self, token: bytes) -> bytes:
        return self._server.process_negotiate(token)

    def complete(self, token: bytes) -> Identity:
        result = self._server.process_authenticate(token)
        self._session = result.session
        return Identity(result.user, result.domain, result.workstation)

    @property
    def message_security(self) -> NtlmSession:
        if self._session is None:
            raise PduError("NTLM security context not established")
        return self._session


def _regions(raw: bytes, header: Header) -> tuple[int, int, int]:
    """(stub start, sec_trailer start, auth_value start) of a complete PDU."""
    value_at = len(raw) - header.auth_length
    trailer_at = value_at - SEC_TRAILER_SIZE
    start = body_offset(header.ptype, header.flags)
    if trailer_at < start:
        raise PduError("verifier overlaps the PDU body")
    return start, trailer_at, value_at


def unprotect(raw: bytes, header: Header, level: int, security: MessageSecurity) -> bytes:
    """Verify (and at privacy level decrypt) an incoming PDU; returns plaintext bytes."""
    start, trailer_at, value_at = _regions(raw, header)
    signature = raw[value_at:]
    if level == AuthLevel.PKT_PRIVACY:
        plain = security.unseal(
            raw[start:trailer_at],
            lambda clear: raw[:start] + clear + raw[trailer_at:value_at],
            signature,
        )
        return raw[:start] + plain + raw[trailer_at:]
    if level == AuthLevel.PKT_INTEGRITY:
        security.verify(raw[:value_at], signature)
    return raw


def protect(raw: bytes, header: Header, level: int, security: MessageSecurity) -> bytes:
    """Sign (and at privacy level seal) an outgoing PDU whose auth_value is a
    placeholder of the right length; returns the bytes to send."""
    start, trailer_at, value_at = _regions(raw, header)
    if level == AuthLevel.PKT_PRIVACY:
        cipher, signature = security.seal(raw[start:trailer_at], raw[:value_at])
        return raw[:start] + cipher + raw[trailer_at:value_at] + signature
    if level == AuthLevel.PKT_INTEGRITY:
        return raw[:value_at] + security.sign(raw[:value_at])
    return raw
