"""TNEF (MS-OXTNEF) and compressed RTF (MS-OXRTFCP) bodies."""

from __future__ import annotations

import base64
import contextlib
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.convert import _tags as t
from groupware.convert.errors import ConversionError
from groupware.convert.mime_to_mapi import MimeOptions, mime_to_mapi
from groupware.convert.model import NamedProp
from groupware.convert.rtf import compress, decompress, rtf_to_text, text_to_rtf
from groupware.convert.tnef import decode_tnef
from groupware.mapi.proptypes import PropType
from tests.groupware.convert import tnef_writer as w

RTF = compress(text_to_rtf("Rich body\nline two"))


def _winmail() -> bytes:
    inner = w.stream(w.attribute(1, 0x00069003, w.props(w.prop_string(0x0037, "Inner"))))
    message_props = w.props(
        w.prop_string(0x0037, "TNEF subject"),
        w.prop_string8(0x001A, "IPM.Note"),
        w.prop_int(0x0017, 2),
        w.prop_binary(0x1009, RTF),
        w.prop_named_string(uuid.UUID("00020329-0000-0000-c000-000000000046"), "x-custom",
                            0x8001, "named value"),
    )
    return w.stream(
        w.attribute(1, 0x00089006, b"\x00\x00\x01\x00"),
        w.attribute(1, 0x00069007, b"\xe4\x04\x00\x00\x00\x00\x00\x00"),
        w.attribute(1, 0x00078008, b"IPM.Microsoft Mail.Note\x00"),
        w.attribute(1, 0x00069003, message_props),
        w.attribute(2, 0x00069002, b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 8),
        w.attribute(2, 0x00018010, b"report.pdf\x00"),
        w.attribute(2, 0x0006800F, b"%PDF-1.4 data"),
        w.attribute(2, 0x00069005, w.props(w.prop_string(0x3707, "Quarterly report.pdf"),
                                           w.prop_string(0x370E, "application/pdf"))),
        w.attribute(2, 0x00069002, b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 8),
        w.attribute(2, 0x00069005, w.props(w.prop_object_message(0x3701, inner),
                                           w.prop_int(0x3705, 5))),
    )


def test_tnef_stream_decodes() -> None:
    msg = decode_tnef(_winmail())
    p = msg.props
    assert (p[t.SUBJECT], p[t.MESSAGE_CLASS], p[t.IMPORTANCE]) == ("TNEF subject", "IPM.Note", 2)
    assert p[NamedProp(t.PS_PUBLIC_STRINGS, "x-custom", PropType.STRING)] == "named value"
    pdf, embedded = msg.attachments
    assert pdf.props[t.ATTACH_LONG_FILENAME] == "Quarterly report.pdf"
    assert pdf.props[t.ATTACH_FILENAME] == "report.pdf"
    assert pdf.props[t.ATTACH_DATA_BIN] == b"%PDF-1.4 data"
    assert embedded.embedded is not None
    assert embedded.props[t.ATTACH_METHOD] == t.AFEMBEDDEDMESSAGE
    assert embedded.embedded.props[t.SUBJECT] == "Inner"


def test_winmail_dat_in_mime_is_merged() -> None:
    encoded = base64.encodebytes(_winmail())
    mail = (b"From: a@example.com\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=b"
            b"\r\n\r\n--b\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--b--\r\n")
    msg = mime_to_mapi(mail)
    assert msg.props[t.SUBJECT] == "TNEF subject"
    assert msg.props[t.BODY] == "Rich body\r\nline two"  # recovered from the RTF
    assert msg.attachments[0].props.get(t.ATTACH_LONG_FILENAME) == "Quarterly report.pdf"
    plain = mime_to_mapi(mail, MimeOptions(decode_tnef=False))
    assert plain.props[t.SUBJECT] == "outer"


def test_spec_rtf_example_decompresses() -> None:
    # MS-OXRTFCP 4.1.1: compressing "{\rtf1\ansi\ansicpg1252\pard hello world}" CRLF
    spec = bytes.fromhex("2d0000002b0000004c5a4675f1c5c7a703000a007263706731323542320af320"
                         "68656c090020627705b06c647d0a800fa0")
    assert decompress(spec) == b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
    assert compress(decompress(spec)) == spec


@pytest.mark.parametrize("text", ["plain", "tabs\tand {braces} \\ back", "Ünïcödé 😀\nline"])
def test_text_rtf_round_trip(text: str) -> None:
    rtf = text_to_rtf(text)
    assert rtf.startswith(b"{\\rtf1") and b"\\fromtext" in rtf
    assert rtf_to_text(decompress(compress(rtf))) == (text, False)


def test_html_is_recovered_from_fromhtml_rtf() -> None:
    rtf = (b"{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}"
           b"{\\*\\htmltag64 <html>}{\\*\\htmltag <body>}\\htmlrtf {\\htmlrtf0 Hi \\'e9"
           b"\\htmlrtf }\\htmlrtf0 {\\*\\htmltag </body>}}")
    assert rtf_to_text(rtf) == ("<html><body>Hi é</body>", True)


def test_mime_to_mapi_can_add_rtf() -> None:
    msg = mime_to_mapi(b"Content-Type: text/plain\r\n\r\nhello\r\n", MimeOptions(rtf=True))
    assert rtf_to_text(decompress(msg.props[t.RTF_COMPRESSED]))[0] == "hello\n"  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_tnef_and_rtf(data: bytes) -> None:
    with contextlib.suppress(ConversionError):
        decode_tnef(w.stream() + data)
    with contextlib.suppress(ConversionError):
        decompress(data)
    rtf_to_text(data)
