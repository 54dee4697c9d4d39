"""Typed configuration sections.

Every field documents its default and effect; ``conf/groupware.toml`` repeats the same
text for admins. ``validate(path)`` checks what a type alone cannot.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path

from groupware.config.convert import secret
from groupware.errors import ConfigError


class TlsMode(enum.StrEnum):
    """How a listener uses TLS."""

    NONE = "none"            # plain text only
    STARTTLS = "starttls"    # plain text, upgraded by the protocol's STARTTLS/STLS command
    IMPLICIT = "implicit"    # TLS from the first byte (993, 995, 465, 443)


class Protocol(enum.StrEnum):
    """Every protocol a listener can serve (some arrive in later versions)."""

    HTTP = "http"            # Autodiscover, MAPI/HTTP, RPC/HTTP, ActiveSync, /healthz, /metrics
    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"            # inbound MX for local domains
    SUBMISSION = "submission"  # authenticated submission (587 STARTTLS / 465 implicit)
    LMTP = "lmtp"
    XMPP = "xmpp"
    RPC = "rpc"              # DCE/RPC ncacn_ip_tcp (NSPI, RFR, EMSMDB)
    AUTH_HTTP = "auth_http"  # Prosody mod_auth_http / nginx auth endpoint (loopback)


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True)
class ServerConfig:
    """[server] — identity and process-wide settings."""

    data_dir: Path = Path("var")
    """Where the database, certificate, blobs and mail live (relative to the cwd)."""
    hostname: str = "localhost"
    """Public host name: used in greetings, certificates, Autodiscover URLs."""
    organization: str = "First Organization"
    """Exchange organization name (appears in legacyExchangeDN /o=...)."""
    default_domain: str = "example.test"
    """Mail domain created by ``groupware init`` when none is given."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING, ERROR."""
    log_format: LogFormat = LogFormat.TEXT
    """``text`` for humans, ``json`` (one object a line) for log collectors."""
    shutdown_timeout: float = 10.0
    """Seconds in-flight work gets to finish after SIGTERM before connections are cut."""
    thread_pool_size: int = 8
    """Threads for blocking work (SQL, LDAP, hashing); also the database pool size."""

    def validate(self, path: str) -> None:
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"{path}.log_level", f"unknown level {self.log_level!r}")
        if not 1 <= self.thread_pool_size <= 256:
            raise ConfigError(f"{path}.thread_pool_size", "must be between 1 and 256")
        if self.shutdown_timeout < 0:
            raise ConfigError(f"{path}.shutdown_timeout", "must not be negative")
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", self.hostname):
            raise ConfigError(f"{path}.hostname", f"not a host name: {self.hostname!r}")


@dataclass(frozen=True)
class DatabaseConfig:
    """[database] — the SQL database (directory, index, sql backend, queues)."""

    url: str = secret("", url=True)
    """Empty: SQLite file <data_dir>/groupware.sqlite3. Production:
    ``postgresql+psycopg://user:pass@host/db``."""
    busy_timeout: float = 30.0
    """SQLite: seconds to wait for a lock before failing (then retried)."""
    max_retries: int = 5
    """Times a transaction is retried after a serialization failure or deadlock."""
    echo: bool = False
    """Log every SQL statement (debugging only)."""

    def validate(self, path: str) -> None:
        if self.url and "://" not in self.url and not self.url.startswith("sqlite:"):
            raise ConfigError(f"{path}.url", "expected a URL such as postgresql+psycopg://...")
        if self.max_retries < 0:
            raise ConfigError(f"{path}.max_retries", "must not be negative")


@dataclass(frozen=True)
class TlsConfig:
    """[tls] — certificate for every TLS listener."""

    certificate: Path | None = None
    """PEM certificate chain; empty = a self-signed one generated in <data_dir>/tls."""
    private_key: Path | None = None
    """PEM private key matching ``certificate``."""
    minimum_version: str = "TLSv1.2"
    """Lowest TLS version accepted: TLSv1.2 or TLSv1.3."""

    def validate(self, path: str) -> None:
        if (self.certificate is None) != (self.private_key is None):
            raise ConfigError(f"{path}.private_key", "certificate and private_key go together")
        if self.minimum_version not in ("TLSv1.2", "TLSv1.3"):
            raise ConfigError(f"{path}.minimum_version", "expected TLSv1.2 or TLSv1.3")


