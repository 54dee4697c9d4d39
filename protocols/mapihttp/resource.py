"""The Twisted resource of one MAPI/HTTP endpoint (``/mapi/nspi/``, later ``/mapi/emsmdb/``).

What every request goes through (MS-OXCMAPIHTTP 3.2.5), in order:

1. ``POST`` only (else X-ResponseCode 2), Basic authentication through the auth core
   with the ``outlook`` feature (else HTTP 401 with a challenge).
2. The common headers: ``X-RequestType`` (a type of this endpoint, else 5),
   ``X-RequestId`` and ``X-ClientInfo`` (else 7), ``Content-Type`` (else 4), a body no
   larger than the endpoint allows (else 9).
3. The session: a request type that creates sessions (Bind, Connect) gets a new
   context; every other needs the context cookie of a live session of the same user
   (else 13 when absent, 6 when unknown or expired) and the current sequence cookie
   (else 15; PING and the session-ending type skip this check).
4. The body is parsed (else 12) and only then is the response started: 200, chunked,
   ``PROCESSING``, a ``PENDING`` every pending period while the request type runs,
   ``DONE``, X-ElapsedTime / X-StartTime and the response body.

Request types are plug-ins (:class:`RequestType`): the address book registers its
nineteen, the mailbox endpoint will register Connect/Execute/Disconnect/
NotificationWait the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from twisted.web import server

from groupware.exchange_identity import server_application
from groupware.handlers.addressbook import User
from groupware.handlers.auth import AuthHandler
from groupware.types import Feature
from protocols._twisted.basic_auth import authenticate, peer_of
from protocols._twisted.web import Resource
from protocols.mapihttp.framing import (
    CONTENT_TYPE,
    PENDING,
    PROCESSING,
    MapiHttpError,
    ResponseCode,
    done_trailer,
    error_page,
    valid_id,
)
from protocols.mapihttp.sessions import (
    CONTEXT_COOKIE,
    SEQUENCE_COOKIE,
    MapiSession,
    SessionTable,
)

logger = logging.getLogger(__name__)

PING = "PING"


@dataclass(frozen=True)
class RequestContext:
    """What a request type's ``run`` is told about its request."""

    request_type: str
    session: MapiSession
    user: User
    peer: str


@dataclass(frozen=True)
class RequestType:
    """One X-RequestType of an endpoint."""

    name: str
    parse: Callable[[bytes], Any]
    """Decode the body; raise ValueError or InvalidInput for X-ResponseCode 12."""
    run: Callable[[RequestContext, Any], Awaitable[bytes]]
    creates_session: bool = False
    ends_session: bool = False


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    """The path segment under /mapi/ (also the cookie path)."""
    request_types: Mapping[str, RequestType]
    max_request: int = 1 << 20
    pending_period: float = 15.0
    """Seconds between PENDING meta-tags (X-PendingPeriod)."""


