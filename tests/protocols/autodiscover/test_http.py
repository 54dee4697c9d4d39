"""Autodiscover on the running server: authentication, schemas, errors, JSON redirect."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request

from lxml import etree

from protocols.autodiscover import pox
from tests.conftest import RunningServer

NS = {"o": pox.NS_OUTLOOK, "m": pox.NS_MOBILE, "r": pox.NS_RESPONSE}
OUTLOOK_REQ = (
    '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
    'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>{addr}'
    "</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/"
    "autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>"
    "</Autodiscover>"
)
MOBILE_REQ = (
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/'
    'requestschema/2006"><Request><EMailAddress>{addr}</EMailAddress>'
    "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/"
    "responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>"
)


def _call(url: str, body: str | None = None, *, user: str | None = None,
          password: str | None = None, headers: dict[str, str] | None = None,
          ) -> tuple[int, dict[str, str], bytes]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, data=body.encode() if body is not None else None,
                                 method="POST" if body is not None else "GET")
    req.add_header("Content-Type", "text/xml")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=20, context=ctx) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def _url(server: RunningServer, path: str) -> str:
    return f"https://127.0.0.1:{server.port('http', 'implicit')}{path}"


def test_outlook_autodiscover_with_mapi_http(running_server: RunningServer) -> None:
    status, headers, body = _call(
        _url(running_server, "/Autodiscover/Autodiscover.xml"),
        OUTLOOK_REQ.format(addr="ADMIN@example.test"), user="admin@example.test",
        password="admin-secret", headers={"X-MapiHttpCapability": "1"})
    assert status == 200, body
    assert headers["x-serverapplication"].startswith("Exchange/15.")
    doc = etree.fromstring(body)
    assert doc.findtext("o:Response/o:User/o:AutoDiscoverSMTPAddress",
                        namespaces=NS) == "admin@example.test"
    legacy = doc.findtext("o:Response/o:User/o:LegacyDN", namespaces=NS)
    assert legacy and legacy.startswith("/o=") and "/cn=Recipients/cn=" in legacy
    store = doc.findtext(".//o:Protocol[@Type='mapiHttp']/o:MailStore/o:InternalUrl",
                         namespaces=NS)
    assert store and "/mapi/emsmdb/?MailboxId=" in store and store.endswith("@example.test")
    # The deployment id is stable across requests (it is stored, not invented).
    again = etree.fromstring(_call(
        _url(running_server, "/autodiscover/autodiscover.xml"),
        OUTLOOK_REQ.format(addr="admin@example.test"), user="admin@example.test",
        password="admin-secret")[2])
    assert again.findtext("o:Response/o:User/o:DeploymentId", namespaces=NS) == \
        doc.findtext("o:Response/o:User/o:DeploymentId", namespaces=NS)
    assert again.find(".//o:Protocol[@Type='mapiHttp']", namespaces=NS) is None


def test_mobilesync_autodiscover(running_server: RunningServer) -> None:
    status, _h, body = _call(_url(running_server, "/autodiscover/autodiscover.xml"),
                             MOBILE_REQ.format(addr="admin@example.test"),
                             user="admin", password="admin-secret")
    assert status == 200
    doc = etree.fromstring(body)
    url = doc.findtext(".//m:Server/m:Url", namespaces=NS)
    assert url and url.endswith("/Microsoft-Server-ActiveSync")


def test_wrong_password_and_no_credentials_get_401(running_server: RunningServer) -> None:
    url = _url(running_server, "/autodiscover/autodiscover.xml")
    status, headers, _b = _call(url, OUTLOOK_REQ.format(addr="admin@example.test"))
    assert status == 401 and headers["www-authenticate"].startswith("Basic")
    status, _h, _b = _call(url, OUTLOOK_REQ.format(addr="admin@example.test"),
                           user="admin@example.test", password="wrong")
    assert status == 401
    assert "wrong password" in running_server.log()


def test_unknown_or_foreign_address_is_error_500(running_server: RunningServer) -> None:
    status, _h, body = _call(_url(running_server, "/autodiscover/autodiscover.xml"),
                             OUTLOOK_REQ.format(addr="nobody@example.test"),
                             user="admin@example.test", password="admin-secret")
    assert status == 200
    doc = etree.fromstring(body)
    assert doc.findtext("o:Response/o:Error/o:ErrorCode", namespaces=NS) == "500"


def test_bad_request_and_get_are_error_600(running_server: RunningServer) -> None:
    url = _url(running_server, "/autodiscover/autodiscover.xml")
    for status, _h, body in (_call(url, "<not-autodiscover/>"), _call(url)):
        assert status == 200
        assert etree.fromstring(body).findtext(".//{*}ErrorCode") == "600"


def test_json_v1_redirect(running_server: RunningServer) -> None:
    status, _h, body = _call(_url(
        running_server,
        "/autodiscover/autodiscover.json/v1.0/admin@example.test?Protocol=AutodiscoverV1"))
    assert status == 200
    answer = json.loads(body)
    assert answer["Protocol"] == "AutodiscoverV1"
    assert answer["Url"].endswith("/autodiscover/autodiscover.xml")
    status, _h, body = _call(_url(
        running_server, "/autodiscover/autodiscover.json/v1.0/admin@example.test?Protocol=X"))
    assert status == 400 and json.loads(body)["ErrorCode"] == "InvalidProtocol"
