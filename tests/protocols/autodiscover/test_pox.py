"""The POX codec: requests parsed strictly, responses shaped as MS-OXDSCLI shows."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from protocols.autodiscover import jsonv1, pox

REQ = (b'<?xml version="1.0" encoding="utf-8"?>'
       b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
       b'requestschema/2006"><Request><EMailAddress>alice@example.test</EMailAddress>'
       b"<AcceptableResponseSchema>%s</AcceptableResponseSchema></Request></Autodiscover>")


def test_parses_outlook_request_both_namespace_spellings() -> None:
    for scheme in (b"http", b"https"):
        schema = scheme + b"://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
        req = pox.parse_request(REQ % schema)
        assert req == pox.AutodiscoverRequest(pox.Schema.OUTLOOK, "alice@example.test", None)


def test_parses_mobilesync_request() -> None:
    body = (b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/'
            b'requestschema/2006"><Request><EMailAddress>bob@example.test</EMailAddress>'
            b"<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/"
            b"mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>")
    assert pox.parse_request(body).schema is pox.Schema.MOBILESYNC


@pytest.mark.parametrize("body", [
    b"",
    b"not xml",
    b"<Autodiscover/>",
    REQ % b"http://example.org/unknown",
    REQ.replace(b"alice@example.test", b"no-at-sign") % b"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<Autodiscover>&e;</Autodiscover>",
    b"<a>" * 100000,
])
def test_bad_requests_are_refused(body: bytes) -> None:
    with pytest.raises(pox.AutodiscoverError):
        pox.parse_request(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_garbage_never_escapes(body: bytes) -> None:
    with contextlib.suppress(pox.AutodiscoverError):
        pox.parse_request(body)


SETTINGS = pox.OutlookSettings(
    display_name="Alice Ä", legacy_dn="/o=Org/ou=Exchange Administrative Group "
    "(FYDIBOHF23SPDLT)/cn=Recipients/cn=alice", smtp_address="alice@example.test",
    deployment_id="d3c5a3e1-0000-4000-8000-000000000001",
    mailstore_url="https://mail.example.test/mapi/emsmdb/?MailboxId=g@example.test",
    addressbook_url="https://mail.example.test/mapi/nspi/?MailboxId=g@example.test",
    server="g@example.test", server_dn="/o=Org/ou=x/cn=Configuration/cn=Servers/cn=g",
    mdb_dn="/o=Org/ou=x/cn=Configuration/cn=Servers/cn=g/cn=Microsoft Private MDB",
    server_version="73C189CB", ews_url="https://mail.example.test/EWS/Exchange.asmx",
    activesync_url="https://mail.example.test/Microsoft-Server-ActiveSync",
)
NS = {"r": pox.NS_RESPONSE, "o": pox.NS_OUTLOOK, "m": pox.NS_MOBILE}


def test_outlook_response_with_mapi_http() -> None:
    doc = etree.fromstring(pox.outlook_response(SETTINGS, mapi_http=True))
    assert doc.tag == f"{{{pox.NS_RESPONSE}}}Autodiscover"
    assert doc.findtext("o:Response/o:User/o:DisplayName", namespaces=NS) == "Alice Ä"
    deployment = doc.findtext("o:Response/o:User/o:DeploymentId", namespaces=NS)
    assert deployment == SETTINGS.deployment_id
    proto = doc.find("o:Response/o:Account/o:Protocol[@Type='mapiHttp']", namespaces=NS)
    assert proto is not None and proto.get("Version") == "1"
    assert proto.findtext("o:MailStore/o:InternalUrl", namespaces=NS) == SETTINGS.mailstore_url
    book = proto.findtext("o:AddressBook/o:ExternalUrl", namespaces=NS)
    assert book == SETTINGS.addressbook_url
    types = doc.xpath("//o:Protocol/o:Type/text()", namespaces=NS)
    assert types == ["EXCH", "EXHTTP"]


def test_outlook_response_without_mapi_http_has_no_mapihttp_protocol() -> None:
    doc = etree.fromstring(pox.outlook_response(SETTINGS, mapi_http=False))
    assert doc.find(".//o:Protocol[@Type='mapiHttp']", namespaces=NS) is None
    server = doc.findtext(".//o:Protocol[o:Type='EXHTTP']/o:Server", namespaces=NS)
    assert server == "g@example.test"


def test_mobilesync_response() -> None:
    doc = etree.fromstring(pox.mobilesync_response(pox.MobileSettings(
        "Bob", "bob@example.test", "https://h/Microsoft-Server-ActiveSync", "h")))
    server_type = doc.findtext("m:Response/m:Action/m:Settings/m:Server/m:Type", namespaces=NS)
    assert server_type == "MobileSync"
    assert doc.findtext("m:Response/m:User/m:EMailAddress", namespaces=NS) == "bob@example.test"


def test_error_responses() -> None:
    doc = etree.fromstring(pox.error_response(pox.ErrorAnswer(500, "not found"),
                                              pox.Schema.OUTLOOK, timestamp="t", request_id="1"))
    err = doc.find("o:Response/o:Error", namespaces=NS)
    assert err is not None and err.findtext("o:ErrorCode", namespaces=NS) == "500"
    mob = etree.fromstring(pox.error_response(pox.ErrorAnswer(500, "x"), pox.Schema.MOBILESYNC,
                                              timestamp="t", request_id="1"))
    assert mob.findtext("m:Response/m:Action/m:Error/m:Status", namespaces=NS) == "1"


def test_json_v1() -> None:
    ok = jsonv1.answer("a@b.test", "AutodiscoverV1", base_url="https://h:8443/")
    assert ok.status == 200
    assert ok.body == b'{"Protocol": "AutodiscoverV1", "Url": "https://h:8443/autodiscover/autodiscover.xml"}'
    bad = jsonv1.answer("a@b.test", "Gopher", base_url="https://h")
    assert bad.status == 400 and b"InvalidProtocol" in bad.body
    assert jsonv1.answer("nope", "Ews", base_url="https://h").status == 400
