"""vCard 3/4 <-> contacts (MS-OXVCARD, MS-OXOCNTC)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.convert import _tags as t
from groupware.convert.errors import ConversionError
from groupware.convert.model import Message
from groupware.convert.vcard import message_to_vcard, vcard_to_messages

CARD = (
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Dr. Jane Q. Doe\r\nN:Doe;Jane;Q.;Dr.;\r\n"
    b"ORG:Example Corp;R&D\r\nTITLE:Engineer\r\nTEL;TYPE=WORK,VOICE:+1 555 0100\r\n"
    b"TEL;TYPE=CELL:+1 555 0101\r\nTEL;TYPE=HOME,FAX:+1 555 0102\r\n"
    b"EMAIL;TYPE=INTERNET,PREF:jane@example.com\r\nEMAIL;TYPE=INTERNET:jd@home.example\r\n"
    b"EMAIL:third@example.org\r\nEMAIL:fourth@example.org\r\n"
    b"ADR;TYPE=WORK:;;1 Main St;Springfield;IL;62701;USA\r\n"
    b"ADR;TYPE=HOME:PO 7;;2 Elm\\, Apt 3;Shelbyville;;;USA\r\nBDAY:1980-02-29\r\n"
    b"NOTE:Likes tea\\, not coffee\\nSecond line\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\n"
    b"CATEGORIES:Friends,Work\r\nUID:urn:uuid:1234\r\nEND:VCARD\r\n"
)


def test_vcard3_to_contact() -> None:
    (msg,) = vcard_to_messages(CARD)
    p = msg.props
    assert p[t.MESSAGE_CLASS] == "IPM.Contact"
    assert (p[t.SURNAME], p[t.GIVEN_NAME], p[t.MIDDLE_NAME], p[t.DISPLAY_NAME_PREFIX]) == (
        "Doe", "Jane", "Q.", "Dr.")
    assert (p[t.COMPANY_NAME], p[t.DEPARTMENT_NAME], p[t.JOB_TITLE]) == (
        "Example Corp", "R&D", "Engineer")
    assert (p[t.BUSINESS_TELEPHONE], p[t.MOBILE_TELEPHONE], p[t.HOME_FAX]) == (
        "+1 555 0100", "+1 555 0101", "+1 555 0102")
    assert [p[e[2]] for e in t.EMAILS] == ["jane@example.com", "jd@home.example",
                                           "third@example.org"]  # e-mail 1-3 only
    assert [p.get(k) for k in t.WORK_ADDRESS] == [None, "1 Main St", "Springfield", "IL",
                                                  "62701", "USA"]
    assert p[t.HOME_ADDRESS[0]] == "PO 7" and p[t.HOME_ADDRESS[1]] == "2 Elm, Apt 3"
    assert p[t.BODY] == "Likes tea, not coffee\r\nSecond line"
    assert p[t.KEYWORDS] == ("Friends", "Work")
    assert p[t.FILE_UNDER] == "Doe, Jane"
    (photo,) = msg.attachments
    assert photo.props[t.ATTACHMENT_CONTACT_PHOTO] is True
    assert photo.props[t.ATTACH_DATA_BIN] == b"\xff\xd8\xff\xe0\x00\x10"
    assert p[t.HAS_PICTURE] is True


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_contact_round_trip(version: str) -> None:
    (msg,) = vcard_to_messages(CARD)
    text = message_to_vcard(msg, version)
    assert text == message_to_vcard(msg, version)
    assert f"VERSION:{version}".encode() in text
    (again,) = vcard_to_messages(text)
    assert again.props == msg.props
    assert again.attachments[0].props[t.ATTACH_DATA_BIN] == msg.attachments[0].props[
        t.ATTACH_DATA_BIN]


def test_vcard21_quoted_printable_and_bare_types() -> None:
    card = (b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:"
            b"M=FCller;J=\r\n=FCrgen\r\nTEL;WORK;VOICE:123\r\nEND:VCARD\r\n")
    (msg,) = vcard_to_messages(card)
    assert (msg.props[t.SURNAME], msg.props[t.GIVEN_NAME]) == ("Müller", "Jürgen")
    assert msg.props[t.BUSINESS_TELEPHONE] == "123"


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    t.SURNAME: _text.filter(bool), t.GIVEN_NAME: _text.filter(bool),
    t.COMPANY_NAME: _text.filter(bool), t.JOB_TITLE: _text.filter(bool),
    t.MOBILE_TELEPHONE: _text.filter(bool), t.HOME_ADDRESS[2]: _text.filter(bool),
    t.BODY: _text.filter(bool), t.NICKNAME: _text.filter(lambda s: bool(s) and "," not in s),
}), st.sampled_from(["3.0", "4.0"]))
def test_random_contacts_survive(props: dict[object, str], version: str) -> None:
    msg = Message({t.MESSAGE_CLASS: "IPM.Contact", t.DISPLAY_NAME: "X", **props})  # type: ignore[dict-item]
    (again,) = vcard_to_messages(message_to_vcard(msg, version))
    for key, value in props.items():
        expected = value.replace("\r\n", "\n").replace("\r", "\n")
        got = str(again.props[key]).replace("\r\n", "\n")  # type: ignore[index]
        assert got == expected, key


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_is_a_clear_error(data: bytes) -> None:
    with contextlib.suppress(ConversionError):
        vcard_to_messages(b"BEGIN:VCARD\r\n" + data + b"\r\nEND:VCARD\r\n")
    with contextlib.suppress(ConversionError):
        vcard_to_messages(data)


def test_escaped_backslash_before_separator_ends_the_component() -> None:
    # Found by hypothesis: "\\\\;" is an escaped backslash, then a real separator.
    from groupware.convert.vcard import _split

    assert _split("a\\\\;b\\;c;d", ";") == ["a\\", "b;c", "d"]
    assert _split("\\\\", ";") == ["\\"]
