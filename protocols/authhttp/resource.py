"""The auth_http endpoint: Prosody mod_auth_http's API over the groupware's auth core.

``GET /check_password?user=U&pass=P&server=S`` answers 200 ``true`` or 200 ``false``;
``GET /user_exists?user=U&server=S`` the same. Prosody sends the shared secret as HTTP
Basic credentials (``http_auth_credentials = "prosody:SECRET"``); any user name is
accepted, the password must equal ``[auth] http_secret``, compared in constant time.
No secret configured means every request is refused (fail closed). Account changes
(``register``, ``set_password``, ``remove_user``) are refused with 403: accounts are
managed by the groupware. A directory failure answers 503, never ``true``.

The listener is bound to loopback by default; this module knows nothing of the
directory: it calls an :class:`AuthChecker` the server builds.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.web import resource, server

logger = logging.getLogger(__name__)

MAX_PARAM = 1024


class AuthChecker(Protocol):
    """What the endpoint needs from the auth core (groupware.handlers.authhttp)."""

    async def check_password(self, user: str, server: str, password: str,
                             peer: str | None) -> bool: ...

    async def user_exists(self, user: str, server: str) -> bool: ...


class Unavailable(Exception):
    """Raised by a checker when it cannot tell (the endpoint answers 503)."""


class AuthHttpResource(resource.Resource):
    isLeaf = True

    def __init__(self, checker: AuthChecker, secret: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._checker = checker
        self._secret = secret.encode()

    def _authorised(self, request: server.Request) -> bool:
        if not self._secret:
            return False
        header = request.getHeader(b"authorization") or b""
        scheme, _, value = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            return False
        _user, _, password = decoded.partition(b":")
        return hmac.compare_digest(password, self._secret)

    def render(self, request: server.Request) -> int | bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if not self._authorised(request):
            request.setResponseCode(401)
            request.setHeader(b"www-authenticate", b'Basic realm="groupware-auth"')
            logger.warning("auth_http: request from %s without the shared secret refused",
                           _peer(request))
            return b"unauthorised\n"
        path = request.path.rstrip(b"/").rsplit(b"/", 1)[-1]
        if path in (b"register", b"set_password", b"remove_user"):
            request.setResponseCode(403)
            return b"accounts are managed by the groupware\n"
        if request.method != b"GET" or path not in (b"check_password", b"user_exists"):
            request.setResponseCode(404)
            return b"not found\n"
        try:
            user = _param(request, b"user")
            host = _param(request, b"server")
            password = _param(request, b"pass") if path == b"check_password" else ""
        except ValueError as exc:
            request.setResponseCode(400)
            return f"{exc}\n".encode()
        if path == b"check_password":
            coro = self._checker.check_password(user, host, password, _peer(request))
        else:
            coro = self._checker.user_exists(user, host)

        def done(ok: bool) -> None:
            request.write(b"true" if ok else b"false")
            request.finish()

        def failed(failure: object) -> None:
            request.setResponseCode(503)
            request.write(b"unavailable\n")
            request.finish()

        d: Deferred[bool] = Deferred.fromFuture(asyncio.ensure_future(coro))
        d.addCallbacks(done, failed)
        return server.NOT_DONE_YET


def _param(request: server.Request, name: bytes) -> str:
    args = request.args or {}
    values = args.get(name) or [b""]
    value = values[0]
    if len(value) > MAX_PARAM:
        raise ValueError(f"{name.decode()} is too long")
    try:
        return str(value.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{name.decode()} is not UTF-8") from None


def _peer(request: server.Request) -> str | None:
    address = request.getClientAddress()
    return getattr(address, "host", None)


def build_site(checker: AuthChecker, secret: str) -> server.Site:
    """A Site answering every path with the endpoint (Prosody appends the method name)."""
    site = server.Site(AuthHttpResource(checker, secret))
    site.displayTracebacks = False
    return site
