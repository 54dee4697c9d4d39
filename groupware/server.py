"""GroupwareServer: the one container that builds every component, lazily, once.

Components ask the server for what they need (``server.get_database()``); nothing
builds its own dependencies. Only this module and :mod:`groupware.app` choose concrete
implementations (database, notifier, backends, listeners).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from groupware import __version__
from groupware.certs import CertificatePaths, ensure_certificate
from groupware.clock import Clock
from groupware.config import Config
from groupware.notifier import InProcessNotifier, Notifier
from storage.db import Database
from storage.db import schema as db_schema

if TYPE_CHECKING:
    from directory.credentials import CredentialStore
    from directory.interface import Directory
    from groupware.handlers.activesync.handler import ActiveSyncHandler
    from groupware.handlers.addressbook import AddressBookHandler
    from groupware.handlers.auth import AuthHandler
    from groupware.handlers.delivery import DeliveryHandler
    from groupware.handlers.mail.mapistore_port import MapiMailStore
    from groupware.handlers.mail.view import MailHandler
    from groupware.handlers.ntlm import NtlmCredentials
    from groupware.handlers.queue import QueueHandler
    from groupware.handlers.submission import SubmissionHandler
    from storage.mapistore.store import MapiStore

logger = logging.getLogger(__name__)

T = TypeVar("T")


def cached_component(fn: Callable[[GroupwareServer], T]) -> Callable[[GroupwareServer], T]:
    """Build a component on first use and return the same instance afterwards."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(self: GroupwareServer) -> T:
        try:
            return self._components[name]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = fn(self)
        self._components[name] = value
        return value

    return wrapper