class MapiHttpResource(Resource):
    """``POST /mapi/<endpoint>/`` with X-RequestType."""

    isLeaf = True

    def __init__(self, config: EndpointConfig, auth: AuthHandler, sessions: SessionTable,
                 *, call_later: Callable[..., Any]) -> None:
        super().__init__()
        self.config = config
        self._auth = auth
        self._sessions = sessions
        self._call_later = call_later
        self._types = {name.lower(): rt for name, rt in config.request_types.items()}

    def render_GET(self, request: server.Request) -> bytes:
        return self._refuse(request, MapiHttpError(ResponseCode.INVALID_VERB, "use POST"))

    def render(self, request: server.Request) -> Any:
        if request.method != b"POST":
            return self._refuse(request, MapiHttpError(ResponseCode.INVALID_VERB,
                                                       "use POST"))
        return self.render_POST(request)

    def render_POST(self, request: server.Request) -> Any:
        fut = asyncio.ensure_future(self._post(request))
        fut.add_done_callback(lambda f: self._crashed(f, request))
        return server.NOT_DONE_YET

    # -- the request ---------------------------------------------------------------

    async def _post(self, request: server.Request) -> None:
        started = time.time()
        result = await authenticate(request, self._auth, Feature.OUTLOOK)
        if result is None:
            request.finish()
            return
        user = result.user
        try:
            request_type, session, parsed = self._admit(request, user)
        except MapiHttpError as exc:
            logger.info("mapi/%s refused for %s: %s %s", self.config.name, user.address,
                        exc.code.name, exc)
            request.write(self._refuse(request, exc))
            request.finish()
            return
        ctx = RequestContext(request_type.name, session, user, peer_of(request))
        request.setResponseCode(200)
        self._common_headers(request, session)
        request.setHeader(b"x-responsecode", b"0")
        request.setHeader(b"x-pendingperiod",
                          str(int(self.config.pending_period * 1000)).encode())
        request.setHeader(b"x-expirationinfo",
                          str(int(self._sessions.idle_timeout * 1000)).encode())
        self._cookies(request, session, ended=request_type.ends_session)
        request.write(PROCESSING)
        finished = {"done": False}
        request.notifyFinish().addErrback(lambda _: finished.__setitem__("done", True))
        timer = self._pending(request, finished)
        try:
            if request_type.name == PING:
                body = b""
            else:
                body = await request_type.run(ctx, parsed)
        finally:
            timer["stop"] = True
            if timer.get("call") is not None and timer["call"].active():
                timer["call"].cancel()
            if request_type.ends_session:
                self._sessions.close(session.id)
        if finished["done"]:
            return
        elapsed = int((time.time() - started) * 1000)
        request.write(done_trailer(elapsed, started) + body)
        request.finish()

    def _admit(self, request: server.Request,
               user: User) -> tuple[RequestType, MapiSession, Any]:
        header = _header(request, b"x-requesttype")
        if header is None:
            raise MapiHttpError(ResponseCode.MISSING_HEADER, "X-RequestType")
        if header.upper() == PING:
            request_type = RequestType(PING, lambda body: None, _no_run)
        else:
            found = self._types.get(header.lower())
            if found is None:
                raise MapiHttpError(ResponseCode.INVALID_REQUEST_TYPE, header)
            request_type = found
        for name in (b"x-requestid", b"x-clientinfo"):
            if not valid_id(_header(request, name)):
                raise MapiHttpError(ResponseCode.MISSING_HEADER, name.decode())
        content_type = _header(request, b"content-type")
        if content_type is not None and content_type.split(";")[0].strip().lower() \
                != CONTENT_TYPE:
            raise MapiHttpError(ResponseCode.INVALID_HEADER, f"Content-Type {content_type}")
        length = _header(request, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.config.max_request):
            raise MapiHttpError(ResponseCode.TOO_LARGE, f"{length} bytes")
        body = request.content.read(self.config.max_request + 1) if request.content else b""
        if len(body) > self.config.max_request:
            raise MapiHttpError(ResponseCode.TOO_LARGE, f"over {self.config.max_request}")

        context = _cookie(request, CONTEXT_COOKIE)
        if request_type.creates_session:
            session = self._sessions.create(self.config.name, user.id)
        else:
            if context is None:
                raise MapiHttpError(ResponseCode.MISSING_COOKIE, CONTEXT_COOKIE)
            found_session = self._sessions.get(context, self.config.name, user.id)
            if found_session is None:
                raise MapiHttpError(ResponseCode.INVALID_CONTEXT_COOKIE,
                                    "no such session context")
            session = found_session
            if request_type.name != PING and not request_type.ends_session \
                    and _cookie(request, SEQUENCE_COOKIE) != session.sequence:
                raise MapiHttpError(ResponseCode.INVALID_SEQUENCE, "stale sequence cookie")
        try:
            parsed = request_type.parse(body)
        except (ValueError, LookupError) as exc:
            raise MapiHttpError(ResponseCode.INVALID_REQUEST_BODY, str(exc)) from None
        except Exception as exc:
            from groupware.errors import InvalidInput

            if isinstance(exc, InvalidInput):
                raise MapiHttpError(ResponseCode.INVALID_REQUEST_BODY, str(exc)) from None
            raise
        self._sessions.touch(session, rotate=request_type.name != PING)
        return request_type, session, parsed

    # -- output -------------------------------------------------------------------------

    def _pending(self, request: server.Request, finished: dict[str, bool]) -> dict[str, Any]:
        state: dict[str, Any] = {"stop": False, "call": None}

        def tick() -> None:
            if state["stop"] or finished["done"]:
                return
            request.write(PENDING)
            state["call"] = self._call_later(self.config.pending_period, tick)

        state["call"] = self._call_later(self.config.pending_period, tick)
        return state

    def _common_headers(self, request: server.Request, session: MapiSession | None) -> None:
        request.setHeader(b"content-type", CONTENT_TYPE.encode())
        request.setHeader(b"cache-control", b"private")
        request.setHeader(b"x-serverapplication", server_application().encode())
        for name in (b"x-requesttype", b"x-requestid", b"x-clientinfo"):
            value = _header(request, name)
            if value is not None and valid_id(value):
                request.setHeader(name, value.encode())

    def _cookies(self, request: server.Request, session: MapiSession, *, ended: bool) -> None:
        path = f"/mapi/{self.config.name}/"
        if ended:
            for name in (CONTEXT_COOKIE, SEQUENCE_COOKIE):
                request.addCookie(name.encode(), b"", path=path.encode(),
                                  expires=b"Thu, 01 Jan 1970 00:00:00 GMT")
            return
        secure = request.isSecure()
        request.addCookie(CONTEXT_COOKIE.encode(), session.id.encode(), path=path.encode(),
                          httpOnly=True, secure=secure)
        request.addCookie(SEQUENCE_COOKIE.encode(), session.sequence.encode(),
                          path=path.encode(), httpOnly=True, secure=secure)

    def _refuse(self, request: server.Request, exc: MapiHttpError) -> bytes:
        request.setResponseCode(200)
        self._common_headers(request, None)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"x-responsecode", str(int(exc.code)).encode())
        return error_page(exc.code, str(exc))

    def _crashed(self, fut: asyncio.Future[None], request: server.Request) -> None:
        exc = fut.exception() if not fut.cancelled() else None
        if exc is None:
            return
        logger.error("mapi/%s request failed", self.config.name, exc_info=exc)
        if not request.finished and not getattr(request, "_disconnected", False):
            if not request.startedWriting:
                request.write(self._refuse(request, MapiHttpError(
                    ResponseCode.UNKNOWN_FAILURE, "internal error")))
            request.finish()


async def _no_run(ctx: RequestContext, parsed: Any) -> bytes:
    return b""


def _header(request: server.Request, name: bytes) -> str | None:
    raw = request.getHeader(name)
    if raw is None:
        return None
    return raw.decode("latin-1").strip() if isinstance(raw, bytes) else str(raw).strip()


def _cookie(request: server.Request, name: str) -> str | None:
    raw = request.getCookie(name.encode())
    return raw.decode("latin-1") if raw else None


class MapiRoot(Resource):
    """``/mapi``: the endpoints by name, matched case-insensitively."""

    def __init__(self) -> None:
        super().__init__()

    def getChild(self, path: bytes, request: server.Request) -> Any:
        lowered = path.lower()
        for name, child in self.children.items():
            if name.lower() == lowered:
                return child
        from protocols._twisted.web import NotFoundResource

        return NotFoundResource()


__all__ = ["EndpointConfig", "MapiHttpResource", "MapiRoot", "RequestContext", "RequestType"]
