"""The outbound SMTP client of the queue: one session per (message, route), in a thread.

Python's ``smtplib`` speaks the client side completely (EHLO, STARTTLS, AUTH, SIZE,
SMTPUTF8, per-recipient replies) and runs in the queue's own small thread pool, so the
reactor never waits on a remote server. Routes are a smarthost from ``[queue]`` or the
MX hosts of the recipient's domain (dnspython; null MX per RFC 7505, implicit MX per
RFC 5321 5.1).
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from groupware.config.sections import QueueConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient in one attempt."""

    code: int
    """SMTP reply code; 0 for a connection-level temporary failure."""
    text: str
    remote_mta: str = ""
    dsn_passed: bool = False
    """The remote server took NOTIFY/ORCPT itself (it reports success, not us)."""

    @property
    def delivered(self) -> bool:
        return 200 <= self.code < 300

    @property
    def permanent(self) -> bool:
        return self.code >= 500


@dataclass(frozen=True)
class OutRecipient:
    address: str
    notify: str | None
    orcpt: str | None


class RouteError(Exception):
    """No host to try: ``permanent`` (no such domain, null MX) or not."""

    def __init__(self, text: str, permanent: bool) -> None:
        super().__init__(text)
        self.permanent = permanent


def mx_hosts(domain: str, config: QueueConfig) -> list[str]:
    """Hosts to try for ``domain`` in preference order."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not config.dns_servers)
    if config.dns_servers:
        servers, port = [], 53
        for item in config.dns_servers:
            host, sep, p = item.rpartition(":") if item.count(":") == 1 else ("", "", item)
            servers.append(host if sep else p)
            if sep:
                port = int(p)
        resolver.nameservers = servers
        resolver.port = port
    resolver.lifetime = config.connect_timeout
    try:
        answer = resolver.resolve(domain, "MX")
        records = sorted((r.preference, str(r.exchange).rstrip(".")) for r in answer)
        if len(records) == 1 and records[0][1] in ("", "."):
            raise RouteError(f"{domain} accepts no mail (null MX)", True)
        return [host for _, host in records if host]
    except dns.resolver.NXDOMAIN:
        raise RouteError(f"domain {domain} does not exist", True) from None
    except dns.resolver.NoAnswer:
        pass
    except dns.exception.DNSException as exc:
        raise RouteError(f"MX lookup for {domain} failed: {exc}", False) from None
    try:
        for rtype in ("A", "AAAA"):
            try:
                resolver.resolve(domain, rtype)
                return [domain]
            except dns.resolver.NoAnswer:
                continue
    except dns.resolver.NXDOMAIN:
        raise RouteError(f"domain {domain} does not exist", True) from None
    except dns.exception.DNSException as exc:
        raise RouteError(f"address lookup for {domain} failed: {exc}", False) from None
    raise RouteError(f"{domain} has no MX and no address", True)


def _tls_context(config: QueueConfig) -> ssl.SSLContext:
    if config.verify_certificate:
        ctx = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def send(config: QueueConfig, helo: str, *, sender: str, recipients: Sequence[OutRecipient],
         data: bytes, domain: str, smtputf8: bool, envid: str | None,
         ret: str | None) -> list[Outcome]:
    """Deliver to one route (smarthost or ``domain``'s MX); one outcome per recipient."""
    smarthost = bool(config.relay_host)
    try:
        hosts = [config.relay_host] if smarthost else mx_hosts(domain, config)
    except RouteError as exc:
        code = 550 if exc.permanent else 0
        status = "5.1.2" if exc.permanent else "4.4.3"
        return [Outcome(code, f"{code or 451} {status} {exc}")] * len(recipients)
    port = config.relay_port if smarthost else config.mx_port
    last = Outcome(0, "451 4.4.1 no host could be reached")
    for host in hosts:
        try:
            return _session(config, helo, host, port, smarthost, sender=sender,
                            recipients=recipients, data=data, smtputf8=smtputf8,
                            envid=envid, ret=ret)
        except (OSError, smtplib.SMTPException) as exc:
            logger.info("queue: %s:%d failed: %s", host, port, exc)
            last = Outcome(0, f"451 4.4.1 {host}: {exc}", host)
            if isinstance(exc, _PermanentSession):
                return [exc.outcome] * len(recipients)
    return [last] * len(recipients)


class _PermanentSession(smtplib.SMTPException):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.text)
        self.outcome = outcome


