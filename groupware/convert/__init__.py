"""Content conversion between wire formats and MAPI properties (MIME, iCalendar, vCard).

Pure functions, no I/O: MS-OXCMAIL, MS-OXCICAL and MS-OXVCARD mappings live here.
Every converter produces or consumes the plain model of :mod:`.model`
(:class:`~.model.Message` with property dicts, recipients and attachments).

* :func:`~.mime_to_mapi.mime_to_mapi` / :func:`~.mapi_to_mime.mapi_to_mime`
  (and the streaming :func:`~.mapi_to_mime.iter_mime`) — mail.
* :mod:`.ical` — iCalendar VEVENT/VTODO <-> appointment and task messages.
* :mod:`.vcard` — vCard 3/4 <-> contact messages.
* :mod:`.tnef` — winmail.dat; :mod:`.rtf` — PidTagRtfCompressed.

Bad input raises :class:`~.errors.ConversionError` (an ``InvalidInput``), nothing else.
"""

from groupware.convert.errors import ConversionError, LimitExceeded
from groupware.convert.mapi_to_mime import MimeWriteOptions, iter_mime, mapi_to_mime
from groupware.convert.mime_to_mapi import MimeOptions, mime_to_mapi
from groupware.convert.model import Attachment, Message, NamedProp, PropKey, Props, Recipient

__all__ = [
    "Attachment",
    "ConversionError",
    "LimitExceeded",
    "Message",
    "MimeOptions",
    "MimeWriteOptions",
    "NamedProp",
    "PropKey",
    "Props",
    "Recipient",
    "iter_mime",
    "mapi_to_mime",
    "mime_to_mapi",
]
