"""The one place that turns protocol-neutral errors into SMTP replies (RFC 3463 codes)."""

from __future__ import annotations

import logging

from groupware.errors import Code, GroupwareError
from protocols.smtp.reply import Reply

logger = logging.getLogger(__name__)

# (code, enhanced status, default text) per error code and per step of the transaction.
_RCPT: dict[Code, tuple[int, str, str]] = {
    Code.NOT_FOUND: (550, "5.1.1", "Recipient address rejected: user unknown"),
    Code.DENIED: (550, "5.7.1", "Relay access denied"),
    Code.FEATURE_DISABLED: (550, "5.7.1", "Recipient cannot receive mail"),
    Code.QUOTA: (552, "5.2.2", "Mailbox full"),
    Code.TOO_BIG: (552, "5.3.4", "Message too big for recipient"),
    Code.INVALID: (501, "5.1.3", "Bad recipient address syntax"),
    Code.THROTTLED: (452, "4.7.0", "Too many recipients, try again later"),
    Code.UNAVAILABLE: (451, "4.3.0", "Temporary lookup failure, try again later"),
    Code.CONFLICT: (451, "4.3.0", "Temporary failure, try again later"),
}
_MAIL: dict[Code, tuple[int, str, str]] = {
    Code.DENIED: (553, "5.7.1", "Sender address rejected: not owned by user"),
    Code.INVALID: (553, "5.1.7", "Bad sender address syntax"),
    Code.QUOTA: (552, "5.2.2", "Mailbox over quota, sending refused"),
    Code.THROTTLED: (451, "4.7.1", "Sending rate exceeded, try again later"),
    Code.UNAVAILABLE: (451, "4.3.0", "Temporary failure, try again later"),
}
_DATA: dict[Code, tuple[int, str, str]] = {
    Code.QUOTA: (552, "5.2.2", "Mailbox full"),
    Code.TOO_BIG: (552, "5.3.4", "Message too big"),
    Code.INVALID: (554, "5.6.0", "Message content rejected"),
    Code.DENIED: (554, "5.7.1", "Message refused"),
    Code.NOT_FOUND: (550, "5.1.1", "User unknown"),
    Code.UNAVAILABLE: (451, "4.3.0", "Temporary failure, try again later"),
    Code.CONFLICT: (451, "4.3.0", "Temporary failure, try again later"),
}
_AUTH: dict[Code, tuple[int, str, str]] = {
    Code.AUTH_FAILED: (535, "5.7.8", "Authentication credentials invalid"),
    Code.INVALID: (535, "5.7.8", "Authentication credentials invalid"),
    Code.FEATURE_DISABLED: (535, "5.7.8", "SMTP submission is disabled for this user"),
    Code.THROTTLED: (454, "4.7.0", "Too many failed attempts, try again later"),
    Code.UNAVAILABLE: (454, "4.7.0", "Temporary authentication failure"),
}
_TABLES = {"rcpt": _RCPT, "mail": _MAIL, "data": _DATA, "auth": _AUTH}
# Codes whose own message is shown to the client (our handlers write them for it).
_SHOW_MESSAGE = frozenset({Code.NOT_FOUND, Code.DENIED, Code.QUOTA, Code.TOO_BIG,
                           Code.FEATURE_DISABLED})


def reply_for(exc: BaseException, step: str) -> Reply:
    """The reply for ``exc`` raised while handling ``step`` (mail, rcpt, data, auth)."""
    if not isinstance(exc, GroupwareError):
        logger.error("unexpected error in SMTP %s", step, exc_info=exc)
        return Reply(451, "4.3.0", "Internal error, try again later")
    table = _TABLES[step]
    entry = table.get(exc.code)
    if entry is None:
        if exc.code is Code.INTERNAL:
            logger.error("internal error in SMTP %s: %s", step, exc)
        return Reply(451, "4.3.0", "Temporary failure, try again later")
    code, status, text = entry
    if exc.code is Code.QUOTA and getattr(exc, "transient", False):
        code, status = 452, "4.2.2"
    if exc.code in _SHOW_MESSAGE and step != "auth" and exc.message:
        text = exc.message
    return Reply(code, status, text)
