"""Protocol-neutral errors.

Code raises meaning (:class:`NotFound`, :class:`QuotaExceeded` ...); each protocol maps
the :class:`Code` to its own wire status in exactly one place.
"""

from __future__ import annotations

import enum


class Code(enum.Enum):
    """What went wrong, independent of any wire format."""

    INTERNAL = "internal"
    NOT_FOUND = "not_found"
    EXISTS = "exists"
    INVALID = "invalid"
    DENIED = "denied"
    AUTH_FAILED = "auth_failed"
    FEATURE_DISABLED = "feature_disabled"
    THROTTLED = "throttled"
    QUOTA = "quota"
    TOO_BIG = "too_big"
    UNAVAILABLE = "unavailable"
    CONFLICT = "conflict"
    NOT_IMPLEMENTED = "not_implemented"


class GroupwareError(Exception):
    """Base of every error the application raises on purpose."""

    code: Code = Code.INTERNAL

    def __init__(self, message: str, *, code: Code | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotFound(GroupwareError):
    code = Code.NOT_FOUND


class AlreadyExists(GroupwareError):
    code = Code.EXISTS


class InvalidInput(GroupwareError):
    code = Code.INVALID


class PermissionDenied(GroupwareError):
    code = Code.DENIED


class AuthenticationFailed(GroupwareError):
    code = Code.AUTH_FAILED


class FeatureDisabled(GroupwareError):
    code = Code.FEATURE_DISABLED


class Throttled(GroupwareError):
    code = Code.THROTTLED


class QuotaExceeded(GroupwareError):
    code = Code.QUOTA


class TooBig(GroupwareError):
    code = Code.TOO_BIG


class Unavailable(GroupwareError):
    """A dependency (database, directory, peer) cannot be reached; callers fail closed."""

    code = Code.UNAVAILABLE


class Conflict(GroupwareError):
    code = Code.CONFLICT


class ConfigError(GroupwareError):
    """A configuration key is wrong. The message always starts with the key's path."""

    code = Code.INVALID

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}: {why}")
        self.key = key
        self.why = why


class SchemaOutdated(GroupwareError):
    """The database schema is older than the code; ``groupware db upgrade`` fixes it."""

    code = Code.UNAVAILABLE
