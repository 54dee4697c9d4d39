"""How this server presents itself to Exchange clients: version numbers and DNs.

Outlook decides features by the Exchange version it believes it talks to; we report
Exchange 2016 (15.1) consistently in Autodiscover (ServerVersion), HTTP headers
(X-ServerApplication) and, later, EMSMDB Connect.
"""

from __future__ import annotations

import uuid

EXCHANGE_MAJOR = 15
EXCHANGE_MINOR = 1
EXCHANGE_BUILD = 2507
EXCHANGE_REVISION = 6
ADMIN_GROUP = "Exchange Administrative Group (FYDIBOHF23SPDLT)"


def server_application() -> str:
    """``X-ServerApplication`` value, e.g. ``Exchange/15.01.2507.006``."""
    return (f"Exchange/{EXCHANGE_MAJOR}.{EXCHANGE_MINOR:02d}."
            f"{EXCHANGE_BUILD:04d}.{EXCHANGE_REVISION:03d}")


def server_version_hex(major: int = EXCHANGE_MAJOR, minor: int = EXCHANGE_MINOR,
                       build: int = EXCHANGE_BUILD) -> str:
    """Autodiscover ServerVersion (MS-OXDSCLI 2.2.4.1.1.2.9.15): 4 flag bits 0111,
    6 bits major, 6 bits minor, a 1 bit, 15 bits build, as 8 hex digits."""
    value = (0b0111 << 28) | ((major & 0x3F) << 22) | ((minor & 0x3F) << 16) \
        | (1 << 15) | (build & 0x7FFF)
    return f"{value:08X}"


def mailbox_server_name(mailbox_guid: uuid.UUID, domain: str) -> str:
    """Exchange 2013+ names the RPC server of a mailbox ``<mailbox guid>@<domain>``."""
    return f"{mailbox_guid}@{domain}"


def server_dn(organization: str, server_name: str) -> str:
    return f"/o={organization}/ou={ADMIN_GROUP}/cn=Configuration/cn=Servers/cn={server_name}"


def mdb_dn(organization: str, server_name: str) -> str:
    return f"{server_dn(organization, server_name)}/cn=Microsoft Private MDB"
