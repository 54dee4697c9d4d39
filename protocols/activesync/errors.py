"""The one place that knows ActiveSync's words for protocol-neutral errors.

Codes of :class:`groupware.errors.Code` become a command's Status (MS-ASCMD 2.2.2 and
the per-command status tables); unknown failures are a server error of that command.
"""

from __future__ import annotations

from groupware.errors import Code, GroupwareError

# Per command: Code -> Status.
_TABLES: dict[str, dict[Code, int]] = {
    "FolderCreate": {Code.EXISTS: 2, Code.DENIED: 3, Code.NOT_FOUND: 5, Code.INVALID: 10},
    "FolderUpdate": {Code.EXISTS: 2, Code.DENIED: 3, Code.NOT_FOUND: 4, Code.INVALID: 10},
    "FolderDelete": {Code.DENIED: 3, Code.NOT_FOUND: 4, Code.INVALID: 10},
    "Sync": {Code.NOT_FOUND: 8, Code.INVALID: 6, Code.CONFLICT: 7, Code.QUOTA: 5,
             Code.UNAVAILABLE: 16},
    "ItemOperations": {Code.NOT_FOUND: 6, Code.INVALID: 2, Code.DENIED: 5, Code.TOO_BIG: 11,
                       Code.UNAVAILABLE: 3},
    "SendMail": {Code.INVALID: 107, Code.NOT_FOUND: 150, Code.QUOTA: 115, Code.DENIED: 130,
                 Code.TOO_BIG: 122, Code.UNAVAILABLE: 111},
}
_TABLES["SmartReply"] = _TABLES["SmartForward"] = _TABLES["SendMail"]
_SERVER_ERROR = {"FolderCreate": 6, "FolderUpdate": 6, "FolderDelete": 6, "FolderSync": 6,
                 "Sync": 5, "ItemOperations": 3, "SendMail": 120, "SmartReply": 121,
                 "SmartForward": 121}


def status_for(command: str, exc: GroupwareError) -> int:
    """The Status a command answers ``exc`` with."""
    return _TABLES.get(command, {}).get(exc.code, _SERVER_ERROR.get(command, 110))


COMMON_STATUS = {
    Code.INVALID: 103, Code.NOT_FOUND: 150, Code.DENIED: 130, Code.QUOTA: 113,
    Code.TOO_BIG: 122, Code.UNAVAILABLE: 111, Code.FEATURE_DISABLED: 126,
    Code.NOT_IMPLEMENTED: 137,
}
"""MS-ASCMD 2.2.2 common statuses for errors outside a command's own table."""


def common_status(exc: GroupwareError) -> int:
    return COMMON_STATUS.get(exc.code, 110)
