"""Twisted adapter: ``/autodiscover/autodiscover.xml`` and ``/autodiscover/autodiscover.json``.

Paths are matched case-insensitively (clients write ``/Autodiscover/Autodiscover.xml``).
POX requests need Basic authentication over TLS; the JSON redirect endpoint is
anonymous, like Exchange's.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from typing import Any

from twisted.web import resource, server

from groupware.exchange_identity import server_application
from groupware.handlers.auth import AuthHandler
from groupware.handlers.autodiscover import AutodiscoverHandler, UserEndpoints
from groupware.logs import log_context
from groupware.types import Feature
from protocols._twisted.basic_auth import authenticate, peer_of
from protocols._twisted.web import Resource
from protocols.autodiscover import jsonv1, pox

logger = logging.getLogger(__name__)


def _settings(e: UserEndpoints) -> pox.OutlookSettings:
    return pox.OutlookSettings(
        display_name=e.display_name, legacy_dn=e.legacy_dn, smtp_address=e.address,
        deployment_id=e.deployment_id, mailstore_url=e.mailstore_url,
        addressbook_url=e.addressbook_url, server=e.mailbox_server, server_dn=e.server_dn,
        mdb_dn=e.mdb_dn, server_version=e.server_version, ews_url=e.ews_url,
        activesync_url=e.activesync_url,
    )


class PoxResource(Resource):
    """POST /autodiscover/autodiscover.xml (MS-OXDSCLI 3.1.5)."""

    isLeaf = True

    def __init__(self, handler: AutodiscoverHandler, auth: AuthHandler) -> None:
        super().__init__()
        self._handler = handler
        self._auth = auth

    def render_GET(self, request: server.Request) -> bytes:
        # Exchange answers a GET with error 600 inside a 200 (clients probe with GET).
        return self._write_error(request, pox.ErrorAnswer(600, "Invalid Request"), None)

    def render_POST(self, request: server.Request) -> Any:
        body = request.content.read(pox.MAX_REQUEST + 1) if request.content else b""
        fut = asyncio.ensure_future(self._post(request, body))
        fut.add_done_callback(lambda f: _log_crash(f, request))
        return server.NOT_DONE_YET

    async def _post(self, request: server.Request, body: bytes) -> None:
        request.setHeader(b"x-serverapplication", server_application().encode())
        try:
            parsed = pox.parse_request(body)
        except pox.AutodiscoverError as exc:
            logger.info("autodiscover: bad request from %s: %s", peer_of(request), exc)
            request.write(self._write_error(request, pox.ErrorAnswer(600, "Invalid Request",
                                                                     str(exc)), None))
            request.finish()
            return
        service = Feature.MOBILE if parsed.schema is pox.Schema.MOBILESYNC else Feature.OUTLOOK
        result = await authenticate(request, self._auth, service)
        if result is None:
            request.finish()
            return
        with log_context(protocol="autodiscover", user=result.user.address,
                         peer=peer_of(request)):
            found = await self._handler.endpoints_for(result.user, email=parsed.email,
                                                      legacy_dn=parsed.legacy_dn)
            if found is None:
                answer = self._write_error(
                    request, pox.ErrorAnswer(500, "The email address can't be found."),
                    parsed.schema)
            elif parsed.schema is pox.Schema.MOBILESYNC:
                answer = pox.mobilesync_response(pox.MobileSettings(
                    found.display_name, found.address, found.activesync_url,
                    found.activesync_url))
                request.setHeader(b"content-type", b"text/xml; charset=utf-8")
            else:
                mapi_http = request.getHeader(b"x-mapihttpcapability") not in (None, b"0")
                answer = pox.outlook_response(_settings(found), mapi_http=mapi_http)
                request.setHeader(b"content-type", b"text/xml; charset=utf-8")
            request.write(answer)
            request.finish()

    def _write_error(self, request: server.Request, err: pox.ErrorAnswer,
                     schema: pox.Schema | None) -> bytes:
        request.setHeader(b"content-type", b"text/xml; charset=utf-8")
        now = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S.%f")[:-3]
        return pox.error_response(err, schema, timestamp=now,
                                  request_id=str(uuid.uuid4().int % 10**10))


class JsonResource(Resource):
    """GET /autodiscover/autodiscover.json/v1.0/<address>?Protocol=... (anonymous)."""

    isLeaf = True

    def __init__(self, handler: AutodiscoverHandler) -> None:
        super().__init__()
        self._handler = handler

    def render_GET(self, request: server.Request) -> bytes:
        parts = [p for p in (request.postpath or []) if p]
        address = ""
        if len(parts) >= 2 and parts[0].lower() == b"v1.0":
            address = parts[1].decode("utf-8", "replace")
        args = request.args or {}
        protocol_arg = args.get(b"Protocol") or args.get(b"protocol") or [b""]
        answer = jsonv1.answer(address, protocol_arg[0].decode("utf-8", "replace"),
                               base_url=self._handler.base_url)
        request.setResponseCode(answer.status)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"x-serverapplication", server_application().encode())
        return answer.body


class AutodiscoverRoot(Resource):
    """``/autodiscover``: children looked up case-insensitively."""

    def __init__(self, handler: AutodiscoverHandler, auth: AuthHandler) -> None:
        super().__init__()
        self._pox = PoxResource(handler, auth)
        self._json = JsonResource(handler)

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        name = path.lower()
        if name == b"autodiscover.xml":
            return self._pox
        if name == b"autodiscover.json":
            return self._json
        return resource.NoResource()


def _log_crash(fut: asyncio.Future[None], request: server.Request) -> None:
    exc = fut.exception()
    if exc is None:
        return
    logger.error("autodiscover request failed", exc_info=exc)
    if not request.finished and not getattr(request, "_disconnected", False):
        request.setResponseCode(500)
        request.finish()
