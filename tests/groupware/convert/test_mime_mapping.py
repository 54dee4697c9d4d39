"""MS-OXCMAIL 2.2 mappings, one property family at a time, in both directions."""

from __future__ import annotations

import datetime as dt

from groupware.convert import _tags as t
from groupware.convert.entrylists import decode_one_offs
from groupware.convert.mapi_to_mime import mapi_to_mime
from groupware.convert.mime_to_mapi import MimeOptions, mime_to_mapi
from groupware.convert.model import Attachment, Message, NamedProp, Recipient
from groupware.mapi.entryids import OneOffEntryId
from groupware.mapi.proptypes import PropType
from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime

ENVELOPE = (
    b"Received: from x by y; Tue, 01 Apr 2025 10:00:05 +0000\r\n"
    b"From: =?iso-8859-1?q?Andr=E9?= <andre@xn--bcher-kva.example>\r\n"
    b"Sender: Assistant <assist@example.com>\r\n"
    b"Reply-To: \"Doe, Jane\" <jane@example.com>, list@example.org\r\n"
    b"To: Bob <bob@example.com>,\r\n carol@example.com\r\n"
    b"Cc: =?utf-8?b?w4XDpMO2?= <aao@example.com>\r\n"
    b"Bcc: secret@example.com\r\n"
    b"Subject: RE: =?utf-8?q?caf=C3=A9?= plans\r\n"
    b"Date: Tue, 01 Apr 2025 12:00:00 +0200\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"In-Reply-To: <m0@example.com>\r\n"
    b"References: <a@example.com>\r\n <m0@example.com>\r\n"
    b"Importance: High\r\n"
    b"Sensitivity: Company-Confidential\r\n"
    b"Priority: urgent\r\n"
    b"Disposition-Notification-To: andre@xn--bcher-kva.example\r\n"
    b"Keywords: Blue, =?utf-8?q?Gr=C3=BCn?=\r\n"
    b"X-Mailer: Test 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n"
)


def test_envelope_properties() -> None:
    msg = mime_to_mapi(ENVELOPE)
    p = msg.props
    assert p[t.SUBJECT] == "RE: café plans"
    assert p[t.SUBJECT_PREFIX] == "RE: "
    assert p[t.NORMALIZED_SUBJECT] == "café plans"
    assert p[t.SENT_REPRESENTING_NAME] == "André"
    assert p[t.SENT_REPRESENTING_SMTP_ADDRESS] == "andre@bücher.example"  # IDN decoded
    assert p[t.SENDER_SMTP_ADDRESS] == "assist@example.com"
    entry = OneOffEntryId.from_bytes(p[t.SENDER_ENTRYID])  # type: ignore[arg-type]
    assert (entry.display_name, entry.email_address) == ("Assistant", "assist@example.com")
    assert p[t.REPLY_RECIPIENT_NAMES] == "Doe, Jane; list@example.org"
    assert decode_one_offs(p[t.REPLY_RECIPIENT_ENTRIES]) == [  # type: ignore[arg-type]
        ("Doe, Jane", "jane@example.com"), ("", "list@example.org")]
    submit = filetime_to_datetime(p[t.CLIENT_SUBMIT_TIME])  # type: ignore[arg-type]
    assert submit == dt.datetime(2025, 4, 1, 10, 0, tzinfo=dt.UTC)
    delivered = filetime_to_datetime(p[t.MESSAGE_DELIVERY_TIME])  # type: ignore[arg-type]
    assert delivered == dt.datetime(2025, 4, 1, 10, 0, 5, tzinfo=dt.UTC)
    assert p[t.INTERNET_MESSAGE_ID] == "<m1@example.com>"
    assert p[t.IN_REPLY_TO_ID] == "<m0@example.com>"
    assert p[t.INTERNET_REFERENCES] == "<a@example.com> <m0@example.com>"
    assert (p[t.IMPORTANCE], p[t.SENSITIVITY], p[t.PRIORITY]) == (2, 3, 1)
    assert p[t.READ_RECEIPT_REQUESTED] is True
    assert p[t.KEYWORDS] == ("Blue", "Grün")
    assert p[NamedProp(t.PS_INTERNET_HEADERS, "x-mailer", PropType.STRING)] == "Test 1.0"
    rows = [(r.props[t.RECIPIENT_TYPE], r.props[t.DISPLAY_NAME], r.props[t.SMTP_ADDRESS])
            for r in msg.recipients]
    assert rows == [
        (t.MAPI_TO, "Bob", "bob@example.com"),
        (t.MAPI_TO, "carol@example.com", "carol@example.com"),
        (t.MAPI_CC, "Åäö", "aao@example.com"),
        (t.MAPI_BCC, "secret@example.com", "secret@example.com"),
    ]
    assert p[t.DISPLAY_TO] == "Bob; carol@example.com"
    assert p[t.BODY] == "Hello\r\n"
    assert p[t.INTERNET_CPID] == 65001


