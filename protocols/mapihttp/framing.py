"""Framing of MAPI/HTTP responses (MS-OXCMAPIHTTP 2.2.2.2, 2.2.3.3, 2.2.7).

A processed request is answered with HTTP 200, ``Transfer-Encoding: chunked`` and a
body that starts with the ``PROCESSING`` meta-tag, repeats ``PENDING`` every
``X-PendingPeriod`` milliseconds while the server works (so proxies and the client
see the connection alive), then ``DONE`` followed by the additional headers
``X-ElapsedTime`` and ``X-StartTime``, an empty line, and the binary response body.
Requests refused before processing carry a non-zero ``X-ResponseCode`` and no body
structure.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from email.utils import formatdate

CONTENT_TYPE = "application/mapi-http"
PROCESSING = b"PROCESSING\r\n"
PENDING = b"PENDING\r\n"
DONE = b"DONE\r\n"
MAX_REQUEST_ID = 256
_ID = re.compile(r"^[\x21-\x7e]{1,256}$")


class ResponseCode(enum.IntEnum):
    """X-ResponseCode values (MS-OXCMAPIHTTP 2.2.3.3.3)."""

    SUCCESS = 0
    UNKNOWN_FAILURE = 1
    INVALID_VERB = 2
    INVALID_PATH = 3
    INVALID_HEADER = 4
    INVALID_REQUEST_TYPE = 5
    INVALID_CONTEXT_COOKIE = 6
    MISSING_HEADER = 7
    ANONYMOUS_NOT_ALLOWED = 8
    TOO_LARGE = 9
    CONTEXT_NOT_FOUND = 10
    NO_PRIVILEGE = 11
    INVALID_REQUEST_BODY = 12
    MISSING_COOKIE = 13
    RESERVED = 14
    INVALID_SEQUENCE = 15
    ENDPOINT_DISABLED = 16
    INVALID_RESPONSE = 17
    ENDPOINT_SHUTTING_DOWN = 18


class MapiHttpError(Exception):
    """A request refused with a non-zero X-ResponseCode."""

    def __init__(self, code: ResponseCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def valid_id(value: str | None) -> bool:
    """X-RequestId / X-ClientInfo: printable, bounded (we echo them back)."""
    return value is not None and bool(_ID.match(value))


def done_trailer(elapsed_ms: int, started: float) -> bytes:
    """DONE plus the additional headers of 2.2.2.2 and the blank line before the body."""
    return (DONE + f"X-ElapsedTime: {max(0, elapsed_ms)}\r\n".encode()
            + f"X-StartTime: {formatdate(started, usegmt=True)}\r\n\r\n".encode())


def error_page(code: ResponseCode, message: str) -> bytes:
    """The small body Exchange sends with a failure code (for people reading logs)."""
    text = message.replace("<", "&lt;").replace(">", "&gt;")
    return (f"<html><head><title>MAPI over HTTP error</title></head><body>"
            f"{int(code)} {code.name}: {text}</body></html>").encode()


@dataclass(frozen=True)
class ParsedBody:
    """A response body split by :func:`parse_response_body` (the client side)."""

    meta: tuple[str, ...]
    """Meta-tags in order, e.g. ("PROCESSING", "PENDING", "DONE")."""
    headers: dict[str, str]
    """The additional headers after DONE (X-ElapsedTime, X-StartTime)."""
    body: bytes


def parse_response_body(data: bytes) -> ParsedBody:
    """Split a de-chunked response body into meta-tags, trailing headers and payload."""
    meta: list[str] = []
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("response body ends inside its meta-tags")
        tag = data[pos:end].decode("ascii", "replace")
        pos = end + 2
        if tag not in ("PROCESSING", "PENDING", "DONE"):
            raise ValueError(f"unexpected meta-tag {tag!r}")
        meta.append(tag)
        if tag == "DONE":
            break
    headers: dict[str, str] = {}
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("response body ends inside its additional headers")
        line = data[pos:end].decode("latin-1")
        pos = end + 2
        if not line:
            break
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"malformed additional header {line!r}")
        headers[name.strip()] = value.strip()
    return ParsedBody(tuple(meta), headers, data[pos:])
