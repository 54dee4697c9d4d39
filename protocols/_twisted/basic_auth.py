"""HTTP Basic authentication (RFC 7617) in front of the auth core.

Credentials are decoded as UTF-8 (RFC 7617 ``charset="UTF-8"``, what Outlook and phones
send), falling back to Latin-1 for old clients. Refusals are a 401 with a challenge and
no detail: the reason is in the auth core's log line, never in the response.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from twisted.web import server

from groupware.errors import AuthenticationFailed, FeatureDisabled, Throttled, Unavailable
from groupware.handlers.auth import AuthHandler, AuthResult
from groupware.types import Feature

MAX_HEADER = 8192
REALM = b'Basic realm="groupware", charset="UTF-8"'


def parse_basic(header: bytes | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic ...`` value, or None."""
    if not header or len(header) > MAX_HEADER:
        return None
    scheme, _, value = header.strip().partition(b" ")
    if scheme.lower() != b"basic" or not value:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, sep, password = text.partition(":")
    if not sep or not user:
        return None
    return user, password


def peer_of(request: server.Request) -> str:
    addr: Any = request.getClientAddress()
    return str(getattr(addr, "host", "?"))


async def authenticate(request: server.Request, auth: AuthHandler,
                       service: Feature) -> AuthResult | None:
    """Check the request's Basic credentials; on refusal write a 401/503 and return None.

    The caller must ``finish()`` the request when None is returned.
    """
    creds = parse_basic(request.getHeader(b"authorization"))
    if creds is None:
        _challenge(request)
        return None
    try:
        return await auth.authenticate(creds[0], creds[1], service=service,
                                       peer=peer_of(request))
    except (AuthenticationFailed, FeatureDisabled, Throttled):
        _challenge(request)
        return None
    except Unavailable:
        request.setResponseCode(503)
        request.setHeader(b"retry-after", b"30")
        return None


def _challenge(request: server.Request) -> None:
    request.setResponseCode(401)
    request.setHeader(b"www-authenticate", REALM)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.write(b"authentication required\n")
