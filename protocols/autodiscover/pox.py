"""Plain-old-XML Autodiscover (MS-OXDSCLI 2.2.4, MS-ASCMD 2.2.1.1): sans-IO codec.

Requests carry an e-mail address (or a legacy DN) and the response schema the client
accepts; the answer is built from :class:`OutlookSettings` / :class:`MobileSettings`,
which the handler computes. Parsing never resolves entities, never touches the network
and refuses bodies over :data:`MAX_REQUEST`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lxml import etree

from groupware.errors import InvalidInput

MAX_REQUEST = 64 * 1024

NS_REQUEST_OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
NS_REQUEST_MOBILE = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
NS_RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
NS_OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
NS_MOBILE = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"


class Schema(enum.Enum):
    """The response schemas we answer (AcceptableResponseSchema)."""

    OUTLOOK = NS_OUTLOOK
    MOBILESYNC = NS_MOBILE


class AutodiscoverError(InvalidInput):
    """The request is not an Autodiscover request we can answer (error 600)."""


@dataclass(frozen=True)
class AutodiscoverRequest:
    """MS-OXDSCLI 2.2.4.1.1: EMailAddress or LegacyDN, plus AcceptableResponseSchema."""

    schema: Schema
    email: str | None
    legacy_dn: str | None


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                          remove_comments=True, remove_pis=True, load_dtd=False)


def parse_request(body: bytes) -> AutodiscoverRequest:
    """Parse a POX request body; raise :class:`AutodiscoverError` on anything else."""
    if len(body) > MAX_REQUEST:
        raise AutodiscoverError(f"request body over {MAX_REQUEST} bytes")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise AutodiscoverError("DTDs are not accepted")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise AutodiscoverError(f"not well-formed XML: {exc}") from None
    qname = etree.QName(root)
    if qname.localname != "Autodiscover" or qname.namespace not in (
        NS_REQUEST_OUTLOOK, NS_REQUEST_MOBILE
    ):
        raise AutodiscoverError("root element is not an Autodiscover request")
    values: dict[str, str] = {}
    for request in root:
        if not isinstance(request.tag, str) or etree.QName(request).localname != "Request":
            continue
        for child in request:
            if isinstance(child.tag, str):
                values[etree.QName(child).localname.lower()] = (child.text or "").strip()
    wanted = values.get("acceptableresponseschema", "")
    # Clients send both http:// and https:// spellings of the namespace.
    normalised = wanted.replace("https://", "http://", 1)
    try:
        schema = Schema(normalised)
    except ValueError:
        raise AutodiscoverError(f"unsupported response schema {wanted!r}") from None
    email = values.get("emailaddress") or None
    legacy_dn = values.get("legacydn") or None
    if email is None and legacy_dn is None:
        raise AutodiscoverError("neither EMailAddress nor LegacyDN given")
    if email is not None and (len(email) > 320 or "@" not in email):
        raise AutodiscoverError(f"invalid e-mail address {email!r}")
    return AutodiscoverRequest(schema, email, legacy_dn)


@dataclass(frozen=True)
class OutlookSettings:
    """What Outlook needs: the user, the MAPI/HTTP URLs, the RPC/HTTP server (EXHTTP)."""

    display_name: str
    legacy_dn: str
    smtp_address: str
    deployment_id: str
    mailstore_url: str
    addressbook_url: str
    server: str
    """Host name clients connect to (RPC/HTTP proxy and EXHTTP server)."""
    server_dn: str
    mdb_dn: str
    server_version: str
    """ServerVersion as hex of the Exchange build (e.g. 73C18880 for 15.x)."""
    ews_url: str
    activesync_url: str
    oab_url: str | None = None
    auth_package: str = "basic"


@dataclass(frozen=True)
class MobileSettings:
    """MS-ASCMD 2.2.1.1: the ActiveSync endpoint and the user's display name."""

    display_name: str
    email: str
    activesync_url: str
    server_name: str


@dataclass(frozen=True)
class ErrorAnswer:
    """MS-OXDSCLI 2.2.4.1.2.1 error codes: 500 unknown user, 600 invalid request,
    601 provider unavailable (wrong schema)."""

    code: int
    message: str
    debug: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _sub(parent: etree._Element, tag: str, text: str | None = None,
         **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs) if attrs else etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _document(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8",
                                pretty_print=True))


