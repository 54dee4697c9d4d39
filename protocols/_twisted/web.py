"""The HTTP root every web protocol hangs its resources on.

Autodiscover, MAPI/HTTP, RPC over HTTP and ActiveSync each add a child to the one tree
(``root.putChild``); this module only provides the tree, ``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client.twisted import MetricsResource
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web import resource, server

logger = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]


class Resource(resource.Resource):
    """``twisted.web.resource.Resource`` with a typed constructor (base of ours)."""

    def __init__(self) -> None:
        resource.Resource.__init__(self)


class HealthResource(Resource):
    """``GET /healthz``: 200 with a JSON body when every check passes, else 503."""

    isLeaf = True

    def __init__(self, check: HealthCheck) -> None:
        super().__init__()
        self._check = check

    def render_GET(self, request: server.Request) -> int | bytes:
        def _done(report: dict[str, Any]) -> None:
            ok = report.get("status") == "ok"
            request.setResponseCode(200 if ok else 503)
            request.setHeader(b"content-type", b"application/json")
            request.setHeader(b"cache-control", b"no-store")
            request.write(json.dumps(report).encode())
            request.finish()

        def _failed(failure: Failure) -> None:
            logger.error("health check failed: %s", failure.getErrorMessage())
            _done({"status": "error", "error": failure.getErrorMessage()})

        d: Deferred[dict[str, Any]] = Deferred.fromFuture(asyncio.ensure_future(self._check()))
        d.addCallbacks(_done, _failed)
        return server.NOT_DONE_YET


class NotFoundResource(Resource):
    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"not found\n"


class RootResource(Resource):
    """``/``: unknown paths get a plain 404 (never a Twisted error page)."""

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        # Exchange paths are case-insensitive (/Autodiscover, /Microsoft-Server-ActiveSync).
        lowered = path.lower()
        for name, child in self.children.items():
            if name.lower() == lowered:
                found: resource.Resource = child
                return found
        return NotFoundResource()

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"groupware\n"


def build_root(health: HealthCheck, *, metrics: bool) -> RootResource:
    root = RootResource()
    health_resource: Any = HealthResource(health)
    root.putChild(b"healthz", health_resource)
    if metrics:
        metrics_resource: Any = MetricsResource()  # type: ignore[no-untyped-call]
        root.putChild(b"metrics", metrics_resource)
    return root


class QuietSite(server.Site):
    """A Site that logs through ``logging`` at DEBUG instead of Twisted's access log."""

    def log(self, request: Any) -> None:
        logger.debug("%s %s %s", request.getClientAddress(), request.method, request.uri)
