"""The one place that knows IMAP's words for :class:`groupware.errors.Code`.

Handlers raise meaning (``NotFound``, ``QuotaExceeded`` ...); the session turns it into
a tagged ``NO`` with the RFC 5530 response code clients act upon (``TRYCREATE`` is
decided by the command, since only APPEND/COPY/MOVE use it).
"""

from __future__ import annotations

from groupware.errors import Code, GroupwareError

IMAP_RESPONSE: dict[Code, tuple[str, str | None]] = {
    Code.NOT_FOUND: ("NO", "NONEXISTENT"),
    Code.EXISTS: ("NO", "ALREADYEXISTS"),
    Code.INVALID: ("NO", "CANNOT"),
    Code.DENIED: ("NO", "NOPERM"),
    Code.AUTH_FAILED: ("NO", "AUTHENTICATIONFAILED"),
    Code.FEATURE_DISABLED: ("NO", "AUTHORIZATIONFAILED"),
    Code.THROTTLED: ("NO", "UNAVAILABLE"),
    Code.QUOTA: ("NO", "OVERQUOTA"),
    Code.TOO_BIG: ("NO", "TOOBIG"),
    Code.UNAVAILABLE: ("NO", "UNAVAILABLE"),
    Code.CONFLICT: ("NO", "INUSE"),
    Code.NOT_IMPLEMENTED: ("NO", "CANNOT"),
    Code.INTERNAL: ("NO", "SERVERBUG"),
}


def imap_status(error: GroupwareError) -> tuple[str, str | None]:
    """``("NO", "NONEXISTENT")`` and friends for a raised error."""
    return IMAP_RESPONSE.get(error.code, ("NO", "SERVERBUG"))


__all__ = ["IMAP_RESPONSE", "imap_status"]
