"""Modified UTF-7 (RFC 3501 5.1.3) and the UTF-8 mode of RFC 6855."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.imap.mutf7 import (
    MailboxNameError,
    decode_mailbox_name,
    decode_mutf7,
    encode_mailbox_name,
    encode_mutf7,
)

# RFC 3501 5.1.3's example, plus the escapes every client relies on.
EXAMPLES = [
    ("~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("&", b"&-"),
    ("Entw\u00fcrfe", b"Entw&APw-rfe"),
    ("A&B", b"A&-B"),
    ("\U0001f600", b"&2D3eAA-"),
    ("", b""),
]


@pytest.mark.parametrize(("text", "wire"), EXAMPLES)
def test_rfc_examples_both_ways(text: str, wire: bytes) -> None:
    assert encode_mutf7(text) == wire
    assert decode_mutf7(wire) == text


@pytest.mark.parametrize(
    "wire",
    [
        b"&U,BTFw",  # unterminated
        b"&AGE-",  # encodes printable "a"
        b"&U/BTFw-",  # "/" is not the modified alphabet
        b"caf\xc3\xa9",  # 8-bit is never mUTF-7
        b"&2D0-",  # lone high surrogate
        b"&U,BTF3-",  # non-zero padding bits
        b"&A-",  # truncated base64
    ],
)
def test_invalid_sequences_are_refused(wire: bytes) -> None:
    with pytest.raises(MailboxNameError):
        decode_mutf7(wire)


def test_utf8_mode_passes_utf8_and_keeps_ampersand() -> None:
    assert encode_mailbox_name("Entw\u00fcrfe & Co", utf8=True) == "Entw\u00fcrfe & Co".encode()
    assert decode_mailbox_name(b"&U,BTFw-", utf8=True) == "&U,BTFw-"
    assert decode_mailbox_name(b"&U,BTFw-", utf8=False) == "\u53f0\u5317"


def test_raw_utf8_accepted_without_utf8_mode_but_not_invalid_bytes() -> None:
    assert decode_mailbox_name("Entw\u00fcrfe".encode(), utf8=False) == "Entw\u00fcrfe"
    with pytest.raises(MailboxNameError):
        decode_mailbox_name(b"\xff\xfe", utf8=False)
    with pytest.raises(MailboxNameError):
        decode_mailbox_name(b"a\x01b", utf8=True)


_names = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(_names)
def test_round_trip(name: str) -> None:
    wire = encode_mutf7(name)
    assert all(0x20 <= b < 0x7F for b in wire)
    assert decode_mutf7(wire) == name


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_garbage_decodes_or_raises_the_codec_error(data: bytes) -> None:
    try:
        text = decode_mutf7(data)
    except MailboxNameError:
        return
    # whatever decodes must be the canonical encoding of its result
    assert encode_mutf7(text) == data
