"""The properties a maildir message gets when no full conversion is configured.

A message another program put into the maildir (a local delivery agent, mutt's
"save", an admin's ``cp``) has no sidecar: its properties must be derived from the
bytes. The real MIME -> MAPI conversion (MS-OXCMAIL) lives in ``groupware.convert``,
which the storage layer does not import; the server passes it in as the backend's
``derive`` hook (see :class:`ContentDeriver`). Until then this header-only
derivation fills what contents tables show: class, subject, sender, recipients,
dates, Message-ID and importance.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import email.utils
import logging
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Protocol

from groupware.mapi.values import datetime_to_filetime
from groupware.types import PropTag
from storage.mapistore import tags
from storage.mapistore.backend import BackendContext
from storage.mapistore.model import MessageContent, Props

logger = logging.getLogger(__name__)

SENDER_ADDRESS_TYPE = PropTag(0x0C1E001F)  # PidTagSenderAddressType
SENT_REPRESENTING_EMAIL_ADDRESS = PropTag(0x0065001F)  # PidTagSentRepresentingEmailAddress
SENT_REPRESENTING_ADDRESS_TYPE = PropTag(0x0064001F)  # PidTagSentRepresentingAddressType
INTERNET_MESSAGE_ID = PropTag(0x1035001F)  # PidTagInternetMessageId
SUBJECT_PREFIX = PropTag(0x003D001F)  # PidTagSubjectPrefix
MAPI_TO, MAPI_CC = 1, 2

_PREFIXES = ("re", "fw", "fwd", "aw", "wg", "sv", "vs", "tr", "rif")


class ContentDeriver(Protocol):
    """Turns the bytes of a message found in a maildir into its MAPI content.

    ``received`` is the file's modification time (Unix seconds), which maildir
    programs use as the delivery time. The result's ``mime`` is ignored (the
    backend fills it). Large values may be stored in ``ctx.blobs`` as BlobValues.
    """

    def __call__(self, ctx: BackendContext, data: bytes, received: float) -> MessageContent:
        ...


def derive_from_headers(ctx: BackendContext, data: bytes, received: float) -> MessageContent:
    """The header-only derivation (see the module docstring)."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        head_end = data.find(b"\n\n")
    header_bytes = data if head_end < 0 else data[:head_end + 2]
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        header_bytes, headersonly=True)
    assert isinstance(parsed, EmailMessage)
    props: Props = {tags.MESSAGE_CLASS: "IPM.Note", tags.MESSAGE_FLAGS: 0}
    props[tags.MESSAGE_DELIVERY_TIME] = datetime_to_filetime(
        dt.datetime.fromtimestamp(received, dt.UTC))
    subject = _text(parsed, "Subject")
    if subject is not None:
        props[tags.SUBJECT] = subject
        prefix, normalized = split_subject(subject)
        props[tags.NORMALIZED_SUBJECT] = normalized
        if prefix:
            props[SUBJECT_PREFIX] = prefix
    sender = _addresses(parsed, "Sender") or _addresses(parsed, "From")
    author = _addresses(parsed, "From") or sender
    if sender:
        props[tags.SENDER_NAME] = sender[0].display_name or sender[0].addr_spec
        props[tags.SENDER_EMAIL_ADDRESS] = sender[0].addr_spec
        props[SENDER_ADDRESS_TYPE] = "SMTP"
    if author:
        props[tags.SENT_REPRESENTING_NAME] = author[0].display_name or author[0].addr_spec
        props[SENT_REPRESENTING_EMAIL_ADDRESS] = author[0].addr_spec
        props[SENT_REPRESENTING_ADDRESS_TYPE] = "SMTP"
    recipients: list[Props] = []
    for header, rtype, display_tag in (("To", MAPI_TO, tags.DISPLAY_TO),
                                       ("Cc", MAPI_CC, tags.DISPLAY_CC)):
        addrs = _addresses(parsed, header)
        props[display_tag] = "; ".join(a.display_name or a.addr_spec for a in addrs)
        for a in addrs:
            recipients.append({
                tags.ROWID: len(recipients),
                tags.RECIPIENT_TYPE: rtype,
                tags.DISPLAY_NAME: a.display_name or a.addr_spec,
                tags.EMAIL_ADDRESS: a.addr_spec,
                tags.ADDRESS_TYPE: "SMTP",
            })
    date = _text(parsed, "Date")
    if date:
        try:
            when = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            props[tags.CLIENT_SUBMIT_TIME] = datetime_to_filetime(when)
    message_id = _text(parsed, "Message-ID")
    if message_id:
        props[INTERNET_MESSAGE_ID] = message_id.strip()
    importance = _importance(parsed)
    if importance is not None:
        props[tags.IMPORTANCE] = importance
    return MessageContent(props=props, recipients=recipients)


def split_subject(subject: str) -> tuple[str, str]:
    """("Re: ", "Lunch") for "Re: Lunch" (MS-OXCMAIL 2.2.3.2.6.1, simplified)."""
    head, sep, rest = subject.partition(":")
    if sep and head.strip().casefold() in _PREFIXES and rest.startswith(" "):
        return head + ": ", rest[1:]
    return "", subject


def _text(msg: EmailMessage, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:  # a header the parser cannot make sense of
        logger.debug("unparsable %s header", name, exc_info=True)
        return None
    return None if value is None else str(value)


def _addresses(msg: EmailMessage, name: str) -> list[Address]:
    try:
        value = msg.get(name)
        if value is None:
            return []
        found = getattr(value, "addresses", ())
        return [a for a in found if isinstance(a, Address) and (a.addr_spec or a.display_name)]
    except Exception:
        logger.debug("unparsable %s header", name, exc_info=True)
        return []


def _importance(msg: EmailMessage) -> int | None:
    value = (_text(msg, "Importance") or "").strip().lower()
    if value in ("high", "normal", "low"):
        return {"low": 0, "normal": 1, "high": 2}[value]
    priority = (_text(msg, "X-Priority") or "").strip()[:1]
    if priority in ("1", "2"):
        return 2
    if priority in ("4", "5"):
        return 0
    if priority == "3":
        return 1
    return None
