"""Typed configuration sections.

Every field documents its default and effect; ``conf/groupware.toml`` repeats the same
text for admins. ``validate(path)`` checks what a type alone cannot.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    public_url: str = ""
    """Base URL clients reach the HTTPS listener at (Autodiscover answers with it);
    empty = ``https://<hostname>`` plus the port of the first implicit-TLS HTTP listener
    when that is not 443."""

    def validate(self, path: str) -> None:
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"{path}.log_level", f"unknown level {self.log_level!r}")
        if not 1 <= self.thread_pool_size <= 256:
            raise ConfigError(f"{path}.thread_pool_size", "must be between 1 and 256")
        if self.shutdown_timeout < 0:
            raise ConfigError(f"{path}.shutdown_timeout", "must not be negative")
        if self.public_url and not re.fullmatch(r"https?://[^/\s]+/?", self.public_url):
            raise ConfigError(f"{path}.public_url", "expected https://host[:port]")
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


LDAP_PRESETS = ("openldap", "ad", "389ds")


@dataclass(frozen=True)
class LdapConfig:
    """[directory.ldap] — users and groups from an LDAP server (OpenLDAP, AD, 389-ds)."""

    uri: list[str] = field(default_factory=lambda: ["ldap://127.0.0.1:389"])
    """One or more ``ldap://`` / ``ldaps://`` URIs; several form a fail-over pool."""
    start_tls: bool = False
    """Upgrade ``ldap://`` connections with StartTLS (required unless on loopback)."""
    ca_file: Path | None = None
    """PEM CA bundle to verify the server certificate; empty = the system store."""
    verify_certificate: bool = True
    """Refuse servers whose certificate does not verify (turn off only for tests)."""
    bind_dn: str = ""
    """Service account used for searches; empty = anonymous."""
    bind_password: str = secret("")
    base_dn: str = ""
    """Search base for users, groups and contacts (required)."""
    preset: str = "openldap"
    """Attribute map and filters to start from: openldap, ad (AD / Samba AD), 389ds."""
    user_filter: str = ""
    """Filter selecting mail users; empty = the preset's."""
    group_filter: str = ""
    """Filter selecting groups; empty = the preset's."""
    contact_filter: str = ""
    """Filter selecting external contacts; empty = the preset's."""
    attributes: dict[str, str] = field(default_factory=dict)
    """Overrides of the preset's attribute map, e.g. ``{ aliases = "mailLocalAddress" }``."""
    pool_size: int = 4
    """Connections kept open to the server (searches run in parallel up to this)."""
    timeout: float = 5.0
    """Seconds to connect or to wait for an answer before the server counts as down."""
    page_size: int = 500
    """Simple paged results page size (AD answers at most 1,000 entries without it)."""
    cache_ttl: float = 60.0
    """Seconds a full listing (sorted GAL pages) is reused before it is searched again."""

    def validate(self, path: str) -> None:
        if self.preset not in LDAP_PRESETS:
            raise ConfigError(f"{path}.preset", f"expected one of {', '.join(LDAP_PRESETS)}")
        for i, uri in enumerate(self.uri):
            if not uri.startswith(("ldap://", "ldaps://", "ldapi://")):
                raise ConfigError(f"{path}.uri[{i}]", f"not an LDAP URI: {uri!r}")
        if not 1 <= self.pool_size <= 64:
            raise ConfigError(f"{path}.pool_size", "must be between 1 and 64")
        if not 1 <= self.page_size <= 10000:
            raise ConfigError(f"{path}.page_size", "must be between 1 and 10000")


