"""Random property sets survive MAPI -> MIME -> MAPI (hypothesis)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.convert import _tags as t
from groupware.convert.mapi_to_mime import mapi_to_mime
from groupware.convert.mime_to_mapi import mime_to_mapi
from groupware.convert.model import Attachment, Message, Recipient
from groupware.mapi.values import datetime_to_filetime

_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60)
_word = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                              blacklist_characters=",;"), min_size=1, max_size=12)
_addr = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(com|org|de)", fullmatch=True)
_name = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd"),
                              whitelist_characters=" .,'\"-"), max_size=20).map(str.strip)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    props = {
        t.MESSAGE_CLASS: "IPM.Note",
        t.SUBJECT: draw(_text).strip(),
        t.SENT_REPRESENTING_NAME: draw(_name),
        t.SENT_REPRESENTING_SMTP_ADDRESS: draw(_addr),
        t.CLIENT_SUBMIT_TIME: datetime_to_filetime(draw(st.datetimes(
            min_value=dt.datetime(1980, 1, 1), max_value=dt.datetime(2100, 1, 1)))
            .replace(microsecond=0, tzinfo=dt.UTC)),
        t.BODY: draw(_text),
        t.IMPORTANCE: draw(st.sampled_from([0, 1, 2])),
        t.SENSITIVITY: draw(st.sampled_from([0, 1, 2, 3])),
        t.KEYWORDS: tuple(draw(st.lists(_word, max_size=3, unique=True))),
    }
    if not props[t.KEYWORDS]:
        del props[t.KEYWORDS]
    recipients = [Recipient({t.RECIPIENT_TYPE: kind, t.DISPLAY_NAME: name or addr,
                             t.SMTP_ADDRESS: addr, t.ADDRTYPE: "SMTP"})
                  for kind, name, addr in draw(st.lists(
                      st.tuples(st.sampled_from([1, 2, 3]), _name, _addr), max_size=4))]
    attachments = [Attachment({t.ATTACH_METHOD: t.AFBYVALUE, t.ATTACH_DATA_BIN: data,
                               t.ATTACH_LONG_FILENAME: name + ".bin",
                               t.ATTACH_MIME_TAG: "application/octet-stream"})
                   for data, name in draw(st.lists(st.tuples(st.binary(max_size=200), _word),
                                                   max_size=3))]
    return Message(props, recipients, attachments)  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(messages())
def test_random_models_survive_mime(msg: Message) -> None:
    data = mapi_to_mime(msg)
    assert data == mapi_to_mime(msg)  # stable bytes
    back = mime_to_mapi(data)
    for key in (t.SUBJECT, t.CLIENT_SUBMIT_TIME, t.SENT_REPRESENTING_SMTP_ADDRESS, t.KEYWORDS):
        assert back.props.get(key) == msg.props.get(key), key
    assert back.props.get(t.IMPORTANCE, 1) == msg.props[t.IMPORTANCE]
    assert back.props.get(t.SENSITIVITY, 0) == msg.props[t.SENSITIVITY]
    assert back.props.get(t.BODY, "").replace("\r\n", "\n") == str(msg.props[t.BODY]).replace(
        "\r\n", "\n").replace("\r", "\n")
    # To, then Cc, then Bcc: the order of the header fields, stable within each kind.
    ordered = sorted(msg.recipients, key=lambda r: int(r.props[t.RECIPIENT_TYPE]))  # type: ignore[arg-type]
    rows = [(r.props[t.RECIPIENT_TYPE], r.props[t.SMTP_ADDRESS], r.props[t.DISPLAY_NAME])
            for r in back.recipients]
    assert rows == [(r.props[t.RECIPIENT_TYPE], r.props[t.SMTP_ADDRESS], r.props[t.DISPLAY_NAME])
                    for r in ordered]
    assert [(a.props[t.ATTACH_LONG_FILENAME], a.props[t.ATTACH_DATA_BIN])
            for a in back.attachments] == [(a.props[t.ATTACH_LONG_FILENAME],
                                            a.props[t.ATTACH_DATA_BIN]) for a in msg.attachments]
