"""The LDAP directory (ldap3): OpenLDAP, Active Directory / Samba AD, 389-ds.

Blocking ldap3 calls run on this directory's own small thread pool, each on a pooled
connection bound as the service account (StartTLS or ldaps when configured). A
connection that fails with a communication error is thrown away and the call retried
once on a fresh one, so a restarted LDAP server costs one failed attempt, not an outage;
when the server stays down every call raises :class:`Unavailable` and logins fail closed.

Users are keyed on ``entryUUID`` / ``objectGUID``, never on the DN, and get a shadow row
in the SQL ``users`` table: it gives them the integer id the store uses, a mailbox GUID
when LDAP has none, and a place for app passwords. Passwords are checked by binding as
the user. Every user-supplied value in a filter is escaped.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import queue
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import sqlalchemy as sa
from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_filter_chars

from directory.bootstrap import ensure_domain
from directory.interface import Directory
from directory.model import (
    LEGACY_DN_GROUP,
    MAILBOX_KINDS,
    Page,
    Recipient,
    RecipientKind,
    StoredCredentials,
    legacy_dn,
)
from directory.names import is_address, normalize_address, parse_login
from directory.sql import anr_prefix
from groupware.config.sections import LdapConfig
from groupware.errors import InvalidInput, Unavailable
from groupware.types import Feature, UserId
from storage.db import Database
from storage.db.tables import users

logger = logging.getLogger(__name__)
R = TypeVar("R")

_COMM_ERRORS: tuple[type[Exception], ...] = (
    ldap_exc.LDAPCommunicationError,
    ldap_exc.LDAPSocketOpenError,
    ldap_exc.LDAPSessionTerminatedByServerError,
    ldap_exc.LDAPSocketReceiveError,
    ldap_exc.LDAPSocketSendError,
    ldap_exc.LDAPMaximumRetriesError,
    ldap_exc.LDAPStartTLSError,
    ldap_exc.LDAPBindError,
    ldap_exc.LDAPSocketCloseError,
    OSError,
)
_EXCHANGE_RESOURCE_TYPES = {"16": RecipientKind.ROOM, "32": RecipientKind.EQUIPMENT}
ANR_SIZE_CAP = 100  # server-side cap: ldap3 decodes ~0.3 ms per entry


@dataclass(frozen=True)
class AttributeMap:
    """Which LDAP attribute holds each field (empty = not available)."""

    login: str = "uid"
    upn: str = ""
    mail: str = "mail"
    aliases: tuple[str, ...] = ("gwAlias", "mailLocalAddress")
    proxy_addresses: str = ""
    display_name: str = "displayName"
    cn: str = "cn"
    given_name: str = "givenName"
    surname: str = "sn"
    title: str = "title"
    department: str = "departmentNumber"
    office: str = "physicalDeliveryOfficeName"
    company: str = "o"
    phone: str = "telephoneNumber"
    mobile: str = "mobile"
    description: str = "description"
    manager: str = "manager"
    photo: str = "jpegPhoto"
    unique_id: str = "entryUUID"
    legacy_dn: str = "gwLegacyExchangeDN"
    mailbox_guid: str = "gwMailboxGUID"
    quota: str = "gwQuota"
    disabled_features: str = "gwDisabledFeature"
    disabled: str = "gwAccountDisabled"
    user_account_control: str = ""
    recipient_type: str = "gwRecipientType"
    hidden: str = "gwHidden"
    capacity: str = "gwCapacity"
    nt_hash: str = "gwNTPassword"
    member: str = "member"
    member_uid: str = "memberUid"


PRESETS: dict[str, tuple[AttributeMap, str, str, str]] = {
    "openldap": (
        AttributeMap(),
        "(&(objectClass=inetOrgPerson)(mail=*)(!(gwRecipientType=contact)))",
        "(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))(mail=*))",
        "(&(objectClass=inetOrgPerson)(mail=*)(gwRecipientType=contact))",
    ),
    "389ds": (
        AttributeMap(unique_id="nsUniqueId", disabled="nsAccountLock"),
        "(&(objectClass=inetOrgPerson)(mail=*)(!(gwRecipientType=contact)))",
        "(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))(mail=*))",
        "(&(objectClass=inetOrgPerson)(mail=*)(gwRecipientType=contact))",
    ),
    "ad": (
        AttributeMap(login="sAMAccountName", upn="userPrincipalName", aliases=(),
                     proxy_addresses="proxyAddresses", department="department",
                     company="company", photo="thumbnailPhoto", unique_id="objectGUID",
                     legacy_dn="legacyExchangeDN", disabled="",
                     user_account_control="userAccountControl",
                     recipient_type="msExchRecipientTypeDetails",
                     capacity="msExchResourceCapacity",
                     hidden="msExchHideFromAddressLists", nt_hash="", member_uid=""),
        "(&(objectCategory=person)(objectClass=user)(mail=*))",
        "(&(objectClass=group)(mail=*))",
        "(&(objectClass=contact)(mail=*))",
    ),
}


@dataclass(frozen=True)
class LdapSettings:
    uris: tuple[str, ...]
    base_dn: str
    bind_dn: str = ""
    bind_password: str = ""
    start_tls: bool = False
    ca_file: str | None = None
    verify_certificate: bool = True
    attrs: AttributeMap = field(default_factory=AttributeMap)
    user_filter: str = PRESETS["openldap"][1]
    group_filter: str = PRESETS["openldap"][2]
    contact_filter: str = PRESETS["openldap"][3]
    pool_size: int = 4
    timeout: float = 5.0
    page_size: int = 500
    cache_ttl: float = 60.0

    @classmethod
    def from_config(cls, cfg: LdapConfig) -> LdapSettings:
        base, ufilter, gfilter, cfilter = PRESETS[cfg.preset]
        overrides: dict[str, Any] = {}
        known = set(AttributeMap.__dataclass_fields__)
        for key, value in cfg.attributes.items():
            if key not in known:
                from groupware.errors import ConfigError

                raise ConfigError(f"directory.ldap.attributes.{key}",
                                  f"unknown field (known: {', '.join(sorted(known))})")
            overrides[key] = tuple(v.strip() for v in value.split(",") if v.strip()) \
                if key == "aliases" else value
        return cls(
            uris=tuple(cfg.uri), base_dn=cfg.base_dn, bind_dn=cfg.bind_dn,
            bind_password=cfg.bind_password, start_tls=cfg.start_tls,
            ca_file=str(cfg.ca_file) if cfg.ca_file else None,
            verify_certificate=cfg.verify_certificate, attrs=replace(base, **overrides),
            user_filter=cfg.user_filter or ufilter, group_filter=cfg.group_filter or gfilter,
            contact_filter=cfg.contact_filter or cfilter, pool_size=cfg.pool_size,
            timeout=cfg.timeout, page_size=cfg.page_size, cache_ttl=cfg.cache_ttl,
        )


class _VerifyingTls(Tls):  # type: ignore[misc]  # ldap3 is untyped
    """ldap3's Tls, but the certificate and the host name are checked by OpenSSL during
    the handshake (``check_hostname`` with ``server_hostname``, which also sends SNI).

    ldap3 itself turns ``check_hostname`` off and matches the name afterwards with
    ``ssl.match_hostname``, which Python 3.12 removed; its fallback ignores IP addresses
    in subjectAltName.
    """

    def __init__(self, host: str, *, verify: bool, ca_file: str | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE,
                         ca_certs_file=ca_file, version=ssl.PROTOCOL_TLS_CLIENT)
        self.host = host
        self.verify = verify

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_certs_file)
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def wrap_socket(self, connection: Connection, do_handshake: bool = False) -> None:
        connection.socket = self.context().wrap_socket(
            connection.socket, server_side=False, server_hostname=self.host,
            do_handshake_on_connect=do_handshake)


@dataclass
class _Entry:
    dn: str
    attrs: dict[str, list[Any]]
    raw: dict[str, list[bytes]]

    def first(self, name: str) -> str:
        if not name:
            return ""
        values = self.attrs.get(name.lower())
        if not values:
            return ""
        value = values[0]
        return value if isinstance(value, str) else str(value)

    def all(self, name: str) -> list[str]:
        if not name:
            return []
        return [v if isinstance(v, str) else str(v) for v in self.attrs.get(name.lower(), [])]


def _lower_keys(d: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in d.items()}


class LdapDirectory(Directory):
    name = "ldap"
    verifies_by_bind = True

    def __init__(self, settings: LdapSettings, db: Database, *,
                 organization: str = "First Organization",
                 default_domain: str = "example.test", max_group_depth: int = 16) -> None:
        self.settings = settings
        self.db = db
        self.organization = organization
        self.default_domain = default_domain
        self.max_group_depth = max_group_depth
        self._executor = ThreadPoolExecutor(max_workers=settings.pool_size,
                                            thread_name_prefix="ldap")
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._preferred = 0
        self._shadow: dict[str, tuple[int, uuid.UUID]] = {}
        self._dn_by_id: dict[str, str] = {}
        self._snapshot: tuple[float, list[Recipient], dict[str, Recipient],
                              dict[str, list[str]]] | None = None
        a = settings.attrs
        self._fetch = sorted({x for x in (
            a.login, a.upn, a.mail, a.proxy_addresses, a.display_name, a.cn, a.given_name,
            a.surname, a.title, a.department, a.office, a.company, a.phone, a.mobile,
            a.description, a.manager, a.unique_id, a.legacy_dn, a.mailbox_guid, a.quota,
            a.disabled_features, a.disabled, a.user_account_control, a.recipient_type,
            a.hidden, a.capacity, a.member, a.member_uid, *a.aliases) if x} | {"objectClass"})
        self._any_filter = (f"(|{settings.user_filter}{settings.group_filter}"
                            f"{settings.contact_filter})")
        self._warn_about_transport()

    # ------------------------------------------------------------- connections

    def _tls(self, host: str) -> Tls:
        return _VerifyingTls(host, verify=self.settings.verify_certificate,
                             ca_file=self.settings.ca_file)

    def _server(self, uri: str) -> Server:
        # A fresh Server each time: ldap3 remembers a refused address as unavailable
        # and would not try it again after the LDAP server comes back.
        srv = Server(uri, use_ssl=uri.startswith("ldaps://"), get_info=NONE,
                     connect_timeout=max(1, int(self.settings.timeout)))
        srv.tls = self._tls(srv.host)
        return srv

    def _warn_about_transport(self) -> None:
        """One warning at start-up for settings that expose passwords or trust anyone."""
        s = self.settings
        for uri in s.uris:
            host = _uri_host(uri)
            if uri.startswith("ldap://") and not s.start_tls and not _is_loopback(host):
                logger.warning("LDAP server %s is used without TLS: bind passwords cross "
                               "the network in clear (set start_tls = true or use ldaps://)",
                               uri)
        if not s.verify_certificate and (s.start_tls or any(
                u.startswith("ldaps://") for u in s.uris)):
            logger.warning("LDAP TLS certificates are not verified (verify_certificate = "
                           "false): anyone on the path can pose as the LDAP server")

    def _connect(self, user: str | None, password: str | None) -> Connection:
        """Open (and StartTLS) a connection to the first server that answers.

        Fail-over is done here rather than with ldap3's ServerPool, whose retry loop
        sleeps for seconds: a login must fail fast when every server is down.
        """
        errors: list[Exception] = []
        refused: list[str] = []
        count = len(self.settings.uris)
        for i in range(count):
            uri = self.settings.uris[(self._preferred + i) % count]
            srv = self._server(uri)
            # The credentials go to the server only with bind(), which the callers do
            # after this returns: with start_tls, never before TLS is up.
            conn = Connection(srv, user=user or None, password=password or None,
                              receive_timeout=max(1, int(self.settings.timeout)),
                              read_only=True, raise_exceptions=False, auto_referrals=False)
            try:
                conn.open()
                if self.settings.start_tls and not srv.ssl and not (
                        conn.start_tls(read_server_info=False) and conn.tls_started):
                    raise ldap_exc.LDAPStartTLSError(
                        f"StartTLS failed: {(conn.result or {}).get('description')}")
            except _COMM_ERRORS as exc:
                _quiet_unbind(conn)
                reason = _tls_refusal(exc, srv.host)
                if reason is not None:
                    logger.error("LDAP server %s refused: %s", uri, reason)
                    refused.append(f"{uri}: {reason}")
                else:
                    errors.append(exc)
                continue
            self._preferred = (self._preferred + i) % count
            return conn
        if refused:
            raise Unavailable("LDAP server refused: " + "; ".join(refused))
        raise errors[-1] if errors else ldap_exc.LDAPSocketOpenError("no LDAP server")

    def _service_connection(self) -> Connection:
        conn = self._connect(self.settings.bind_dn, self.settings.bind_password)
        if not conn.bind():
            result = conn.result
            conn.unbind()
            raise Unavailable(f"LDAP service bind failed: {result.get('description')} "
                              f"{result.get('message', '')}".strip())
        return conn

    def _with_connection(self, fn: Callable[[Connection], R]) -> R:
        """Run ``fn(conn)`` on a pooled connection; one retry after a connection error."""
        for attempt in (1, 2):
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = None
            try:
                if conn is None:
                    conn = self._service_connection()
                result = fn(conn)
            except _COMM_ERRORS as exc:
                if conn is not None:
                    _quiet_unbind(conn)
                if attempt == 2:
                    logger.error("LDAP server unavailable: %s", exc)
                    raise Unavailable(f"LDAP server unavailable: {exc}") from exc
                logger.info("LDAP connection lost (%s); reconnecting", type(exc).__name__)
                continue
            if self._idle.qsize() < self.settings.pool_size:
                self._idle.put(conn)
            else:
                _quiet_unbind(conn)
            return result
        raise AssertionError("unreachable")

    async def _run(self, fn: Callable[..., R], *args: Any) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _search(self, ldap_filter: str, *, attributes: Sequence[str] | None = None,
                base: str | None = None, scope: Any = SUBTREE,
                size_limit: int = 0) -> list[_Entry]:
        attrs = list(attributes or self._fetch)

        def go(conn: Connection) -> list[_Entry]:
            if scope is BASE or scope == BASE:
                ok = conn.search(base, ldap_filter, BASE, attributes=attrs,
                                 time_limit=int(self.settings.timeout) + 1)
                if not ok and conn.result.get("result") not in (0, 32):
                    _raise_result(conn)
                return [_to_entry(e) for e in conn.response or []
                        if e.get("type") == "searchResEntry"]
            out: list[_Entry] = []
            cookie: Any = None
            while True:
                page = self.settings.page_size if not size_limit else min(
                    self.settings.page_size, size_limit - len(out))
                conn.search(base or self.settings.base_dn, ldap_filter, SUBTREE,
                            attributes=attrs, paged_size=page, paged_cookie=cookie,
                            time_limit=int(self.settings.timeout) + 1)
                code = conn.result.get("result")
                if code not in (0, 4):  # success, sizeLimitExceeded
                    _raise_result(conn)
                out.extend(_to_entry(e) for e in conn.response or []
                           if e.get("type") == "searchResEntry")
                cookie = (conn.result.get("controls", {}).get("1.2.840.113556.1.4.319", {})
                          .get("value", {}).get("cookie"))
                if not cookie or (size_limit and len(out) >= size_limit) or code == 4:
                    return out

        return self._with_connection(go)

    # ------------------------------------------------------------- conversion

    def _unique_id(self, entry: _Entry) -> str:
        name = self.settings.attrs.unique_id
        raw = entry.raw.get(name.lower())
        if raw and len(raw[0]) == 16 and name.lower() == "objectguid":
            return str(uuid.UUID(bytes_le=bytes(raw[0])))
        value = entry.first(name)
        if not value:
            raise Unavailable(f"LDAP entry {entry.dn} has no {name}; cannot key it")
        return value.strip("{}").lower()

    def _kind(self, entry: _Entry) -> RecipientKind:
        classes = {c.lower() for c in entry.all("objectClass")}
        if classes & {"groupofnames", "groupofuniquenames", "group", "posixgroup"}:
            return RecipientKind.GROUP
        if "contact" in classes:
            return RecipientKind.CONTACT
        rtype = entry.first(self.settings.attrs.recipient_type).lower()
        if rtype in ("room", "equipment", "contact"):
            return RecipientKind(rtype)
        if rtype in _EXCHANGE_RESOURCE_TYPES:  # msExchRecipientTypeDetails
            return _EXCHANGE_RESOURCE_TYPES[rtype]
        return RecipientKind.USER

    def _addresses(self, entry: _Entry) -> tuple[str | None, tuple[str, ...]]:
        """(primary, aliases). With proxyAddresses (AD), the ``SMTP:`` one is the primary,
        as in Exchange; ``smtp:`` ones and a ``mail`` that differs are aliases; other
        address types (X500:, SIP:, X400:) are not mail addresses."""
        a = self.settings.attrs
        mail = entry.first(a.mail).lower() or None
        primary = None
        aliases: list[str] = []
        for value in entry.all(a.proxy_addresses):
            prefix, _, addr = value.partition(":")
            if prefix == "SMTP" and primary is None and is_address(addr):
                primary = addr.lower()
            elif prefix.lower() == "smtp":
                aliases.append(addr.lower())
        if primary is None:
            primary = mail
        elif mail:
            aliases.append(mail)  # a stale mail still finds the entry (_address_filter)
        for name in a.aliases:
            aliases.extend(v.lower() for v in entry.all(name))
        seen = {primary}
        out = []
        for alias in aliases:
            if alias not in seen and is_address(alias):
                seen.add(alias)
                out.append(alias)
        return primary, tuple(sorted(out))

    def _enabled(self, entry: _Entry) -> bool:
        a = self.settings.attrs
        if a.disabled and entry.first(a.disabled).upper() in ("TRUE", "1", "YES"):
            return False
        if a.user_account_control:
            try:
                return not int(entry.first(a.user_account_control) or 0) & 2
            except ValueError:
                return False
        return True

    def _features(self, entry: _Entry) -> frozenset[Feature]:
        out = set()
        for value in entry.all(self.settings.attrs.disabled_features):
            try:
                out.add(Feature(value.strip().lower()))
            except ValueError:
                logger.warning("LDAP entry %s: unknown feature %r ignored", entry.dn, value)
        return frozenset(out)

    def _convert(self, entries: list[_Entry]) -> list[Recipient]:
        """Entries -> recipients; creates shadow rows for new mailbox owners."""
        pending = []
        for entry in entries:
            kind = self._kind(entry)
            if kind in MAILBOX_KINDS:
                primary, _ = self._addresses(entry)
                if primary:
                    pending.append((self._unique_id(entry), primary, kind, entry))
        missing = [p for p in pending if p[0] not in self._shadow]
        if missing:
            for ext, (uid, guid) in self.db.run_sync(
                    "ldap_shadow", _shadow_txn,
                    [(ext, addr, kind.value, self._display(entry), entry.first(
                        self.settings.attrs.mailbox_guid)) for ext, addr, kind, entry in missing],
            ).items():
                self._shadow[ext] = (uid, guid)
        out = []
        for entry in entries:
            rec = self._recipient(entry)
            if rec is not None:
                out.append(rec)
        return out

    def _display(self, entry: _Entry) -> str:
        a = self.settings.attrs
        return entry.first(a.display_name) or entry.first(a.cn) or entry.first(a.mail)

    def _recipient(self, entry: _Entry) -> Recipient | None:
        a = self.settings.attrs
        kind = self._kind(entry)
        primary, aliases = self._addresses(entry)
        if not primary:
            return None
        ext = self._unique_id(entry)
        common: dict[str, Any] = {
            "display_name": self._display(entry), "address": primary, "aliases": aliases,
            "description": entry.first(a.description),
            "hidden": entry.first(a.hidden).upper() in ("TRUE", "1"),
        }
        if kind == RecipientKind.GROUP:
            rid = f"group:{ext}"
            self._dn_by_id[rid] = entry.dn
            return Recipient(id=rid, kind=kind,
                             legacy_dn=entry.first(a.legacy_dn) or legacy_dn(
                                 self.organization, f"group-{ext}"), **common)
        person: dict[str, Any] = {f: entry.first(getattr(a, f)) for f in (
            "given_name", "surname", "title", "department", "office", "company", "phone",
            "mobile")}
        if kind == RecipientKind.CONTACT:
            rid = f"contact:{ext}"
            self._dn_by_id[rid] = entry.dn
            return Recipient(id=rid, kind=kind, legacy_dn=entry.first(a.legacy_dn) or legacy_dn(
                self.organization, f"contact-{ext}"), **common, **person)
        shadow = self._shadow.get(ext)
        if shadow is None:
            return None
        uid, guid = shadow
        rid = f"user:{uid}"
        self._dn_by_id[rid] = entry.dn
        quota = entry.first(a.quota)
        capacity = entry.first(a.capacity)
        return Recipient(
            id=rid, kind=kind, **common, **person,
            legacy_dn=entry.first(a.legacy_dn) or legacy_dn(self.organization, str(uid)),
            user_id=UserId(uid), enabled=self._enabled(entry),
            disabled_features=self._features(entry), mailbox_guid=guid,
            quota=int(quota) if quota.isdigit() else None,
            capacity=int(capacity) if capacity.isdigit() else None,
            manager_id=self._manager_ref(entry.first(a.manager)),
            has_photo=bool(entry.attrs.get(a.photo.lower())),
        )

    def _manager_ref(self, dn: str) -> str | None:
        if not dn:
            return None
        for rid, known in self._dn_by_id.items():
            if known.lower() == dn.lower():
                return rid
        return None

    # ------------------------------------------------------------- interface

    def _small_fetch(self) -> list[str]:
        """Attributes of lookups of a few entries: with the photo (for has_photo)."""
        photo = self.settings.attrs.photo
        return [*self._fetch, photo] if photo else list(self._fetch)

    def _find(self, ldap_filter: str, size_limit: int = 0) -> list[Recipient]:
        """Search and convert; lookups of a few entries also fetch the photo (has_photo)."""
        attrs = self._small_fetch() if size_limit and size_limit <= 20 else self._fetch
        return self._convert(self._search(ldap_filter, attributes=attrs, size_limit=size_limit))

    async def domains(self) -> list[str]:
        snapshot = await self._run(self._get_snapshot)
        return sorted({r.address.split("@")[1] for r in snapshot[1] if r.address})

    async def resolve_login(self, login: str) -> Recipient | None:
        name = parse_login(login)
        return await self._run(self._resolve_login, name.localpart, name.domain, name.netbios)

    def _address_filter(self, address: str, *, login: bool = False) -> str:
        """Entries with this mail address; with ``login``, also this userPrincipalName
        (a login name, not a mail address: mail to it is not delivered, as in Exchange)."""
        a = self.settings.attrs
        v = escape_filter_chars(address)
        parts = [f"({a.mail}={v})"] + [f"({n}={v})" for n in a.aliases]
        if a.proxy_addresses:  # matches SMTP: too: proxyAddresses compare without case
            parts.append(f"({a.proxy_addresses}=smtp:{v})")
        if a.upn and login:
            parts.append(f"({a.upn}={v})")
        return "(|" + "".join(parts) + ")"

    def _netbios_names(self, entry: _Entry, rec: Recipient) -> set[str]:
        """The Windows domains ``DOMAIN\\user`` may name for this entry: the first label of
        its mail domain, of its UPN suffix, and of the domain in its DN (DC=corp,... is
        the AD domain corp.example.com, NetBIOS name CORP by default)."""
        names = set()
        for addr in (rec.address or "", entry.first(self.settings.attrs.upn)):
            if "@" in addr:
                names.add(addr.rsplit("@", 1)[1].split(".")[0].lower())
        dcs = re.findall(r"(?:^|,)\s*dc\s*=\s*([^,+]+)", entry.dn, flags=re.IGNORECASE)
        if dcs:
            names.add(dcs[0].strip().lower())
        return names

    def _resolve_login(self, localpart: str, domain: str | None,
                       netbios: str | None) -> Recipient | None:
        s = self.settings
        if domain is not None:
            who = self._address_filter(f"{localpart}@{domain}", login=True)
        else:
            lp = escape_filter_chars(localpart)
            who = (f"(|({s.attrs.login}={lp})" + self._address_filter(
                f"{localpart}@{self.default_domain}", login=True)[2:-1] + ")")
        entries = self._search(f"(&{s.user_filter}{who})", attributes=self._small_fetch(),
                               size_limit=20)
        by_dn = {e.dn.lower(): e for e in entries}
        found = [r for r in self._convert(entries) if r.is_mailbox]
        if netbios and domain is None:
            def names(r: Recipient) -> set[str]:
                entry = by_dn.get(self._dn_by_id.get(r.id, "").lower())
                return self._netbios_names(entry, r) if entry else set()

            found = [r for r in found if netbios in names(r)]
        if len(found) > 1:
            preferred = [r for r in found if r.address and
                         r.address.endswith("@" + self.default_domain)]
            if len(preferred) != 1:
                logger.info("login name %r is ambiguous in LDAP (%d entries)", localpart,
                            len(found))
                return None
            found = preferred
        return found[0] if found else None

    async def get(self, recipient_id: str) -> Recipient | None:
        return await self._run(self._get, recipient_id)

    def _get(self, recipient_id: str) -> Recipient | None:
        kind, _, key = str(recipient_id).partition(":")
        if kind == "user" and key.isdigit() and len(key) < 18:
            ext = self.db.run_sync("ldap_shadow_ext", _external_id_txn, int(key))
            if ext is None:
                return None
        elif kind in ("group", "contact") and re.fullmatch(r"[0-9a-f-]{32,36}", key):
            ext = key
        else:
            return None
        found = self._find(self._by_unique_id(ext), size_limit=2)
        return next((r for r in found if r.id == recipient_id), None)

    def _by_unique_id(self, ext: str) -> str:
        name = self.settings.attrs.unique_id
        if name.lower() == "objectguid":
            raw = uuid.UUID(ext).bytes_le
            return f"({name}=" + "".join(f"\\{b:02x}" for b in raw) + ")"
        return f"({name}={escape_filter_chars(ext)})"

    async def get_user(self, user_id: UserId) -> Recipient | None:
        return await self.get(f"user:{int(user_id)}")

    async def find_address(self, address: str) -> Recipient | None:
        try:
            address = normalize_address(address)
        except InvalidInput:
            return None
        found = await self._run(self._find,
                                f"(&{self._any_filter}{self._address_filter(address)})", 5)
        return found[0] if len(found) == 1 else None

    async def find_legacy_dn(self, dn: str) -> Recipient | None:
        if not dn or len(dn) > 512:
            return None
        prefix = f"/o={self.organization}{LEGACY_DN_GROUP}/cn=".lower()
        if dn.lower().startswith(prefix):
            cn = dn[len(prefix):].lower()
            if cn.isdigit():
                return await self.get(f"user:{cn}")
            for kind in ("group", "contact"):
                if cn.startswith(kind + "-"):
                    return await self.get(f"{kind}:{cn[len(kind) + 1:]}")
        a = self.settings.attrs
        if not a.legacy_dn:
            return None
        found = await self._run(
            self._find, f"(&{self._any_filter}({a.legacy_dn}={escape_filter_chars(dn)}))", 2)
        return found[0] if len(found) == 1 else None

    async def anr(self, query: str, *, limit: int = 50,
                  kinds: Iterable[RecipientKind] | None = None) -> list[Recipient]:
        prefix = anr_prefix(query)
        if prefix is None:
            return []
        wanted = frozenset(kinds) if kinds is not None else frozenset(RecipientKind)
        a = self.settings.attrs
        v = escape_filter_chars(prefix)
        names = [x for x in (a.display_name, a.cn, a.given_name, a.surname, a.mail, a.login,
                             *a.aliases) if x]
        parts = [f"({n}={v}*)" for n in names] + [f"({a.display_name}=* {v}*)"]
        if a.proxy_addresses:
            parts.append(f"({a.proxy_addresses}=smtp:{v}*)")
        ldap_filter = f"(&{self._any_filter}(|{''.join(parts)}))"
        found = await self._run(self._find, ldap_filter, ANR_SIZE_CAP)
        found = [r for r in found if not r.hidden and r.kind in wanted]
        found.sort(key=_sort_key)
        return found[:max(0, limit)]

    def _get_snapshot(self) -> tuple[float, list[Recipient], dict[str, Recipient],
                                     dict[str, list[str]]]:
        """Every entry (sorted), by DN, and group DN -> member DNs; cached for cache_ttl."""
        snap = self._snapshot
        if snap is not None and snap[0] > time.monotonic():
            return snap
        entries = self._search(self._any_filter)
        recipients = self._convert(entries)
        by_dn: dict[str, Recipient] = {}
        members: dict[str, list[str]] = {}
        by_uid: dict[str, str] = {}
        a = self.settings.attrs
        for entry in entries:
            login = entry.first(a.login)
            if login:
                by_uid[login.lower()] = entry.dn.lower()
        for rec, entry in zip(recipients, [e for e in entries if self._addresses(e)[0]
                                           and self._unique_id(e)], strict=False):
            by_dn[entry.dn.lower()] = rec
        for entry in entries:
            if self._kind(entry) == RecipientKind.GROUP:
                dns = [d.lower() for d in entry.all(a.member) + entry.all("uniqueMember")]
                dns += [by_uid[u.lower()] for u in entry.all(a.member_uid) if u.lower() in by_uid]
                members[entry.dn.lower()] = dns
        recipients.sort(key=_sort_key)
        snap = (time.monotonic() + self.settings.cache_ttl, recipients, by_dn, members)
        self._snapshot = snap
        return snap

    async def list_recipients(self, *, offset: int = 0, limit: int = 100,
                              kinds: Iterable[RecipientKind] | None = None,
                              include_hidden: bool = False) -> Page:
        wanted = frozenset(kinds) if kinds is not None else frozenset(RecipientKind)
        snap = await self._run(self._get_snapshot)
        rows = [r for r in snap[1] if r.kind in wanted and (include_hidden or not r.hidden)]
        offset = max(0, offset)
        return Page(len(rows), offset, tuple(rows[offset:offset + max(0, limit)]))

    def _dn_of(self, snap: Any, recipient_id: str) -> str | None:
        dn = self._dn_by_id.get(recipient_id)
        return dn.lower() if dn else None

    async def group_members(self, group_id: str) -> list[Recipient]:
        snap = await self._run(self._get_snapshot)
        dn = self._dn_of(snap, group_id)
        if dn is None or dn not in snap[3]:
            from groupware.errors import NotFound

            raise NotFound(f"no group {group_id}")
        found = [snap[2][m] for m in snap[3][dn] if m in snap[2]]
        return sorted(found, key=_sort_key)

    async def expand_group(self, group_id: str) -> list[Recipient]:
        snap = await self._run(self._get_snapshot)
        start = self._dn_of(snap, group_id)
        if start is None or start not in snap[3]:
            from groupware.errors import NotFound

            raise NotFound(f"no group {group_id}")
        seen_groups = {start}
        frontier = [start]
        out: dict[str, Recipient] = {}
        depth = 0
        while frontier and depth < self.max_group_depth:
            nxt = []
            for g in frontier:
                for m in snap[3].get(g, []):
                    if m in snap[3]:
                        if m not in seen_groups:
                            seen_groups.add(m)
                            nxt.append(m)
                    elif m in snap[2]:
                        out[snap[2][m].id] = snap[2][m]
            frontier = nxt
            depth += 1
        return sorted(out.values(), key=_sort_key)

    async def member_of(self, recipient_id: str) -> list[Recipient]:
        snap = await self._run(self._get_snapshot)
        dn = self._dn_of(snap, recipient_id)
        if dn is None:
            return []
        return sorted((snap[2][g] for g, ms in snap[3].items() if dn in ms and g in snap[2]),
                      key=_sort_key)

    async def get_photo(self, recipient_id: str) -> bytes | None:
        return await self._run(self._photo, recipient_id)

    def _photo(self, recipient_id: str) -> bytes | None:
        dn = self._dn_by_id.get(recipient_id)
        if dn is None:
            if self._get(recipient_id) is None:
                return None
            dn = self._dn_by_id.get(recipient_id)
        photo_attr = self.settings.attrs.photo
        if dn is None or not photo_attr:
            return None
        entries = self._search("(objectClass=*)", attributes=[photo_attr], base=dn, scope=BASE)
        if not entries:
            return None
        raw = entries[0].raw.get(photo_attr.lower())
        return bytes(raw[0]) if raw else None

    async def get_credentials(self, user_id: UserId) -> StoredCredentials | None:
        name = self.settings.attrs.nt_hash
        if not name:
            return None
        return await self._run(self._credentials, user_id, name)

    def _credentials(self, user_id: UserId, name: str) -> StoredCredentials | None:
        rid = f"user:{int(user_id)}"
        dn = self._dn_by_id.get(rid)
        if dn is None and self._get(rid) is not None:
            dn = self._dn_by_id.get(rid)
        if dn is None:
            return None
        entries = self._search("(objectClass=*)", attributes=[name], base=dn, scope=BASE)
        value = entries[0].first(name) if entries else ""
        return StoredCredentials(None, value.upper() or None, 0)

    async def check_bind(self, user: Recipient, password: str) -> bool:
        if not password:  # an empty password would be an anonymous bind: never a login
            return False
        return await self._run(self._bind, user, password)

    def _bind(self, user: Recipient, password: str) -> bool:
        dn = self._dn_by_id.get(user.id)
        if dn is None:
            if self._get(user.id) is None:
                return False
            dn = self._dn_by_id.get(user.id)
        if dn is None:
            return False
        try:
            conn = self._connect(dn, password)
            try:
                ok = bool(conn.bind())
                code = conn.result.get("result")
            finally:
                _quiet_unbind(conn)
        except _COMM_ERRORS as exc:
            raise Unavailable(f"LDAP server unavailable: {exc}") from exc
        if not ok and code != 49:  # 49 invalidCredentials; anything else is trouble
            raise Unavailable(f"LDAP bind of {dn} failed with result {code}")
        return ok

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        while True:
            try:
                _quiet_unbind(self._idle.get_nowait())
            except queue.Empty:
                break
        self._executor.shutdown(wait=False, cancel_futures=True)


def _sort_key(r: Recipient) -> tuple[str, str, str]:
    return (r.display_name.lower(), r.address or "", r.id)


def _to_entry(e: dict[str, Any]) -> _Entry:
    attrs = _lower_keys(dict(e.get("attributes") or {}))
    for k, v in list(attrs.items()):
        if not isinstance(v, list):
            attrs[k] = [v] if v not in (None, "") else []
    return _Entry(e["dn"], attrs, _lower_keys(dict(e.get("raw_attributes") or {})))


def _uri_host(uri: str) -> str:
    rest = uri.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_refusal(exc: BaseException, host: str) -> str | None:
    """Why TLS with the server was refused, when ``exc`` (or what it wraps) says so.

    ldap3 mixes the original exception's type into its own (or keeps only its text) and
    chains it; the certificate errors of ``ssl`` are found either way.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
                seen):
            # ldap3 rebuilds the ssl exception from its text, losing verify_message.
            detail = getattr(seen, "verify_message", None) or str(seen).split(
                "certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" '\",).")
            if "mismatch" in detail.lower():  # "Hostname mismatch, certificate is not ..."
                return (f"TLS certificate is not valid for {host}, the host in the URI "
                        "(use a name the certificate was issued for)")
            return (f"TLS certificate does not verify ({detail or 'unknown reason'}); "
                    "check ca_file (the CA that signed the server certificate)")
        if isinstance(seen, ldap_exc.LDAPStartTLSError) and not isinstance(seen, OSError):
            return f"StartTLS did not succeed ({seen}); no credentials were sent"
        seen = seen.__cause__ or seen.__context__
    return None


def _raise_result(conn: Connection) -> None:
    result = conn.result
    code = result.get("result")
    if code in (51, 52, 80, 81, 91):  # busy, unavailable, other, server down, connect error
        raise ldap_exc.LDAPCommunicationError(result.get("description"))
    raise Unavailable(f"LDAP search failed: {result.get('description')} "
                      f"{result.get('message', '')}".strip())


def _quiet_unbind(conn: Connection) -> None:
    try:
        conn.unbind()
    except Exception as exc:  # already broken; nothing to release
        logger.debug("unbind failed: %s", exc)


def _shadow_txn(conn: sa.Connection, items: list[tuple[str, str, str, str, str]]
                ) -> dict[str, tuple[int, uuid.UUID]]:
    """Find or create shadow ``users`` rows for LDAP mailbox owners."""
    out: dict[str, tuple[int, uuid.UUID]] = {}
    for ext, address, kind, display, ldap_guid in items:
        row = conn.execute(sa.select(users.c.id, users.c.mailbox_guid)
                           .where(users.c.external_id == ext)).first()
        localpart, domain = address.split("@", 1)
        domain_id, _ = ensure_domain(conn, domain)
        try:
            guid = uuid.UUID(ldap_guid) if ldap_guid else None
        except ValueError:
            guid = None
        if row is not None:
            out[ext] = (int(row.id), guid or uuid.UUID(row.mailbox_guid))
            continue
        # A stale shadow row may still hold this address (the LDAP entry was replaced).
        stale = conn.execute(sa.select(users.c.id).where(
            users.c.domain_id == domain_id, users.c.localpart == localpart[:64])).scalar()
        if stale is not None:
            conn.execute(users.update().where(users.c.id == stale)
                         .values(localpart=f"~{stale}"))
        guid = guid or uuid.uuid4()
        result = conn.execute(users.insert().values(
            domain_id=domain_id, localpart=localpart[:64], display_name=display[:256],
            kind=kind, external_id=ext, mailbox_guid=str(guid),
            created_at=datetime.datetime.now(datetime.UTC)))
        assert result.inserted_primary_key is not None
        out[ext] = (int(result.inserted_primary_key[0]), guid)
    return out


def _external_id_txn(conn: sa.Connection, user_id: int) -> str | None:
    value = conn.execute(sa.select(users.c.external_id).where(users.c.id == user_id)).scalar()
    return str(value) if value else None
