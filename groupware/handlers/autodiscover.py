"""Autodiscover answers: which servers and URLs a user's Outlook or phone should use.

The protocol adapter has already authenticated the caller; this handler decides what
that caller may ask about (its own addresses only: Autodiscover must not tell strangers
who has a mailbox here) and computes the settings from the directory and the config.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from directory.model import Recipient
from groupware import exchange_identity as ex
from groupware.config import Config, Protocol, TlsMode

if TYPE_CHECKING:
    from groupware.server import GroupwareServer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserEndpoints:
    """Everything the protocol layer needs to write either response schema."""

    display_name: str
    address: str
    legacy_dn: str
    deployment_id: str
    mailstore_url: str
    addressbook_url: str
    mailbox_server: str
    server_dn: str
    mdb_dn: str
    server_version: str
    ews_url: str
    activesync_url: str
    hostname: str


def public_base_url(config: Config) -> str:
    """The URL clients use to reach our HTTPS listener (see ``[server] public_url``)."""
    if config.server.public_url:
        return config.server.public_url.rstrip("/")
    host = config.server.hostname
    for lst in config.listeners:
        if lst.enabled and lst.protocol is Protocol.HTTP and lst.tls is TlsMode.IMPLICIT:
            return f"https://{host}" if lst.port in (443, 0) else f"https://{host}:{lst.port}"
    return f"https://{host}"


class AutodiscoverHandler:
    def __init__(self, server: GroupwareServer) -> None:
        self._server = server
        self._config = server.config
        self._directory = server.get_directory()

    @property
    def base_url(self) -> str:
        return public_base_url(self._config)

    async def endpoints_for(self, caller: Recipient, *, email: str | None,
                            legacy_dn: str | None) -> UserEndpoints | None:
        """Settings for the mailbox asked about, or None if the caller may not know them."""
        target: Recipient | None
        if email is not None:
            target = await self._directory.find_address(email)
        else:
            assert legacy_dn is not None
            target = await self._directory.find_legacy_dn(legacy_dn)
        if target is None or target.id != caller.id or not target.is_mailbox:
            logger.info("autodiscover: %s asked about %s: not theirs or unknown",
                        caller.address, email or legacy_dn)
            return None
        return await self._endpoints(target, email)

    async def _endpoints(self, user: Recipient, asked: str | None) -> UserEndpoints:
        facts = await self._server.server_facts()
        address = (user.address or asked or "").lower()
        domain = address.rpartition("@")[2]
        guid = user.mailbox_guid or uuid.uuid5(uuid.NAMESPACE_URL, f"mailbox:{user.id}")
        base = self.base_url
        mailbox_id = f"{guid}@{domain}"
        server_name = ex.mailbox_server_name(guid, domain)
        org = self._config.server.organization
        return UserEndpoints(
            display_name=user.display_name or address,
            address=address,
            legacy_dn=user.legacy_dn,
            deployment_id=facts["deployment_id"],
            mailstore_url=f"{base}/mapi/emsmdb/?MailboxId={mailbox_id}",
            addressbook_url=f"{base}/mapi/nspi/?MailboxId={mailbox_id}",
            mailbox_server=server_name,
            server_dn=ex.server_dn(org, server_name),
            mdb_dn=ex.mdb_dn(org, server_name),
            server_version=ex.server_version_hex(),
            ews_url=f"{base}/EWS/Exchange.asmx",
            activesync_url=f"{base}/Microsoft-Server-ActiveSync",
            hostname=base.split("://", 1)[1].split(":", 1)[0].split("/", 1)[0],
        )
