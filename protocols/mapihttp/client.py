"""A small blocking MAPI/HTTP client (MS-OXCMAPIHTTP 3.1): one endpoint, one session.

It keeps the cookies the server sets (context and sequence), numbers X-RequestId
(``{client guid}:counter``), sends X-ClientInfo and Basic credentials, reads the
chunked response and splits off the meta-tags. Used by the tests, the benchmark and
by admins (e.g. to check what Outlook would see); it depends only on the standard
library.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from protocols.mapihttp.framing import CONTENT_TYPE, ParsedBody, parse_response_body


@dataclass(frozen=True)
class MapiHttpResponse:
    status: int
    response_code: int | None
    headers: dict[str, str]
    parsed: ParsedBody | None
    raw: bytes

    @property
    def body(self) -> bytes:
        return self.parsed.body if self.parsed is not None else b""


@dataclass
class MapiHttpClient:
    """``url`` is the endpoint, e.g. ``https://host/mapi/nspi/?MailboxId=...``."""

    url: str
    user: str
    password: str
    timeout: float = 30.0
    verify_tls: bool = False
    client_application: str = "groupware-mapihttp/1.0"
    cookies: dict[str, str] = field(default_factory=dict)
    _client_id: str = field(default_factory=lambda: "{" + str(uuid.uuid4()).upper() + "}")
    _counter: int = 0
    _conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            parts = urlsplit(self.url)
            host = parts.hostname or "localhost"
            if parts.scheme == "https":
                context = ssl.create_default_context()
                if not self.verify_tls:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                self._conn = http.client.HTTPSConnection(host, parts.port or 443,
                                                         timeout=self.timeout, context=context)
            else:
                self._conn = http.client.HTTPConnection(host, parts.port or 80,
                                                        timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, request_type: str, body: bytes = b"", *,
                extra_headers: dict[str, str] | None = None) -> MapiHttpResponse:
        """POST one request; cookies from the answer replace ours."""
        self._counter += 1
        parts = urlsplit(self.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        credentials = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        headers = {
            "Content-Type": CONTENT_TYPE,
            "X-RequestType": request_type,
            "X-RequestId": f"{self._client_id}:{self._counter}",
            "X-ClientInfo": f"{self._client_id}:1",
            "X-ClientApplication": self.client_application,
            "Authorization": f"Basic {credentials}",
            "Content-Length": str(len(body)),
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.update(extra_headers or {})
        conn = self._connection()
        try:
            conn.request("POST", target, body=body, headers=headers)
            answer = conn.getresponse()
            raw = answer.read()
        except (ConnectionError, http.client.HTTPException):
            self.close()
            raise
        response_headers = {k.lower(): v for k, v in answer.getheaders()}
        for value in answer.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        code_text = response_headers.get("x-responsecode")
        code = int(code_text) if code_text is not None and code_text.isdigit() else None
        parsed = None
        if answer.status == 200 and code == 0:
            parsed = parse_response_body(raw)
        return MapiHttpResponse(answer.status, code, response_headers, parsed, raw)


__all__ = ["MapiHttpClient", "MapiHttpResponse"]