@dataclass(frozen=True)
class DirectoryConfig:
    """[directory] — where users, groups, resources and contacts come from."""

    backend: str = "sql"
    """``sql`` (same database, managed with the CLI) or ``ldap`` (see [directory.ldap])."""
    default_quota_mb: int = 0
    """Mailbox quota in MiB for users without their own; 0 = unlimited."""
    max_group_depth: int = 16
    """Nesting depth at which group expansion stops (cycles are always cut)."""
    ldap: LdapConfig = field(default_factory=LdapConfig)

    def validate(self, path: str) -> None:
        if self.backend not in ("sql", "ldap"):
            raise ConfigError(f"{path}.backend", "expected 'sql' or 'ldap'")
        if self.backend == "ldap" and not self.ldap.base_dn:
            raise ConfigError(f"{path}.ldap.base_dn", "required when backend is 'ldap'")
        if self.default_quota_mb < 0:
            raise ConfigError(f"{path}.default_quota_mb", "must not be negative")


@dataclass(frozen=True)
class AuthConfig:
    """[auth] — the one authentication core behind every protocol and adapter."""

    argon2_time_cost: int = 3
    """argon2id iterations; raising any argon2_* value rehashes passwords at next login."""
    argon2_memory_cost: int = 65536
    """argon2id memory in KiB."""
    argon2_parallelism: int = 4
    store_nt_hash: bool = True
    """Also store the NT hash (MD4 of UTF-16LE) when a password is set; NTLM needs it."""
    cache_ttl: float = 300.0
    """Seconds a verified password is remembered (no rehash on reconnect storms); 0 = off."""
    cache_size: int = 10000
    """Credential cache entries kept (least recently used go first)."""
    user_cache_ttl: float = 2.0
    """Seconds a resolved login name -> user record is reused by a process (the server,
    the ejabberd helper); disabling a user or a feature applies within this time.
    0 = ask the directory on every login (about 550 logins/s instead of >50,000/s)."""
    max_failures_per_user: int = 10
    """Failed logins of one user within failure_window before that user is refused."""
    max_failures_per_address: int = 30
    """Failed logins from one source address within failure_window before it is refused."""
    failure_window: float = 900.0
    """Seconds over which failures are counted; the refusal lasts until the window ends."""
    token_lifetime: int = 300
    """Seconds a signed login token (web/chat token login) stays valid."""
    token_secret: str = secret("", doc="empty = a random key kept in the database")
    """HMAC key for login tokens; set it when several installations must accept the same
    tokens."""
    http_secret: str = secret("")
    """Shared secret of the auth_http endpoint (HTTP Basic password); empty = refuse all."""
    xmpp_domains: dict[str, str] = field(default_factory=dict)
    """XMPP host -> mail domain for ejabberd/Prosody hosts that differ from mail domains."""

    def validate(self, path: str) -> None:
        if self.argon2_time_cost < 1:
            raise ConfigError(f"{path}.argon2_time_cost", "must be at least 1")
        if self.argon2_parallelism < 1:
            raise ConfigError(f"{path}.argon2_parallelism", "must be at least 1")
        if self.argon2_memory_cost < 8 * self.argon2_parallelism:
            raise ConfigError(f"{path}.argon2_memory_cost", "must be at least 8 * parallelism")
        if self.max_failures_per_user < 1 or self.max_failures_per_address < 1:
            raise ConfigError(f"{path}.max_failures_per_user", "must be at least 1")
        if self.token_lifetime < 1:
            raise ConfigError(f"{path}.token_lifetime", "must be at least 1")


