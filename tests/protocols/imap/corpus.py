"""Varied test messages: CPython's email test corpus when installed, plus built ones."""

from __future__ import annotations

import importlib.util
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path


def cpython_corpus() -> list[tuple[str, bytes]]:
    """``Lib/test/test_email/data/msg_*.txt`` of this interpreter, CRLF-normalised."""
    spec = importlib.util.find_spec("test")
    if spec is None or spec.origin is None:
        return []
    data = Path(spec.origin).parent / "test_email" / "data"
    return [
        (path.name, _crlf(path.read_bytes())) for path in sorted(data.glob("msg_*.txt"))
    ]


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def built_corpus() -> list[tuple[str, bytes]]:
    """Messages built with the email package and by hand to cover the awkward cases."""
    out: list[tuple[str, bytes]] = []

    plain = EmailMessage()
    plain["From"] = "J\u00f6rg M\u00fcller <joerg@example.org>"
    plain["To"] = "a@example.com, \"B, Person\" <b@example.com>"
    plain["Cc"] = "Team: c@example.com, d@example.com;"
    plain["Subject"] = "Gr\u00fc\u00dfe aus K\u00f6ln \u2013 a rather long subject that will fold"
    plain["Message-ID"] = "<built-1@example.org>"
    plain["Date"] = "Mon, 01 Jan 2024 10:00:00 +0100"
    plain.set_content("Hallo\nWelt\n\u00e4\u00f6\u00fc\n")
    out.append(("built-plain", plain.as_bytes(policy=SMTP)))

    mixed = EmailMessage()
    mixed["From"] = "sender@example.org"
    mixed["To"] = "undisclosed-recipients:;"
    mixed["Subject"] = "attachments"
    mixed.set_content("see attached")
    mixed.add_alternative("<p>see attached</p>", subtype="html")
    mixed.add_attachment(b"\x00\x01\x02" * 50, maintype="application", subtype="octet-stream",
                         filename="data.bin")
    mixed.add_attachment("r\u00e9sum\u00e9", filename="r\u00e9sum\u00e9.txt")
    inner = EmailMessage()
    inner["From"] = "inner@example.org"
    inner["Subject"] = "forwarded"
    inner.set_content("inner body\n")
    inner.add_attachment(b"PNG", maintype="image", subtype="png", filename="x.png")
    mixed.add_attachment(inner)
    out.append(("built-mixed", mixed.as_bytes(policy=SMTP)))

    out.extend(
        [
            ("missing-close", b"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
             b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\n"
             b"Content-Type: text/html\r\n\r\n<p>x</p>\r\n"),
            ("no-boundary", b"Subject: =?utf-8?q?caf=C3=A9?=\r\nFrom: =?utf-8?q?J=C3=B6rg?= <j@x>"
             b"\r\nContent-Type: multipart/mixed\r\n\r\nno boundary here\r\n"),
            ("only-close", b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
             b"preamble\r\n--XX--\r\nepilogue\r\n"),
            ("prefix-boundaries", b"Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\n"
             b"Content-Type: multipart/mixed; boundary=abcdef\r\n\r\n--abcdef\r\n\r\ninner\r\n"
             b"--abc\r\n\r\nouter2\r\n--abc--\r\n"),
            ("header-oddities", b"Subject: a\tb  c\r\n\tfolded\r\n  twice\r\n"
             b"From: \"Q\\\"x\" <\"odd local\"@Example.COM>, <@route1,@route2:u@h>\r\n"
             b"To: undisclosed-recipients:;\r\nCc: Group: a@b, c@d;, e@f\r\n"
             b"Bcc: a@b,,c@d\r\nMessage-ID:   <x@y>   \r\n"
             b"Content-Type: TEXT/PLAIN; CHARSET=UTF-8; Format=Flowed\r\n"
             b"Content-Language: en, de\r\nContent-Disposition: INLINE; FILENAME=\"x y\"\r\n"
             b"Content-Location: http://x/y\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
             b"Content-ID: <id@x>\r\n\r\nbody\r\n"),
            ("rfc2231", b"MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n\tcharset=\"utf-8\";"
             b"\r\n\tname*0*=utf-8''a%20b;\r\n\tname*1=c\r\n"
             b"Content-Disposition: attachment; filename*=utf-8''x%20y\r\n\r\nhi\r\n"),
            ("digest-and-base64-rfc822", b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
             b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             b"U3ViamVjdDogeA0KDQp5DQo=\r\n--x\r\n"
             b"Content-Type: multipart/digest; boundary=y\r\n\r\n--y\r\n\r\n"
             b"Subject: in digest\r\n\r\ndigest body\r\n--y\r\nContent-Type: text/plain\r\n\r\n"
             b"plain in digest\r\n--y--\r\n--x--\r\n"),
            ("no-body", b"Subject: no body"),
            ("blank-first", b"\r\nbody only\r\n"),
            ("eight-bit-header", b"From: x@y\r\nSubject: 8bit \xc3\xa9t\xc3\xa9\r\n\r\nz"),
            ("type-without-subtype", b"Content-Type: text\r\n\r\nz"),
            ("duplicates", b"Subject: first\r\nSubject: second\r\nFrom: a@b\r\nFrom: c@d\r\n"
             b"Content-Type: text/plain; charset=x\r\nContent-Type: text/html\r\n"
             b"Content-Description: one\r\nContent-Description: two\r\n\r\nx"),
        ]
    )
    return out