class GroupwareServer:
    """Holds the config, the reactor-facing clock and every component built so far."""

    def __init__(self, config: Config, clock: Clock,
                 call_from_thread: Callable[..., None] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.version = __version__
        self.started_at = time.time()
        self._call_from_thread = call_from_thread
        self._components: dict[str, Any] = {}

    @cached_component
    def get_database(self) -> Database:
        cfg = self.config
        return Database(
            cfg.database_url,
            pool_size=cfg.server.thread_pool_size,
            busy_timeout=cfg.database.busy_timeout,
            max_retries=cfg.database.max_retries,
            echo=cfg.database.echo,
        )

    @cached_component
    def get_notifier(self) -> Notifier:
        if self.config.notifier.backend == "redis":
            from groupware.notifier_redis import RedisNotifier

            return RedisNotifier(self.config.notifier.redis_url, self.clock,
                                 self._call_from_thread)
        return InProcessNotifier(self.clock, self._call_from_thread)

    @cached_component
    def get_directory(self) -> Directory:
        """The configured directory: ``sql`` (default) or ``ldap``."""
        cfg = self.config
        if cfg.directory.backend == "ldap":
            from directory.ldap import LdapDirectory, LdapSettings

            return LdapDirectory(
                LdapSettings.from_config(cfg.directory.ldap), self.get_database(),
                organization=cfg.server.organization,
                default_domain=cfg.server.default_domain,
                max_group_depth=cfg.directory.max_group_depth,
            )
        from directory.sql import SqlDirectory, SqlSettings

        return SqlDirectory(self.get_database(), SqlSettings(
            organization=cfg.server.organization,
            default_domain=cfg.server.default_domain,
            max_group_depth=cfg.directory.max_group_depth,
        ))

    @cached_component
    def get_credential_store(self) -> CredentialStore:
        """App passwords, failure counters and the token key (always in SQL)."""
        from directory.credentials import CredentialStore

        return CredentialStore(self.get_database())

    @cached_component
    def get_auth(self) -> AuthHandler:
        """The authentication core every protocol and adapter uses."""
        from groupware.handlers.auth import AuthHandler

        return AuthHandler.from_server(self)

    @cached_component
    def get_mail_store(self) -> MapiMailStore:
        """The message store as the mail gateways and delivery see it (folders of
        RFC 5322 messages with UIDs and flags), with this process's folder caches."""
        from groupware.handlers.mail.mapistore_port import MapiMailStore

        cfg = self.config
        return MapiMailStore(self.get_mapistore(), notifier=self.get_notifier(),
                             trust_events=cfg.notifier.backend != "redis",
                             default_quota=cfg.directory.default_quota_mb << 20 or None,
                             max_message=cfg.imap.max_literal)

    @cached_component
    def get_mail_handler(self) -> MailHandler:
        """Mail folders for IMAP/POP3 sessions, on the message store."""
        from groupware.handlers.mail.view import MailHandler

        return MailHandler(self.get_mail_store(), self.get_notifier())

    @cached_component
    def get_delivery(self) -> DeliveryHandler:
        """Local delivery (SMTP, LMTP, submission to local users, queue retries)."""
        from groupware.handlers.delivery import DeliveryHandler

        return DeliveryHandler(self)

    @cached_component
    def get_submission(self) -> SubmissionHandler:
        from groupware.handlers.submission import SubmissionHandler

        return SubmissionHandler(self)

    @cached_component
    def get_queue(self) -> QueueHandler:
        """The mail queue in the database; its runner starts with the mail listeners."""
        from groupware.handlers.queue import QueueHandler

        return QueueHandler(self)

    @cached_component
    def get_mapistore(self) -> MapiStore:
        """The message store; every configured backend is loaded and checked here."""
        from storage.blobs import FilesystemBlobStore
        from storage.mapistore.store import MapiStore

        cfg = self.config.mapistore
        blob_dir = cfg.blob_dir if cfg.blob_dir.is_absolute() \
            else self.config.data_dir / cfg.blob_dir
        store = MapiStore(self.get_database(), FilesystemBlobStore(blob_dir, fsync=cfg.blob_fsync),
                          cfg, publish=self.get_notifier().publish)
        store.check_backends()
        return store

    @cached_component
    def get_address_book(self) -> AddressBookHandler:
        """The NSPI address book (MIds, containers, GAL cache) shared by every transport."""
        from groupware.handlers.addressbook import AddressBookHandler

        return AddressBookHandler.from_server(self)

    @cached_component
    def get_ntlm_credentials(self) -> NtlmCredentials:
        """NT hash lookups (with login gates) for the NTLM servers of the adapters."""
        from groupware.handlers.ntlm import NtlmCredentials

        return NtlmCredentials.from_server(self)

    @cached_component
    def get_activesync(self) -> ActiveSyncHandler:
        """ActiveSync devices, sync states and the Ping long-polls (one per process)."""
        from groupware.handlers.activesync.handler import ActiveSyncHandler

        return ActiveSyncHandler(self)

    @cached_component
    def get_certificate(self) -> CertificatePaths:
        return ensure_certificate(self.config)

    async def server_facts(self) -> dict[str, str]:
        """Identity of this installation (deployment id, replica GUID), read once."""
        cached: dict[str, str] | None = self._components.get("server_facts")
        if cached is None:
            from directory.bootstrap import ensure_server_facts

            cached = await self.get_database().run_interaction(
                "server_facts", ensure_server_facts)
            self._components["server_facts"] = cached
        return dict(cached)

    def check_schema(self) -> None:
        """Raise SchemaOutdated unless the database is at the code's schema head."""
        db_schema.check_schema(self.get_database())

    async def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports: status ok only when the database answers."""
        report: dict[str, Any] = {"status": "ok", "version": self.version,
                                  "uptime": round(time.time() - self.started_at, 1)}
        try:
            await self.get_database().run_read(
                "healthz", lambda c: c.execute(sa.text("SELECT 1")).scalar_one()
            )
            report["database"] = "ok"
        except Exception as exc:
            logger.warning("health check: database failed: %s", exc)
            report["status"] = "degraded"
            report["database"] = "unavailable"
        return report

    def close(self) -> None:
        """Release components in reverse dependency order (listeners are gone by now)."""
        queue = self._components.pop("get_queue", None)
        if queue is not None:
            queue.close()
        auth = self._components.pop("get_auth", None)
        if auth is not None:
            auth.close()
        directory = self._components.pop("get_directory", None)
        if directory is not None and hasattr(directory, "close_sync"):
            directory.close_sync()
        mapistore = self._components.pop("get_mapistore", None)
        if mapistore is not None:
            mapistore.close()
        notifier = self._components.pop("get_notifier", None)
        if notifier is not None:
            notifier.close()
        db = self._components.pop("get_database", None)
        if db is not None:
            db.close()