def test_envelope_written_back() -> None:
    out = mapi_to_mime(mime_to_mapi(ENVELOPE)).decode("ascii")
    assert "From: =?utf-8?b?QW5kcsOp?= <andre@xn--bcher-kva.example>\r\n" in out
    assert "Sender: Assistant <assist@example.com>\r\n" in out
    assert 'Reply-To: "Doe, Jane" <jane@example.com>, list@example.org\r\n' in out
    assert "Date: Tue, 01 Apr 2025 10:00:00 +0000\r\n" in out
    assert "Importance: high\r\nX-Priority: 1 (Highest)\r\n" in out
    assert "Sensitivity: Company-Confidential\r\n" in out
    assert "Keywords: Blue, =?utf-8?b?R3LDvG4=?=\r\n" in out
    assert "X-Mailer: Test 1.0\r\n" in out
    assert out.count("Received:") == 1


def test_delivery_time_option_wins() -> None:
    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    msg = mime_to_mapi(ENVELOPE, MimeOptions(delivery_time=when))
    assert msg.props[t.MESSAGE_DELIVERY_TIME] == datetime_to_filetime(when)


RELATED = (
    b"From: a@example.com\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
    b"--r\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n"
    b"<p>caf\xe9 <img src=\"cid:logo@x\"></p>\r\n"
    b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n"
)


def test_html_body_and_inline_image() -> None:
    msg = mime_to_mapi(RELATED)
    assert msg.props[t.HTML] == b'<p>caf\xe9 <img src="cid:logo@x"></p>'
    assert msg.props[t.INTERNET_CPID] == 28591
    assert msg.props[t.BODY] == "café"  # rendered for clients that need plain text
    (att,) = msg.attachments
    assert att.props[t.ATTACH_CONTENT_ID] == "logo@x"
    assert att.props[t.ATTACH_FLAGS] == t.ATT_MHTML_REF
    assert att.props[t.ATTACHMENT_HIDDEN] is True
    assert att.props[t.ATTACH_DATA_BIN] == b"\x89PNG\r\n\x1a\n"
    assert msg.props[t.HASATTACH] is False
    out = mapi_to_mime(msg)
    assert b"multipart/related" in out and b"Content-ID: <logo@x>" in out
    assert b"text/plain" not in out  # the rendered text is not written as an alternative


def test_embedded_message_and_attachment_names() -> None:
    data = (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
        b"--m\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--m\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\r\n\r\n%PDF\r\n"
        b"--m\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: b@example.com\r\nSubject: inner\r\n\r\ninner text\r\n--m--\r\n"
    )
    msg = mime_to_mapi(data)
    pdf, inner = msg.attachments
    assert pdf.props[t.ATTACH_LONG_FILENAME] == "Résumé.pdf"
    assert pdf.props[t.ATTACH_FILENAME] == "RSUM.PDF"
    assert pdf.props[t.ATTACH_EXTENSION] == ".pdf"
    assert inner.props[t.ATTACH_METHOD] == t.AFEMBEDDEDMESSAGE
    assert inner.embedded is not None
    assert inner.embedded.props[t.SUBJECT] == "inner"
    assert inner.embedded.props[t.BODY] == "inner text"
    again = mime_to_mapi(mapi_to_mime(msg))
    assert again.attachments[0].props[t.ATTACH_LONG_FILENAME] == "Résumé.pdf"
    assert again.attachments[1].embedded is not None
    assert again.attachments[1].embedded.props[t.BODY] == "inner text"


