"""Errors of the DCE/RPC layer.

Malformed input from the network is :class:`~groupware.errors.InvalidInput` (the
connection answers with a fault or bind_nak and, when framing is lost, closes);
credentials that do not verify are :class:`~groupware.errors.AuthenticationFailed`.
Keeping them apart lets the adapters log a bad password differently from garbage.
"""

from __future__ import annotations

from groupware.errors import AuthenticationFailed, InvalidInput


class RpcError(InvalidInput):
    """Base of every malformed-input error raised by ``protocols.rpc``."""


class NdrError(RpcError):
    """NDR stub data that is truncated, misaligned, over a limit or inconsistent."""


class PduError(RpcError):
    """A connection-oriented PDU that violates C706 chapter 12 or MS-RPCE 2.2.2."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        #: Fault status (C706 appendix E / MS-RPCE 2.2.2.12) the server should answer with.
        self.status = status


class NtlmError(RpcError):
    """An NTLMSSP message that cannot be parsed or is out of sequence (MS-NLMP 2.2)."""


class NtlmIntegrityError(NtlmError):
    """A signature or sequence number that does not verify (MS-NLMP 3.4.4)."""


class NtlmAuthenticationFailed(AuthenticationFailed):
    """Well-formed AUTHENTICATE_MESSAGE whose proof does not match the user's NT hash."""


class RtsError(RpcError):
    """An RTS PDU or RPC over HTTP channel sequence that violates MS-RPCH 2.2.3/3.2."""
