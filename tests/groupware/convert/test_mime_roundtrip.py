"""MIME -> MAPI -> MIME keeps what a client sees: CPython's email corpus and hard cases."""

from __future__ import annotations

import email.policy
import importlib.util
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groupware.convert import _tags as t
from groupware.convert.errors import ConversionError
from groupware.convert.mapi_to_mime import mapi_to_mime
from groupware.convert.mime_to_mapi import mime_to_mapi
from tests.groupware.convert.oracle import header_view, leaf_contents, parse


def _corpus_dir() -> Path:
    spec = importlib.util.find_spec("test.test_email")
    assert spec is not None and spec.origin, (
        "CPython's test.test_email package is missing: install the interpreter's test suite"
    )
    return Path(spec.origin).parent / "data"


CORPUS = sorted(_corpus_dir().glob("msg_*.txt"))


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 40


def assert_round_trip(original: bytes) -> bytes:
    regenerated = mapi_to_mime(mime_to_mapi(original))
    a, b = parse(original), parse(regenerated)
    headers_a, headers_b = header_view(a), header_view(b)
    for name, value in headers_a.items():
        assert headers_b.get(name) == value, name
    assert leaf_contents(a) == leaf_contents(b)
    return regenerated


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_round_trip(path: Path) -> None:
    original = path.read_bytes()
    regenerated = assert_round_trip(original)
    # Stable: the same model always gives the same bytes.
    model = mime_to_mapi(original)
    assert mapi_to_mime(model) == mapi_to_mime(model) == regenerated
    # Every generated line is CRLF-terminated and at most 998 octets (security
    # multiparts excepted: they are kept byte for byte as they came).
    if str(model.props[t.MESSAGE_CLASS]).startswith("IPM.Note.SMIME"):
        return
    for line in regenerated.split(b"\r\n"):
        assert b"\n" not in line and len(line) <= 998


# --- hard cases we build --------------------------------------------------------------


def _nested() -> bytes:
    inner = EmailMessage()
    inner["From"] = "Inner <inner@example.com>"
    inner["Subject"] = "inner"
    inner.set_content("inner body\n")
    inner.add_attachment(b"\x00\x01binary" * 50, maintype="application",
                         subtype="octet-stream", filename="inner.bin")
    outer = EmailMessage()
    outer["From"] = "=?utf-8?q?J=C3=BCrgen?= <juergen@xn--bcher-kva.example>"
    outer["To"] = "A <a@example.com>, \"Doe, John\" <john@example.com>"
    outer["Cc"] = "c@example.com"
    outer["Subject"] = "Ünïcödé subject that is long enough to be folded over more than one line"
    outer["Date"] = "Tue, 01 Apr 2025 12:34:56 +0200"
    outer["Message-ID"] = "<outer@example.com>"
    outer["X-Custom"] = "kept"
    outer.set_content("plain body\n")
    outer.add_alternative("<p>html body</p>\n", subtype="html")
    outer.get_payload()[1].add_related(b"GIF89a...", maintype="image", subtype="gif",
                                       cid="<img1@example.com>")
    outer.add_attachment(inner)
    outer.add_attachment("Grüße\n", filename="grüße.txt")
    return outer.as_bytes(policy=email.policy.SMTP)


BROKEN_CHARSET = (
    b"From: a@example.com\r\nSubject: =?x-bogus?q?caf=E9?=\r\n"
    b"Content-Type: text/plain; charset=no-such-charset\r\n\r\ncaf\xe9 cr\xe8me\r\n"
)
MISSING_CLOSE = (
    b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
    b"--zz\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--zz\r\n"
    b"Content-Type: application/pdf; name=x.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"JVBERi0xLjQK\r\n"
)
NO_BOUNDARY = (
    b"From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\nthe body\r\n"
)


@pytest.mark.parametrize("data", [_nested(), BROKEN_CHARSET, MISSING_CLOSE, NO_BOUNDARY],
                         ids=["nested", "broken-charset", "missing-close", "no-boundary"])
def test_hard_cases_round_trip(data: bytes) -> None:
    assert_round_trip(data)


def test_broken_charset_still_gives_text() -> None:
    msg = mime_to_mapi(BROKEN_CHARSET)
    assert msg.props[t.BODY] == "café crème\r\n"
    assert msg.props[t.SUBJECT] == "café"


def test_missing_closing_boundary_keeps_last_part() -> None:
    msg = mime_to_mapi(MISSING_CLOSE)
    assert msg.props[t.BODY] == "first"
    assert [a.props[t.ATTACH_DATA_BIN] for a in msg.attachments] == [b"%PDF-1.4\n"]


# --- hypothesis ---------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=80)
_leaf = st.one_of(
    st.builds(lambda s: ("text", s), _text),
    st.builds(lambda b, n: ("bin", b, n), st.binary(max_size=300),
              st.from_regex(r"[A-Za-z0-9 äö_-]{1,12}\.(bin|dat)", fullmatch=True)),
)
_tree = st.recursive(
    _leaf,
    lambda kids: st.builds(lambda k, s: ("multi", s, k), st.lists(kids, min_size=1, max_size=4),
                           st.sampled_from(["mixed", "alternative", "related", "parallel"])),
    max_leaves=8,
)


def _build(node: tuple[object, ...]) -> EmailMessage:
    part = EmailMessage()
    if node[0] == "text":
        part.set_content(str(node[1]) + "\n")
    elif node[0] == "bin":
        part.set_content(node[1], maintype="application", subtype="octet-stream",
                         filename=str(node[2]))
    else:
        part.make_mixed()
        part.set_type(f"multipart/{node[1]}")
        for child in node[2]:  # type: ignore[attr-defined]
            part.attach(_build(child))
    return part


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tree, _text)
def test_random_mime_trees_round_trip(tree: tuple[object, ...], subject: str) -> None:
    msg = _build(tree)
    msg["Subject"] = subject
    msg["From"] = "Sender <s@example.com>"
    data = msg.as_bytes(policy=email.policy.SMTP)
    assert_round_trip(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_message_or_a_clear_error(data: bytes) -> None:
    try:
        msg = mime_to_mapi(data)
    except ConversionError:
        return
    assert isinstance(msg.props[t.MESSAGE_CLASS], str)
    mapi_to_mime(msg)  # and whatever we read, we can write


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    b"--b\r\n", b"--b--\r\n", b"Content-Type: multipart/mixed; boundary=b\r\n", b"\r\n",
    b"Content-Type: message/rfc822\r\n", b"Content-Transfer-Encoding: base64\r\n",
    b"Subject: =?utf-8?b?w6k=?=\r\n", b"x\r\n", b"Content-Type: text/html; charset=utf-7\r\n",
]), max_size=40))
def test_structured_garbage(pieces: list[bytes]) -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"".join(pieces)
    msg = mime_to_mapi(data)
    again = mime_to_mapi(mapi_to_mime(msg))
    assert (again.props.get(t.BODY) or "") == (msg.props.get(t.BODY) or "")
    assert len(again.attachments) == len(msg.attachments)


def test_oversized_input_is_a_clear_error() -> None:
    from groupware.convert.mime_to_mapi import MimeOptions

    with pytest.raises(ConversionError):
        mime_to_mapi(b"x" * 1000, MimeOptions(max_size=100))
