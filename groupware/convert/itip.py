"""iTIP in mail (RFC 5546 / RFC 6047 iMIP, MS-OXCICAL 2.1.3.1.1.20.x): text/calendar parts
become meeting message classes with their calendar properties, and meeting messages
get their text/calendar part when written as MIME.

Classes (MS-OXOCAL 2.2.6-2.2.8): METHOD:REQUEST -> IPM.Schedule.Meeting.Request,
CANCEL -> IPM.Schedule.Meeting.Canceled, REPLY -> IPM.Schedule.Meeting.Resp.Pos /
.Neg / .Tent after the replying attendee's PARTSTAT. The mail's own envelope
(subject, body, sender, recipients) stays; the event adds its calendar properties.
"""

from __future__ import annotations

import logging

from groupware.convert import _tags as t
from groupware.convert.errors import ConversionError
from groupware.convert.ical import ical_to_messages, message_to_ical
from groupware.convert.mapi_to_mime import register_itip_writer
from groupware.convert.mime_to_mapi import register_itip
from groupware.convert.model import Message

log = logging.getLogger(__name__)

_REPLY_CLASS = {t.RESP_ACCEPTED: "IPM.Schedule.Meeting.Resp.Pos",
                t.RESP_DECLINED: "IPM.Schedule.Meeting.Resp.Neg",
                t.RESP_TENTATIVE: "IPM.Schedule.Meeting.Resp.Tent"}
_METHOD_FOR_CLASS = (
    ("IPM.Schedule.Meeting.Request", "REQUEST"),
    ("IPM.Schedule.Meeting.Canceled", "CANCEL"),
    ("IPM.Schedule.Meeting.Resp.", "REPLY"),
)
_ENVELOPE_KEEP = {t.SUBJECT, t.NORMALIZED_SUBJECT, t.CONVERSATION_TOPIC, t.BODY,
                  t.SENT_REPRESENTING_NAME, t.SENT_REPRESENTING_EMAIL_ADDRESS,
                  t.SENT_REPRESENTING_ADDRTYPE, t.SENT_REPRESENTING_SMTP_ADDRESS,
                  t.SENT_REPRESENTING_ENTRYID, t.SENDER_NAME, t.SENDER_EMAIL_ADDRESS,
                  t.SENDER_ADDRTYPE, t.SENDER_SMTP_ADDRESS, t.SENDER_ENTRYID,
                  t.LAST_MODIFICATION_TIME, t.CREATION_TIME, t.SENSITIVITY, t.IMPORTANCE}


def apply_itip(msg: Message, data: bytes, charset: str | None) -> None:
    """Merge the event of a text/calendar part into ``msg`` and set its class."""
    method_line = next((line for line in data.splitlines()
                        if line.upper().startswith(b"METHOD:")), b"")
    method = method_line.partition(b":")[2].strip().decode("ascii", "replace").upper()
    try:
        events = ical_to_messages(data)
    except ConversionError as exc:
        log.info("text/calendar part not usable: %s", exc)
        return
    appointment = next((m for m in events if m.props.get(t.MESSAGE_CLASS) == "IPM.Appointment"),
                       None)
    if appointment is None or method not in ("REQUEST", "CANCEL", "REPLY"):
        return
    for key, value in appointment.props.items():
        if key not in _ENVELOPE_KEEP or key not in msg.props:
            msg.props[key] = value
    msg.props[t.MESSAGE_CLASS] = _class_for(method, appointment)
    if method == "CANCEL":
        flags = appointment.props.get(t.APPT_STATE_FLAGS)
        msg.props[t.APPT_STATE_FLAGS] = (flags if isinstance(flags, int) else 0) | t.ASF_CANCELED
    state = msg.props.get(t.APPT_STATE_FLAGS)
    msg.props[t.APPT_STATE_FLAGS] = (state if isinstance(state, int) else 0) | (
        t.ASF_MEETING | t.ASF_RECEIVED)
    msg.attachments.extend(appointment.attachments)
    if not msg.recipients:
        msg.recipients.extend(appointment.recipients)


def _class_for(method: str, appointment: Message) -> str:
    if method == "REQUEST":
        return "IPM.Schedule.Meeting.Request"
    if method == "CANCEL":
        return "IPM.Schedule.Meeting.Canceled"
    statuses = [r.props.get(t.RECIPIENT_TRACK_STATUS) for r in appointment.recipients
                if r.props.get(t.RECIPIENT_FLAGS) != t.RECIP_SENDABLE | t.RECIP_ORGANIZER]
    for status in statuses:
        if isinstance(status, int) and status in _REPLY_CLASS:
            return _REPLY_CLASS[status]
    return "IPM.Schedule.Meeting.Resp.Tent"


def message_to_itip(msg: Message) -> tuple[str, bytes] | None:
    """A meeting message -> (METHOD, iCalendar bytes) for its iMIP text/calendar part."""
    klass = str(msg.props.get(t.MESSAGE_CLASS, ""))
    method = next((m for prefix, m in _METHOD_FOR_CLASS if klass.startswith(prefix)), None)
    if method is None or t.APPT_START_WHOLE not in msg.props:
        return None
    calendar_only = [a for a in msg.attachments
                     if a.props.get(t.ATTACHMENT_FLAGS) == t.AFX_EXCEPTION]
    view = Message(dict(msg.props), list(msg.recipients), calendar_only)
    return method, message_to_ical(view, method)


register_itip(apply_itip)
register_itip_writer(message_to_itip)