def outlook_response(s: OutlookSettings, *, mapi_http: bool) -> bytes:
    """The outlook 2006a answer; with ``mapi_http`` the mapiHttp Protocol (MS-OXDSCLI 4.4)."""
    root = etree.Element("Autodiscover", nsmap={None: NS_RESPONSE})
    response = etree.SubElement(root, f"{{{NS_OUTLOOK}}}Response", nsmap={None: NS_OUTLOOK})
    o = f"{{{NS_OUTLOOK}}}"
    user = _sub(response, o + "User")
    _sub(user, o + "DisplayName", s.display_name)
    _sub(user, o + "LegacyDN", s.legacy_dn)
    _sub(user, o + "AutoDiscoverSMTPAddress", s.smtp_address)
    _sub(user, o + "DeploymentId", s.deployment_id)
    account = _sub(response, o + "Account")
    _sub(account, o + "AccountType", "email")
    _sub(account, o + "Action", "settings")
    _sub(account, o + "MicrosoftOnline", "False")
    if mapi_http:
        proto = _sub(account, o + "Protocol", Type="mapiHttp", Version="1")
        store = _sub(proto, o + "MailStore")
        _sub(store, o + "InternalUrl", s.mailstore_url)
        _sub(store, o + "ExternalUrl", s.mailstore_url)
        book = _sub(proto, o + "AddressBook")
        _sub(book, o + "InternalUrl", s.addressbook_url)
        _sub(book, o + "ExternalUrl", s.addressbook_url)
    # EXCH: the mailbox server (RPC); EXHTTP: the same reached through RPC over HTTP.
    exch = _sub(account, o + "Protocol")
    _sub(exch, o + "Type", "EXCH")
    _sub(exch, o + "Server", s.server)
    _sub(exch, o + "ServerDN", s.server_dn)
    _sub(exch, o + "ServerVersion", s.server_version)
    _sub(exch, o + "MdbDN", s.mdb_dn)
    _sub(exch, o + "AD", s.server)
    _sub(exch, o + "ASUrl", s.ews_url)
    _sub(exch, o + "EwsUrl", s.ews_url)
    _sub(exch, o + "OOFUrl", s.ews_url)
    if s.oab_url:
        _sub(exch, o + "OABUrl", s.oab_url)
    exhttp = _sub(account, o + "Protocol")
    _sub(exhttp, o + "Type", "EXHTTP")
    _sub(exhttp, o + "Server", s.server)
    _sub(exhttp, o + "SSL", "On")
    _sub(exhttp, o + "AuthPackage", s.auth_package)
    _sub(exhttp, o + "ASUrl", s.ews_url)
    _sub(exhttp, o + "EwsUrl", s.ews_url)
    _sub(exhttp, o + "ServerExclusiveConnect", "On")
    return _document(root)


def mobilesync_response(s: MobileSettings) -> bytes:
    """MS-ASCMD 2.2.1.1 response: User + Action/Settings/Server of type MobileSync."""
    root = etree.Element("Autodiscover", nsmap={None: NS_RESPONSE})
    response = etree.SubElement(root, f"{{{NS_MOBILE}}}Response", nsmap={None: NS_MOBILE})
    m = f"{{{NS_MOBILE}}}"
    _sub(response, m + "Culture", "en:us")
    user = _sub(response, m + "User")
    _sub(user, m + "DisplayName", s.display_name)
    _sub(user, m + "EMailAddress", s.email)
    action = _sub(response, m + "Action")
    settings = _sub(action, m + "Settings")
    server = _sub(settings, m + "Server")
    _sub(server, m + "Type", "MobileSync")
    _sub(server, m + "Url", s.activesync_url)
    _sub(server, m + "Name", s.activesync_url)
    return _document(root)


def error_response(err: ErrorAnswer, schema: Schema | None, *, timestamp: str,
                   request_id: str) -> bytes:
    """An Error element the way Exchange writes it (MS-OXDSCLI 2.2.4.1.2.1.1).

    With no known schema (the request itself was unreadable) the error goes in the
    generic response namespace.
    """
    root = etree.Element("Autodiscover", nsmap={None: NS_RESPONSE})
    ns = schema.value if schema is not None else NS_RESPONSE
    response = etree.SubElement(root, f"{{{ns}}}Response", nsmap={None: ns})
    if schema is Schema.MOBILESYNC:
        action = _sub(response, f"{{{ns}}}Action")
        error = _sub(action, f"{{{ns}}}Error")
        _sub(error, f"{{{ns}}}Status", "1" if err.code == 500 else "2")
        _sub(error, f"{{{ns}}}Message", err.message)
        _sub(error, f"{{{ns}}}DebugData", err.debug)
        _sub(error, f"{{{ns}}}ErrorCode", str(err.code))
        return _document(root)
    error = _sub(response, f"{{{ns}}}Error", Time=timestamp, Id=request_id)
    _sub(error, f"{{{ns}}}ErrorCode", str(err.code))
    _sub(error, f"{{{ns}}}Message", err.message)
    _sub(error, f"{{{ns}}}DebugData", err.debug)
    return _document(root)
