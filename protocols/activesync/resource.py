"""Twisted adapter: ``/Microsoft-Server-ActiveSync`` (MS-ASHTTP).

OPTIONS advertises versions and commands; POST runs one command. Every request is
authenticated (HTTP Basic against the auth core, feature ``mobile``); every command
but Provision needs the device's policy key (HTTP 449 for EAS 12.x, Status 142-144
from 14.0 on). Long-polls (Ping, hanging Sync) are coroutines awaiting the notifier;
a client that hangs up cancels its coroutine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from twisted.python.failure import Failure
from twisted.web import server

from groupware.errors import GroupwareError, InvalidInput
from groupware.handlers.activesync.handler import ActiveSyncHandler
from groupware.handlers.auth import AuthHandler
from groupware.logs import log_context
from groupware.types import Feature
from protocols._twisted.basic_auth import authenticate, peer_of
from protocols._twisted.web import Resource
from protocols.activesync.commands import COMMANDS, ROOTS, Context, Reply, status_only
from protocols.activesync.errors import common_status
from protocols.activesync.request import COMMANDS as COMMAND_NAMES
from protocols.activesync.request import VERSIONS, EasRequest, parse_request
from protocols.activesync.wbxml import DecoderLimits, WbxmlError, decode

logger = logging.getLogger(__name__)

SERVER_VERSION = "16.1"
NO_POLICY = frozenset({"Provision"})


class ActiveSyncResource(Resource):
    """The one ActiveSync endpoint."""

    isLeaf = True

    def __init__(self, handler: ActiveSyncHandler, auth: AuthHandler) -> None:
        super().__init__()
        self._handler = handler
        self._auth = auth
        self._limits = DecoderLimits(max_opaque=handler.config.max_request_size)

    # --- OPTIONS (MS-ASHTTP 3.2.5.2) --------------------------------------------------

    def render_OPTIONS(self, request: server.Request) -> Any:
        fut = asyncio.ensure_future(self._options(request))
        fut.add_done_callback(lambda f: _log_crash(f, request))
        return server.NOT_DONE_YET

    async def _options(self, request: server.Request) -> None:
        result = await authenticate(request, self._auth, Feature.MOBILE)
        if result is None:
            request.finish()
            return
        _common_headers(request)
        request.setHeader(b"allow", b"OPTIONS,POST")
        request.setHeader(b"public", b"OPTIONS,POST")
        request.setHeader(b"ms-asprotocolversions", ",".join(VERSIONS).encode())
        request.setHeader(b"ms-asprotocolcommands", ",".join(COMMAND_NAMES).encode())
        request.setHeader(b"content-length", b"0")
        request.finish()

    def render_GET(self, request: server.Request) -> bytes:
        request.setResponseCode(501)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"ActiveSync takes POST\n"

    # --- POST ---------------------------------------------------------------------------

    def render_POST(self, request: server.Request) -> Any:
        limit = self._handler.config.max_request_size
        body = request.content.read(limit + 1) if request.content else b""
        fut = asyncio.ensure_future(self._post(request, body))
        fut.add_done_callback(lambda f: _log_crash(f, request))

        def gone(failure: Failure) -> None:
            if not fut.done():
                fut.cancel()

        request.notifyFinish().addErrback(gone)
        return server.NOT_DONE_YET

    async def _post(self, request: server.Request, body: bytes) -> None:
        peer = peer_of(request)
        result = await authenticate(request, self._auth, Feature.MOBILE)
        if result is None:
            _finish(request)
            return
        user = result.user
        headers = {k.decode("latin-1").lower(): values[0].decode("latin-1")
                   for k, values in request.requestHeaders.getAllRawHeaders() if values}
        query = request.uri.partition(b"?")[2].decode("latin-1")
        with log_context(protocol="activesync", user=user.address, peer=peer):
            try:
                req = parse_request(query, headers)
            except InvalidInput as exc:
                logger.info("activesync: bad request: %s", exc)
                _reply(request, Reply(status=400, content_type="text/plain"))
                return
            if len(body) > self._handler.config.max_request_size:
                _reply(request, Reply(status=413, content_type="text/plain"))
                return
            if req.version not in VERSIONS:
                logger.info("activesync: unsupported version %r", req.version)
                _reply(request, Reply(status=400, content_type="text/plain"))
                return
            command = COMMANDS.get(req.command)
            if command is None:
                logger.info("activesync: unknown command %r", req.command)
                _reply(request, Reply(status=501, content_type="text/plain"))
                return
            with log_context(device=req.device_id, command=req.command):
                reply = await self._run(request, req, user, body, command)
                _reply(request, reply)

    async def _run(self, request: server.Request, req: EasRequest, user: Any, body: bytes,
                   command: Any) -> Reply:
        handler = self._handler
        root = ROOTS.get(req.command)
        try:
            session = await handler.session(user, req.device_id, device_type=req.device_type,
                                            user_agent=req.user_agent, version=req.version,
                                            command=req.command)
        except GroupwareError as exc:
            logger.warning("activesync: no session: %s", exc)
            return Reply(status=403, content_type="text/plain")
        if req.command not in NO_POLICY:
            status = session.policy_status(req.policy_key)
            if status:
                logger.info("activesync: %s refused: policy status %d", req.command, status)
                if req.version_number < 14.0 or root is None:
                    return Reply(status=449, content_type="text/plain")
                return Reply(status_only(root, status))
        tree = None
        ctype = (request.getHeader(b"content-type") or b"").decode("latin-1").lower()
        if body and "rfc822" not in ctype and req.command != "GetAttachment":
            try:
                tree = decode(body, self._limits)
            except WbxmlError as exc:
                logger.info("activesync: %s: %s", req.command, exc)
                if req.version_number >= 14.0 and root is not None:
                    return Reply(status_only(root, 102))
                return Reply(status=400, content_type="text/plain")
        ctx = Context(session, req, time.monotonic() + handler.config.time_budget, body)
        try:
            reply: Reply = await command(ctx, tree)
            return reply
        except WbxmlError as exc:
            logger.info("activesync: %s: %s", req.command, exc)
            if root is not None and req.version_number >= 14.0:
                return Reply(status_only(root, 102))
            return Reply(status=400, content_type="text/plain")
        except GroupwareError as exc:
            logger.warning("activesync: %s failed: %s", req.command, exc)
            if root is not None and req.version_number >= 14.0:
                return Reply(status_only(root, common_status(exc)))
            return Reply(status=500, content_type="text/plain")


def _common_headers(request: server.Request) -> None:
    request.setHeader(b"ms-server-activesync", SERVER_VERSION.encode())
    request.setHeader(b"cache-control", b"private")


def _reply(request: server.Request, reply: Reply) -> None:
    if request.finished or getattr(request, "_disconnected", False):
        return
    request.setResponseCode(reply.status)
    _common_headers(request)
    for name, value in reply.headers.items():
        request.setHeader(name.encode(), value.encode())
    if reply.body:
        request.setHeader(b"content-type", reply.content_type.encode())
        request.setHeader(b"content-length", str(len(reply.body)).encode())
        request.write(reply.body)
    else:
        request.setHeader(b"content-length", b"0")
    request.finish()


def _finish(request: server.Request) -> None:
    if not request.finished and not getattr(request, "_disconnected", False):
        request.finish()


def _log_crash(fut: asyncio.Future[None], request: server.Request) -> None:
    if fut.cancelled():
        return
    exc = fut.exception()
    if exc is None:
        return
    logger.error("activesync request failed", exc_info=exc)
    if not request.finished and not getattr(request, "_disconnected", False):
        request.setResponseCode(500)
        request.finish()
