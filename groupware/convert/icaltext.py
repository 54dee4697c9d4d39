"""Writing iCalendar/vCard content lines (RFC 5545 3.1, RFC 6350 3.2): escaping and folding.

Written by hand rather than through a library so output is deterministic byte for
byte: property order is the caller's, lines fold at 75 octets without splitting a
UTF-8 sequence, line ends are CRLF.
"""

from __future__ import annotations

import datetime as dt


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def param(value: str) -> str:
    """A parameter value, quoted when it holds ``:;,`` (RFC 5545 3.2)."""
    value = value.replace('"', "'").replace("\r", " ").replace("\n", " ")
    return f'"{value}"' if any(c in value for c in ":;,") else value


def fold(line: str) -> bytes:
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return raw + b"\r\n"
    out = bytearray()
    limit = 75
    while raw:
        cut = min(limit, len(raw))
        while cut < len(raw) and (raw[cut] & 0xC0) == 0x80:  # not inside a UTF-8 sequence
            cut -= 1
        out += raw[:cut] + b"\r\n"
        raw = raw[cut:]
        if raw:
            out += b" "
        limit = 74
    return bytes(out)


def utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def local(when: dt.datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%S")


def date(when: dt.date) -> str:
    return when.strftime("%Y%m%d")


def render(lines: list[str]) -> bytes:
    return b"".join(fold(line) for line in lines)