@dataclass(frozen=True)
class ImapConfig:
    """[imap] — the IMAP gateway: limits and login policy."""

    max_line: int = 65536
    """Longest command line in bytes (literals excluded); longer lines get BAD."""
    max_literal: int = 64 << 20
    """Largest literal (APPEND message) in bytes; larger ones get NO [TOOBIG]. Also the
    APPENDLIMIT advertised."""
    idle_timeout: float = 1800.0
    """Seconds an IDLE may last before the server ends it with BYE (RFC 9051 allows 30
    minutes of inactivity)."""
    login_timeout: float = 60.0
    """Seconds a connection may stay unauthenticated before BYE."""
    autologout: float = 1800.0
    """Seconds without any command (outside IDLE) before an authenticated session is
    logged out."""
    max_connections_per_user: int = 50
    """Concurrent sessions of one user; more get NO [LIMIT] at login."""
    max_connections_per_address: int = 200
    """Concurrent connections from one client address; more get BYE at connect."""
    max_commands_per_second: float = 500.0
    """Sustained command rate of one connection; above it commands are delayed, and a
    connection that keeps a burst of ``10 x`` this rate waiting gets BYE."""
    max_bad_commands: int = 20
    """Consecutive BAD answers after which the connection is closed."""
    allow_plaintext_loopback: bool = True
    """Allow LOGIN/AUTHENTICATE without TLS when the client is on loopback (local tools,
    webmail on the same host); elsewhere plaintext auth is LOGINDISABLED."""
    compress: bool = True
    """Offer COMPRESS=DEFLATE (RFC 4978)."""

    def validate(self, path: str) -> None:
        if not 1024 <= self.max_line <= 16 << 20:
            raise ConfigError(f"{path}.max_line", "must be between 1024 and 16 MiB")
        if not 1024 <= self.max_literal <= 2 << 30:
            raise ConfigError(f"{path}.max_literal", "must be between 1 KiB and 2 GiB")
        for name in ("idle_timeout", "login_timeout", "autologout", "max_commands_per_second"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{path}.{name}", "must be positive")
        for name in ("max_connections_per_user", "max_connections_per_address",
                     "max_bad_commands"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}", "must be at least 1")


MAPISTORE_ROLES = (
    "root", "ipm_subtree", "inbox", "outbox", "sent", "deleted", "drafts", "calendar",
    "contacts", "tasks", "notes", "journal", "junk", "fallback",
)


@dataclass(frozen=True)
class MapiStoreConfig:
    """[mapistore] — the message store: where folder content lives, limits, quotas."""

    roles: dict[str, str] = field(default_factory=lambda: {"fallback": "sql:"})
    """Backend URI per folder role (root, ipm_subtree, inbox, outbox, sent, deleted,
    drafts, calendar, contacts, tasks, notes, journal, junk); every other folder uses
    ``fallback``. ``{user}`` (login name), ``{user_id}`` and ``{guid}`` are expanded
    when a mailbox is provisioned, e.g. ``inbox = "maildir:///srv/mail/{user}"``."""
    blob_dir: Path = Path("blobs")
    """Blob store directory (MIME originals, large values); relative to data_dir."""
    blob_fsync: bool = True
    """fsync every blob before it is referenced (off only for throw-away test setups)."""
    blob_threshold: int = 32768
    """Property values larger than this many bytes go to the blob store."""
    tombstone_days: float = 90.0
    """Days deleted objects are remembered for sync clients; older sync states resync."""
    quota_warning_mb: int = 0
    """Default mailbox size (MiB) above which the owner is warned; 0 = none."""
    quota_send_mb: int = 0
    """Default size (MiB) above which the owner can no longer send or save; 0 = none."""
    quota_receive_mb: int = 0
    """Default size (MiB) above which deliveries are refused; 0 = none."""
    max_message_mb: int = 64
    """Largest message (properties, attachments and MIME original together)."""
    max_value_mb: int = 32
    """Largest single property value."""
    backend_modules: dict[str, str] = field(default_factory=dict)
    """Extra backends: ``scheme = "package.module:Class"``."""
    backend_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options handed to a backend, per scheme: ``[mapistore.backend_options.maildir]``."""

    def validate(self, path: str) -> None:
        for role, uri in self.roles.items():
            if role not in MAPISTORE_ROLES:
                raise ConfigError(f"{path}.roles.{role}",
                                  f"unknown folder role (known: {', '.join(MAPISTORE_ROLES)})")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:.*", uri):
                raise ConfigError(f"{path}.roles.{role}", f"not a backend URI: {uri!r}")
        if self.blob_threshold < 256:
            raise ConfigError(f"{path}.blob_threshold", "must be at least 256")
        if self.tombstone_days <= 0:
            raise ConfigError(f"{path}.tombstone_days", "must be positive")
        for name in ("quota_warning_mb", "quota_send_mb", "quota_receive_mb"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{path}.{name}", "must not be negative")
        if not 1 <= self.max_message_mb <= 2048:
            raise ConfigError(f"{path}.max_message_mb", "must be between 1 and 2048")
        if not 1 <= self.max_value_mb <= self.max_message_mb:
            raise ConfigError(f"{path}.max_value_mb", "must be between 1 and max_message_mb")

    def uri_for_role(self, role: str | None) -> str:
        """The configured URI template for a folder role (fallback when unset)."""
        if role is not None and role in self.roles:
            return self.roles[role]
        return self.roles.get("fallback", "sql:")


@dataclass(frozen=True)
class SmtpConfig:
    """[smtp] — inbound MX (smtp listeners), submission (587/465) and LMTP sessions."""

    max_message_size: int = 52428800
    """Largest message in bytes (advertised as SIZE; larger ones get 552 5.3.4)."""
    max_recipients: int = 1000
    """Recipients per transaction; more get 452 4.5.3."""
    max_line_length: int = 2048
    """Longest command line in bytes (RFC 5321 minimum 512); longer gets 500 5.5.2."""
    max_data_line_length: int = 65536
    """Longest line inside a message; a message with a longer one is refused (552 5.3.4)."""
    max_errors: int = 20
    """Bad or unknown commands before the connection is closed with 421."""
    command_rate: float = 1000.0
    """Commands per second a connection may send on average (a token bucket) ..."""
    command_burst: int = 2000
    """... and at once (pipelined envelopes); beyond it: 421 4.7.0 and close."""
    max_connections_per_address: int = 50
    """Open connections from one client address per protocol family; more get 421."""
    max_connections_per_user: int = 20
    """Authenticated submission connections of one user at once; more get 454 on AUTH."""
    idle_timeout: float = 300.0
    """Seconds without a command before the connection is closed (RFC 5321 4.5.3.2)."""
    require_tls_for_auth: bool = True
    """Offer AUTH on plain-text connections only after STARTTLS."""
    check_sender: bool = True
    """Submission: the envelope sender must be one of the user's addresses (or empty)."""
    copy_to_sent: bool = True
    """Submission: put a copy of every submitted message into the sender's Sent Items."""
    received_header: bool = True
    """Prepend a Received: trace header to every accepted message."""

    def validate(self, path: str) -> None:
        if self.max_message_size < 1024:
            raise ConfigError(f"{path}.max_message_size", "must be at least 1024")
        if not 512 <= self.max_line_length <= 1 << 20:
            raise ConfigError(f"{path}.max_line_length", "must be between 512 and 1048576")
        if not 1000 <= self.max_data_line_length <= 1 << 24:
            raise ConfigError(f"{path}.max_data_line_length",
                              "must be between 1000 and 16777216")
        for name in ("max_recipients", "max_errors", "command_burst",
                     "max_connections_per_address", "max_connections_per_user"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}", "must be at least 1")
        if self.command_rate <= 0 or self.idle_timeout <= 0:
            raise ConfigError(f"{path}.command_rate", "rates and timeouts must be positive")


@dataclass(frozen=True)
class DeliveryConfig:
    """[delivery] — how accepted mail reaches local mailboxes (SMTP, LMTP, submission)."""

    catch_all: dict[str, str] = field(default_factory=dict)
    """Domain -> address that receives mail for unknown local parts of that domain;
    empty (the default) = unknown addresses are refused with 550 5.1.1."""
    duplicate_window: float = 600.0
    """Seconds within which a second copy of a Message-ID to the same mailbox is
    dropped (accepted, not stored); 0 = keep every copy."""
    max_group_members: int = 1000
    """Largest expanded group a message is delivered to; bigger groups get 550 5.5.3."""
    quota_tempfail: bool = False
    """Over-quota mailboxes answer 452 4.2.2 (sender retries) instead of 552 5.2.2."""

    def validate(self, path: str) -> None:
        for domain, address in self.catch_all.items():
            if "@" not in address:
                raise ConfigError(f"{path}.catch_all.{domain}", f"not an address: {address!r}")
        if self.duplicate_window < 0:
            raise ConfigError(f"{path}.duplicate_window", "must not be negative")
        if self.max_group_members < 1:
            raise ConfigError(f"{path}.max_group_members", "must be at least 1")


RELAY_TLS_MODES = ("none", "opportunistic", "starttls", "implicit")


@dataclass(frozen=True)
class QueueConfig:
    """[queue] — the outbound queue in the database: smarthost or direct MX delivery."""

    relay_host: str = ""
    """Smarthost for all outbound mail; empty = deliver directly to each domain's MX."""
    relay_port: int = 25
    """Smarthost port (587 with starttls, 465 with implicit)."""
    relay_tls: str = "opportunistic"
    """none, opportunistic (STARTTLS when offered), starttls (required), implicit."""
    relay_username: str = ""
    """Smarthost AUTH user; empty = no AUTH."""
    relay_password: str = secret("")
    verify_certificate: bool = False
    """Verify the peer's certificate (smarthost or MX); MX hosts often have none valid."""
    ca_file: Path | None = None
    """PEM CA bundle for verify_certificate; empty = the system store."""
    mx_port: int = 25
    """Port used for direct MX delivery (change only for tests)."""
    dns_servers: list[str] = field(default_factory=list)
    """Resolvers for MX lookups as "ip" or "ip:port"; empty = /etc/resolv.conf."""
    helo_name: str = ""
    """Name sent in EHLO; empty = [server] hostname."""
    retry_schedule: list[float] = field(
        default_factory=lambda: [60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0])
    """Seconds to wait after the 1st, 2nd ... failed attempt; the last repeats."""
    expire_after: float = 432000.0
    """Seconds after which an undeliverable message is bounced to its sender (5 days)."""
    delay_warning_after: float = 14400.0
    """Seconds after which the sender is told once that delivery is delayed; 0 = never."""
    concurrency: int = 4
    """Deliveries in progress at once (each in its own thread)."""
    poll_interval: float = 30.0
    """Seconds between looks for due retries (new mail is sent at once)."""
    connect_timeout: float = 30.0
    """Seconds to connect to a smarthost or MX."""
    command_timeout: float = 300.0
    """Seconds to wait for any reply of the remote server."""
    lease: float = 900.0
    """Seconds a node owns a message it is delivering; after a crash others retry then."""

    def validate(self, path: str) -> None:
        if self.relay_tls not in RELAY_TLS_MODES:
            raise ConfigError(f"{path}.relay_tls", f"expected one of {', '.join(RELAY_TLS_MODES)}")
        for name in ("relay_port", "mx_port"):
            if not 1 <= getattr(self, name) <= 65535:
                raise ConfigError(f"{path}.{name}", "not a TCP port")
        if not self.retry_schedule or any(s <= 0 for s in self.retry_schedule):
            raise ConfigError(f"{path}.retry_schedule", "needs positive numbers of seconds")
        if self.expire_after <= 0:
            raise ConfigError(f"{path}.expire_after", "must be positive")
        if not 1 <= self.concurrency <= 256:
            raise ConfigError(f"{path}.concurrency", "must be between 1 and 256")
        for i, server in enumerate(self.dns_servers):
            if not re.fullmatch(r"[0-9A-Fa-f.:\[\]]+", server):
                raise ConfigError(f"{path}.dns_servers[{i}]", f"not an address: {server!r}")


@dataclass(frozen=True)
class Pop3Config:
    """[pop3] — the POP3 gateway (the Inbox only, as mail clients expect)."""

    max_line_length: int = 1024
    """Longest command line in bytes; longer gets -ERR and the line is discarded."""
    max_errors: int = 10
    """Bad or unknown commands before the connection is closed."""
    command_rate: float = 50.0
    """Commands per second on average (token bucket) ..."""
    command_burst: int = 500
    """... and at once; beyond it: -ERR [SYS/TEMP] and close."""
    max_connections_per_address: int = 50
    """Open POP3 connections from one client address."""
    max_connections_per_user: int = 5
    """Logged-in POP3 sessions of one user at once (the maildrop is locked while one
    session holds it anyway: a second gets -ERR [IN-USE])."""
    idle_timeout: float = 600.0
    """Seconds without a command before the connection is closed (RFC 1939: >= 600)."""
    require_tls_for_auth: bool = True
    """Refuse USER/PASS and AUTH on plain-text connections until STLS."""

    def validate(self, path: str) -> None:
        if not 255 <= self.max_line_length <= 65536:
            raise ConfigError(f"{path}.max_line_length", "must be between 255 and 65536")
        for name in ("max_errors", "command_burst", "max_connections_per_address",
                     "max_connections_per_user"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}", "must be at least 1")
        if self.command_rate <= 0 or self.idle_timeout <= 0:
            raise ConfigError(f"{path}.command_rate", "rates and timeouts must be positive")


@dataclass(frozen=True)
class ActiveSyncConfig:
    """[activesync] — Exchange ActiveSync for phones (``/Microsoft-Server-ActiveSync``)."""

    enabled: bool = True
    """Serve ActiveSync on the HTTP listeners."""
    require_provisioning: bool = True
    """Devices must accept the policy (Provision) before they may sync."""
    policy_device_password_enabled: bool = False
    """Policy: the device must have a password."""
    policy_alphanumeric_password_required: bool = False
    """Policy: the password must contain letters and digits."""
    policy_min_password_length: int = 4
    """Policy: shortest device password (1-16)."""
    policy_max_inactivity_lock: int = 900
    """Policy: seconds of inactivity before the device locks itself; 0 = no limit."""
    policy_max_password_failed_attempts: int = 8
    """Policy: wrong passwords before the device wipes itself (4-16); 0 = no limit."""
    policy_password_expiration_days: int = 0
    """Policy: days a device password is valid; 0 = forever."""
    policy_password_history: int = 0
    """Policy: earlier passwords that may not be reused."""
    policy_require_device_encryption: bool = False
    """Policy: the device storage must be encrypted."""
    policy_allow_simple_password: bool = True
    """Policy: simple passwords such as 1111 or 1234 are allowed."""
    policy_attachments_enabled: bool = True
    """Policy: attachments may be downloaded to the device."""
    policy_max_attachment_size: int = 0
    """Policy: largest attachment in bytes the device downloads; 0 = no limit."""
    policy_allow_camera: bool = True
    """Policy: the device camera may be used."""
    min_heartbeat: int = 60
    """Shortest Ping/Sync heartbeat in seconds a device may ask for (Status 5/14 below)."""
    max_heartbeat: int = 3540
    """Longest Ping/Sync heartbeat in seconds (MS-ASCMD allows up to 3540)."""
    default_window_size: int = 100
    """Items per Sync response when the device names no WindowSize."""
    max_window_size: int = 512
    """Most items per Sync response whatever the device asks (MS-ASCMD caps at 512)."""
    time_budget: float = 20.0
    """Seconds a Sync spends exporting before it answers with MoreAvailable (clients
    time out: Android after about 30 s)."""
    max_ping_folders: int = 300
    """Folders one Ping may watch (Status 6 with MaxFolders above)."""
    max_request_size: int = 67108864
    """Largest request body in bytes (a SendMail with attachments); larger get HTTP 413."""
    loop_retries: int = 3
    """Times a device may resend the same SyncKey before its window shrinks; once the
    window is 1 and it still fails, the item is skipped and logged."""
    gal_max_results: int = 100
    """Most results of a GAL Search, Find or ResolveRecipients."""
    max_picture_size: int = 102400
    """Largest contact photo in bytes sent in GAL results."""

    def validate(self, path: str) -> None:
        if not 1 <= self.policy_min_password_length <= 16:
            raise ConfigError(f"{path}.policy_min_password_length", "must be between 1 and 16")
        if not 1 <= self.min_heartbeat <= self.max_heartbeat <= 3540:
            raise ConfigError(f"{path}.max_heartbeat",
                              "need 1 <= min_heartbeat <= max_heartbeat <= 3540")
        if not 1 <= self.default_window_size <= self.max_window_size <= 512:
            raise ConfigError(f"{path}.max_window_size",
                              "need 1 <= default_window_size <= max_window_size <= 512")
        if self.time_budget <= 0:
            raise ConfigError(f"{path}.time_budget", "must be positive")
        for name in ("max_ping_folders", "loop_retries", "gal_max_results",
                     "max_request_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}", "must be at least 1")
        for name in ("policy_max_inactivity_lock", "policy_max_password_failed_attempts",
                     "policy_password_expiration_days", "policy_password_history",
                     "policy_max_attachment_size", "max_picture_size"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{path}.{name}", "must not be negative")


@dataclass(frozen=True)
class OutlookConfig:
    """[outlook] — MAPI over HTTP, the NSPI address book and RPC (Outlook's protocols)."""

    session_timeout: float = 1800.0
    """Seconds a MAPI/HTTP session context lives without requests (X-ExpirationInfo)."""
    pending_period: float = 15.0
    """Seconds between PENDING keep-alives of a MAPI/HTTP answer still being worked on."""
    max_request_kb: int = 1024
    """Largest MAPI/HTTP request body in KiB (larger: X-ResponseCode 9, Too Large)."""
    address_book_cache_ttl: float = 30.0
    """Seconds the address book listing is reused before it is read again (changes
    appear in Outlook after at most this long)."""

    def validate(self, path: str) -> None:
        if self.session_timeout < 60:
            raise ConfigError(f"{path}.session_timeout", "must be at least 60 seconds")
        if not 0.1 <= self.pending_period <= 300:
            raise ConfigError(f"{path}.pending_period", "must be between 0.1 and 300")
        if not 16 <= self.max_request_kb <= 65536:
            raise ConfigError(f"{path}.max_request_kb", "must be between 16 and 65536")
        if self.address_book_cache_ttl < 0:
            raise ConfigError(f"{path}.address_book_cache_ttl", "must not be negative")


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
    DefaultListener(Protocol.IMAP, 1143, TlsMode.STARTTLS, 143, True),
    DefaultListener(Protocol.IMAP, 1993, TlsMode.IMPLICIT, 993, True),
    DefaultListener(Protocol.POP3, 1110, TlsMode.STARTTLS, 110, True),
    DefaultListener(Protocol.POP3, 1995, TlsMode.IMPLICIT, 995, True),
    DefaultListener(Protocol.SMTP, 2525, TlsMode.STARTTLS, 25, True),
    DefaultListener(Protocol.SUBMISSION, 1587, TlsMode.STARTTLS, 587, True),
    DefaultListener(Protocol.SUBMISSION, 1465, TlsMode.IMPLICIT, 465, True),
    DefaultListener(Protocol.LMTP, 2424, TlsMode.NONE, 24, True),
    DefaultListener(Protocol.XMPP, 5222, TlsMode.STARTTLS, 5222, False),
    DefaultListener(Protocol.RPC, 6001, TlsMode.NONE, 135, True),
    # Prosody mod_auth_http / nginx auth checks: loopback only (see default_listeners).
    DefaultListener(Protocol.AUTH_HTTP, 8780, TlsMode.NONE, 8780, True),
)


_LOOPBACK_ONLY = frozenset({Protocol.LMTP, Protocol.AUTH_HTTP})


def default_listeners() -> list[ListenerConfig]:
    """The listeners used when the config has no [[listeners]] at all."""
    return [
        ListenerConfig(
            protocol=d.protocol,
            port=d.port,
            address="127.0.0.1" if d.protocol in _LOOPBACK_ONLY else "0.0.0.0",
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
    directory: DirectoryConfig = field(default_factory=DirectoryConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    mapistore: MapiStoreConfig = field(default_factory=MapiStoreConfig)
    outlook: OutlookConfig = field(default_factory=OutlookConfig)
    imap: ImapConfig = field(default_factory=ImapConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    pop3: Pop3Config = field(default_factory=Pop3Config)
    activesync: ActiveSyncConfig = field(default_factory=ActiveSyncConfig)
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
