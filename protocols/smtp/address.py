"""RFC 5321 section 4.1.2 paths and ESMTP parameters, RFC 3461 xtext, RFC 6531 UTF-8.

Parsing is strict about what could be dangerous (control characters, NUL, overlong
paths) and lenient about what real clients get wrong (a space after ``FROM:``, a
missing pair of angle brackets around a plain address).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LOCAL_PART = 64
MAX_DOMAIN = 255
MAX_PATH = 256

_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_DOT_STRING = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_DOT_STRING_UTF8 = re.compile(rf"(?:[{_ATEXT}]|[^\x00-\x7f])+(?:\.(?:[{_ATEXT}]|[^\x00-\x7f])+)*")
_QUOTED = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"')
_QUOTED_UTF8 = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|[^\x00-\x7f]|\\[\x20-\x7e])*"')
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_LD_UTF8 = r"(?:[A-Za-z0-9]|[^\x00-\x7f])"
_LABEL_UTF8 = rf"{_LD_UTF8}(?:(?:[A-Za-z0-9-]|[^\x00-\x7f])*{_LD_UTF8})?"
_DOMAIN_UTF8 = re.compile(rf"{_LABEL_UTF8}(?:\.{_LABEL_UTF8})*")
_ADDRESS_LITERAL = re.compile(r"\[(?:[0-9.]{7,15}|IPv6:[0-9A-Fa-f:.]{2,45})\]")
_ESMTP_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_ESMTP_VALUE = re.compile(r"[\x21-\x3c\x3e-\x7e]+")
_ESMTP_VALUE_UTF8 = re.compile(r"(?:[\x21-\x3c\x3e-\x7e]|[^\x00-\x7f])+")


class PathError(ValueError):
    """A path or parameter that cannot be accepted; ``status`` is the enhanced code."""

    def __init__(self, message: str, status: str = "5.1.3", code: int = 501) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Path:
    """A parsed path: ``address`` is "" for the null reverse-path ``<>``."""

    address: str
    local_part: str = ""
    domain: str = ""

    @property
    def is_null(self) -> bool:
        return not self.address

    @property
    def is_ascii(self) -> bool:
        return self.address.isascii()


def split_arg(arg: str, keyword: str) -> tuple[str, str]:
    """``FROM:<a@b> SIZE=10`` -> (``<a@b>``, ``SIZE=10``); keyword is FROM or TO."""
    head = arg[: len(keyword) + 1]
    if head.upper() != keyword + ":":
        raise PathError(f"Syntax: {keyword}:<address>", "5.5.4", 501)
    rest = arg[len(keyword) + 1:].lstrip(" ")
    if rest.startswith("<"):
        end = _closing_bracket(rest)
        if end < 0:
            raise PathError("Missing '>' in path", "5.5.4", 501)
        return rest[: end + 1], rest[end + 1:].strip(" ")
    path, _, params = rest.partition(" ")
    return path, params.strip(" ")


def _closing_bracket(text: str) -> int:
    """Index of the ``>`` closing the path, skipping quoted strings of the local part."""
    quoted = False
    i = 1
    while i < len(text):
        ch = text[i]
        if quoted and ch == "\\":
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == ">" and not quoted:
            return i
        i += 1
    return -1


def parse_path(raw: str, *, allow_null: bool, utf8: bool,
               postmaster_domain: str | None = None) -> Path:
    """Parse ``<local@domain>`` (brackets optional); source routes are dropped."""
    text = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
    if len(text) > MAX_PATH:
        raise PathError("Path too long", "5.1.3" if not allow_null else "5.1.7", 501)
    if not text:
        if allow_null:
            return Path("")
        raise PathError("Empty path not allowed here", "5.1.3", 501)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise PathError("Control characters in path", "5.1.3", 501)
    if text.startswith("@"):  # A-d-l: "@relay1,@relay2:user@domain" (RFC 5321 C)
        _, sep, text = text.partition(":")
        if not sep:
            raise PathError("Bad source route", "5.1.3", 501)
    if "@" not in text:
        if postmaster_domain is not None and text.lower() == "postmaster":
            return Path(f"postmaster@{postmaster_domain}", "postmaster", postmaster_domain)
        raise PathError("Address needs a domain", "5.1.3", 501)
    local, _, domain = text.rpartition("@")
    if not local or len(local) > MAX_LOCAL_PART:
        raise PathError("Bad local part", "5.1.3", 501)
    if len(domain) > MAX_DOMAIN:
        raise PathError("Domain too long", "5.1.2", 501)
    if not text.isascii() and not utf8:
        raise PathError("Non-ASCII address needs SMTPUTF8", "5.6.7", 553)
    dot, quoted = (_DOT_STRING_UTF8, _QUOTED_UTF8) if utf8 else (_DOT_STRING, _QUOTED)
    if not (dot.fullmatch(local) or quoted.fullmatch(local)):
        raise PathError("Bad local part", "5.1.3", 501)
    dom = _DOMAIN_UTF8 if utf8 else _DOMAIN
    if not (dom.fullmatch(domain) or _ADDRESS_LITERAL.fullmatch(domain)):
        raise PathError("Bad domain", "5.1.2", 501)
    return Path(f"{local}@{domain}", local, domain)


def parse_params(text: str, *, utf8: bool = True) -> dict[str, str | None]:
    """``SIZE=10 BODY=8BITMIME SMTPUTF8`` -> ``{"SIZE": "10", ...}`` (keys upper-cased)."""
    out: dict[str, str | None] = {}
    value_re = _ESMTP_VALUE_UTF8 if utf8 else _ESMTP_VALUE
    for item in text.split():
        key, eq, value = item.partition("=")
        if not _ESMTP_KEY.fullmatch(key) or (eq and not value_re.fullmatch(value)):
            raise PathError(f"Bad parameter {item[:40]!r}", "5.5.4", 501)
        name = key.upper()
        if name in out:
            raise PathError(f"Duplicate parameter {name}", "5.5.4", 501)
        out[name] = value if eq else None
    return out


def xtext_decode(value: str) -> str:
    """RFC 3461 4: ``+XX`` hex escapes; raises PathError on a malformed escape."""
    out = bytearray()
    i = 0
    raw = value.encode("utf-8")
    while i < len(raw):
        b = raw[i]
        if b == 0x2B:  # '+'
            hexpart = raw[i + 1:i + 3]
            if len(hexpart) != 2 or not re.fullmatch(rb"[0-9A-F]{2}", hexpart):
                raise PathError("Bad xtext", "5.5.4", 501)
            out.append(int(hexpart, 16))
            i += 3
        else:
            out.append(b)
            i += 1
    return out.decode("utf-8", errors="replace")


def xtext_encode(value: str) -> str:
    """The inverse of :func:`xtext_decode` (for passing DSN parameters on)."""
    out = []
    for b in value.encode("utf-8"):
        if 33 <= b <= 126 and b not in (0x2B, 0x3D):
            out.append(chr(b))
        else:
            out.append(f"+{b:02X}")
    return "".join(out)