@dataclass(frozen=True)
class ListenerConfig:
    """One [[listeners]] entry: a protocol on an address and port."""

    protocol: Protocol
    port: int
    address: str = "0.0.0.0"
    tls: TlsMode = TlsMode.NONE
    name: str = ""
    """Shown in logs and in the start-up table; defaults to protocol + port."""
    enabled: bool = True

    def validate(self, path: str) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{path}.port", f"{self.port} is not a TCP port")
        if self.tls is TlsMode.STARTTLS and self.protocol in (Protocol.HTTP, Protocol.RPC):
            raise ConfigError(f"{path}.tls", f"{self.protocol} has no STARTTLS; use implicit")

    @property
    def label(self) -> str:
        return self.name or f"{self.protocol}-{self.port}"


@dataclass(frozen=True)
class NotifierConfig:
    """[notifier] — how change events reach long-polls (IDLE, Ping, NotificationWait)."""

    backend: str = "inprocess"
    """``inprocess`` for one node; ``redis`` to share events between nodes."""
    redis_url: str = secret("redis://127.0.0.1:6379/0", url=True)

    def validate(self, path: str) -> None:
        if self.backend not in ("inprocess", "redis"):
            raise ConfigError(f"{path}.backend", "expected 'inprocess' or 'redis'")


@dataclass(frozen=True)
class MetricsConfig:
    """[metrics] — Prometheus exposition on the HTTP listeners."""

    enabled: bool = True
    """Serve /metrics on HTTP listeners bound to loopback (or everywhere, see below)."""
    public: bool = False
    """Also serve /metrics on listeners bound to non-loopback addresses."""


# The unprivileged defaults of the embedded setup; README's port table mirrors it.
# ``available`` says whether this version ships the protocol; the others are listed so
# the table is complete, and are switched on by the release that brings them.
@dataclass(frozen=True)
class DefaultListener:
    protocol: Protocol
    port: int
    tls: TlsMode
    production_port: int
    available: bool


DEFAULT_LISTENERS: tuple[DefaultListener, ...] = (
    DefaultListener(Protocol.HTTP, 8080, TlsMode.NONE, 80, True),
    DefaultListener(Protocol.HTTP, 8443, TlsMode.IMPLICIT, 443, True),
    DefaultListener(Protocol.IMAP, 1143, TlsMode.STARTTLS, 143, False),
    DefaultListener(Protocol.IMAP, 1993, TlsMode.IMPLICIT, 993, False),
    DefaultListener(Protocol.POP3, 1110, TlsMode.STARTTLS, 110, False),
    DefaultListener(Protocol.POP3, 1995, TlsMode.IMPLICIT, 995, False),
    DefaultListener(Protocol.SMTP, 2525, TlsMode.STARTTLS, 25, False),
    DefaultListener(Protocol.SUBMISSION, 1587, TlsMode.STARTTLS, 587, False),
    DefaultListener(Protocol.SUBMISSION, 1465, TlsMode.IMPLICIT, 465, False),
    DefaultListener(Protocol.LMTP, 2424, TlsMode.NONE, 24, False),
    DefaultListener(Protocol.XMPP, 5222, TlsMode.STARTTLS, 5222, False),
    DefaultListener(Protocol.RPC, 6001, TlsMode.NONE, 135, False),
)


def default_listeners() -> list[ListenerConfig]:
    """The listeners used when the config has no [[listeners]] at all."""
    return [
        ListenerConfig(
            protocol=d.protocol,
            port=d.port,
            address="127.0.0.1" if d.protocol is Protocol.LMTP else "0.0.0.0",
            tls=d.tls,
        )
        for d in DEFAULT_LISTENERS
        if d.available
    ]


@dataclass(frozen=True)
class Config:
    """The whole configuration, one attribute per TOML section."""

    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    notifier: NotifierConfig = field(default_factory=NotifierConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    listeners: list[ListenerConfig] = field(default_factory=default_listeners)

    def validate(self, path: str) -> None:
        seen: dict[tuple[str, int], str] = {}
        for i, lst in enumerate(self.listeners):
            if not lst.enabled or lst.port == 0:
                continue
            key = (lst.address, lst.port)
            if key in seen:
                raise ConfigError(
                    f"listeners[{i}].port",
                    f"{lst.address}:{lst.port} is already used by listener {seen[key]}",
                )
            seen[key] = lst.label

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'groupware.sqlite3').absolute()}"