SIGNED = (
    b"From: a@example.com\r\nSubject: signed\r\n"
    b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
    b" micalg=sha-256; boundary=s\r\n\r\n"
    b"--s\r\nContent-Type: text/plain\r\n\r\nsigned text  \r\n"
    b"--s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIA=\r\n--s--\r\n"
)


def test_smime_is_kept_byte_exact() -> None:
    msg = mime_to_mapi(SIGNED)
    assert msg.props[t.MESSAGE_CLASS] == "IPM.Note.SMIME.MultipartSigned"
    assert msg.props[t.BODY] == "signed text  "  # for previews
    (blob,) = msg.attachments
    assert blob.props[t.ATTACH_MIME_TAG] == "multipart/signed"
    out = mapi_to_mime(msg)
    signed_body = SIGNED[SIGNED.index(b"\r\n\r\n") + 4 :]
    assert out.endswith(signed_body)
    assert b"Subject: signed\r\n" in out


def test_opaque_smime_and_reports() -> None:
    opaque = (b"From: a@example.com\r\nContent-Type: application/pkcs7-mime; "
              b"smime-type=enveloped-data; name=smime.p7m\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqG\r\n")
    msg = mime_to_mapi(opaque)
    assert msg.props[t.MESSAGE_CLASS] == "IPM.Note.SMIME"
    assert mapi_to_mime(msg).endswith(b"smime-type=enveloped-data; name=smime.p7m\r\n"
                                      b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqG\r\n")
    ndr = (b"From: MAILER-DAEMON@example.com\r\nContent-Type: multipart/report; "
           b"report-type=delivery-status; boundary=b\r\n\r\n--b\r\n\r\nfailed\r\n--b\r\n"
           b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
           b"Action: failed\r\nStatus: 5.1.1\r\n--b--\r\n")
    assert mime_to_mapi(ndr).props[t.MESSAGE_CLASS] == "REPORT.IPM.Note.NDR"


def test_flowed_text_is_joined() -> None:
    data = (b"Content-Type: text/plain; format=flowed; charset=utf-8\r\n\r\n"
            b"one two \r\nthree\r\n>quoted\r\n")
    assert mime_to_mapi(data).props[t.BODY] == "one two three\r\n>quoted\r\n"


def test_outlook_created_message_to_mime() -> None:
    """A message made through MAPI (no original headers) gets complete MIME."""
    msg = Message(
        props={
            t.MESSAGE_CLASS: "IPM.Note",
            t.SUBJECT: "Grüße",
            t.SENT_REPRESENTING_NAME: "Alice",
            t.SENT_REPRESENTING_SMTP_ADDRESS: "alice@example.com",
            t.CLIENT_SUBMIT_TIME: datetime_to_filetime(dt.datetime(2025, 5, 1, tzinfo=dt.UTC)),
            t.BODY: "Line one\nLine two with ünïcode",
            t.INTERNET_CPID: 1252,
        },
        recipients=[Recipient({t.RECIPIENT_TYPE: t.MAPI_TO, t.DISPLAY_NAME: "Bob",
                               t.EMAIL_ADDRESS: "bob@example.com", t.ADDRTYPE: "SMTP"})],
        attachments=[Attachment({t.ATTACH_METHOD: t.AFBYVALUE, t.ATTACH_LONG_FILENAME: "a.bin",
                                 t.ATTACH_DATA_BIN: bytes(range(256)) * 4})],
    )
    out = mapi_to_mime(msg)
    assert out == mapi_to_mime(msg)
    assert b"Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\n" in out
    assert b"Content-Type: text/plain; charset=windows-1252\r\n" in out
    back = mime_to_mapi(out)
    assert back.props[t.BODY] == "Line one\r\nLine two with ünïcode"
    assert back.attachments[0].props[t.ATTACH_DATA_BIN] == bytes(range(256)) * 4
    assert back.recipients[0].props[t.DISPLAY_NAME] == "Bob"


def test_rtf_only_message_gets_a_text_body() -> None:
    from groupware.convert.rtf import compress, text_to_rtf

    msg = Message({t.MESSAGE_CLASS: "IPM.Note", t.SUBJECT: "rtf",
                   t.RTF_COMPRESSED: compress(text_to_rtf("from Outlook\nrich text"))})
    back = mime_to_mapi(mapi_to_mime(msg))
    assert back.props[t.BODY] == "from Outlook\r\nrich text"