def _text(code: int, resp: bytes | str) -> str:
    text = resp.decode("utf-8", errors="replace") if isinstance(resp, bytes) else resp
    return f"{code} {' '.join(text.split())}"


def _session(config: QueueConfig, helo: str, host: str, port: int, smarthost: bool, *,
             sender: str, recipients: Sequence[OutRecipient], data: bytes, smtputf8: bool,
             envid: str | None, ret: str | None) -> list[Outcome]:
    timeout = config.command_timeout
    tls_mode = config.relay_tls if smarthost else "opportunistic"
    ctx = _tls_context(config)
    client: smtplib.SMTP
    if tls_mode == "implicit":
        client = smtplib.SMTP_SSL(host, port, local_hostname=helo,
                                  timeout=config.connect_timeout, context=ctx)
    else:
        client = smtplib.SMTP(host, port, local_hostname=helo, timeout=config.connect_timeout)
    assert client.sock is not None
    client.sock.settimeout(timeout)
    try:
        client.ehlo_or_helo_if_needed()
        if tls_mode in ("starttls", "opportunistic") and client.has_extn("starttls"):
            client.starttls(context=ctx)
            client.ehlo()
        elif tls_mode == "starttls":
            raise smtplib.SMTPException(f"{host} does not offer STARTTLS")
        if smarthost and config.relay_username:
            try:
                client.login(config.relay_username, config.relay_password)
            except smtplib.SMTPAuthenticationError as exc:
                raise smtplib.SMTPException(f"AUTH at {host} failed: {exc}") from None
        dsn = client.has_extn("dsn")
        utf8 = smtputf8 or not sender.isascii() or not all(
            r.address.isascii() for r in recipients)
        if utf8 and not client.has_extn("smtputf8"):
            raise _PermanentSession(Outcome(
                553, f"553 5.6.7 {host} does not support SMTPUTF8", host))
        opts: list[str] = []
        if client.has_extn("size"):
            opts.append(f"SIZE={len(data)}")
        if client.has_extn("8bitmime") and not data.isascii():
            opts.append("BODY=8BITMIME")
        if utf8:
            opts.append("SMTPUTF8")
        if dsn:
            if ret:
                opts.append(f"RET={ret}")
            if envid:
                from groupware.handlers.queue_dsn import xtext

                opts.append(f"ENVID={xtext(envid)}")
        code, resp = client.mail(sender, opts)
        if code != 250:
            out = Outcome(code if code >= 400 else 451, _text(code, resp), host)
            if out.permanent:
                raise _PermanentSession(out)
            return [out] * len(recipients)
        outcomes: list[Outcome | None] = []
        accepted = 0
        for r in recipients:
            ropts: list[str] = []
            if dsn and r.notify:
                ropts.append(f"NOTIFY={r.notify}")
            if dsn and r.orcpt:
                from groupware.handlers.queue_dsn import xtext

                kind, _, addr = r.orcpt.partition(";")
                ropts.append(f"ORCPT={kind};{xtext(addr)}")
            code, resp = client.rcpt(r.address, ropts)
            if code in (250, 251):
                outcomes.append(None)
                accepted += 1
            else:
                outcomes.append(Outcome(code if code >= 400 else 451, _text(code, resp), host))
        if accepted:
            code, resp = client.data(data)
            final = Outcome(code, _text(code, resp), host, dsn_passed=dsn)
            outcomes = [final if o is None else o for o in outcomes]
        with contextlib.suppress(OSError, smtplib.SMTPException):
            client.quit()
        return [o for o in outcomes if o is not None]
    finally:
        client.close()
