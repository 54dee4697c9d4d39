"""The directory interface every implementation provides and every consumer uses.

Lookups serve NSPI (DN, sorted paged tables, ANR), ActiveSync (ResolveRecipients, GAL
search), XMPP (rosters from groups) and the auth core (login names). Implementations
raise :class:`groupware.errors.Unavailable` when their backend cannot be reached;
callers on a login path then refuse (fail closed).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from directory.model import Page, Recipient, RecipientKind, StoredCredentials
from groupware.types import UserId

ANR_MIN_LENGTH = 1
ANR_MAX_LENGTH = 256


class Directory(abc.ABC):
    """Read side of the directory, shared by ``sql`` and ``ldap``."""

    name: str = "directory"
    verifies_by_bind: bool = False
    """True when passwords are checked by the directory (LDAP bind), not by a hash."""
    writable: bool = False
    """True when the admin CLI may create and change entries through this directory."""

    @abc.abstractmethod
    async def domains(self) -> list[str]:
        """Mail domains served (lower-case)."""

    @abc.abstractmethod
    async def resolve_login(self, login: str) -> Recipient | None:
        """The mailbox owner a login name means, or None.

        Accepts ``alice``, ``alice@example.test``, an alias address, ``EXAMPLE\\alice``
        in any letter case. Invalid names raise InvalidInput.
        """

    @abc.abstractmethod
    async def get(self, recipient_id: str) -> Recipient | None:
        """A recipient by its opaque stable id."""

    @abc.abstractmethod
    async def get_user(self, user_id: UserId) -> Recipient | None:
        """A mailbox owner by the integer id the store uses."""

    @abc.abstractmethod
    async def find_address(self, address: str) -> Recipient | None:
        """Whoever owns ``address`` (primary or alias, any case); contacts too."""

    @abc.abstractmethod
    async def find_legacy_dn(self, dn: str) -> Recipient | None:
        """The recipient with this legacyExchangeDN (case-insensitive)."""

    @abc.abstractmethod
    async def anr(self, query: str, *, limit: int = 50,
                  kinds: Iterable[RecipientKind] | None = None) -> list[Recipient]:
        """Ambiguous name resolution: prefix match on display name, given name, surname,
        addresses (local part or full) and aliases; hidden entries are left out; sorted
        by display name."""

    @abc.abstractmethod
    async def list_recipients(self, *, offset: int = 0, limit: int = 100,
                              kinds: Iterable[RecipientKind] | None = None,
                              include_hidden: bool = False) -> Page:
        """The address book sorted by display name (then address), one page of it."""

    @abc.abstractmethod
    async def group_members(self, group_id: str) -> list[Recipient]:
        """Direct members of a group (users, resources, contacts and groups)."""

    @abc.abstractmethod
    async def expand_group(self, group_id: str) -> list[Recipient]:
        """Every non-group recipient reachable through nested groups, each once;
        cycles and nesting beyond ``max_group_depth`` are cut."""

    @abc.abstractmethod
    async def member_of(self, recipient_id: str) -> list[Recipient]:
        """Groups that list this recipient directly (XMPP roster groups)."""

    @abc.abstractmethod
    async def get_photo(self, recipient_id: str) -> bytes | None:
        """JPEG (or PNG) bytes of the recipient's photo."""

    # -- credentials -------------------------------------------------------------------

    async def get_credentials(self, user_id: UserId) -> StoredCredentials | None:
        """Stored hashes for password checks (SQL directory); None when not kept here."""
        return None

    async def set_credentials(self, user_id: UserId, password_hash: str | None,
                              nt_hash: str | None, *, bump_version: bool) -> None:
        """Store new hashes; ``bump_version`` invalidates caches and tokens."""
        from groupware.errors import PermissionDenied

        raise PermissionDenied(f"the {self.name} directory does not store passwords")

    async def check_bind(self, user: Recipient, password: str) -> bool:
        """Verify a password by binding as the user (LDAP directories)."""
        return False

    async def close(self) -> None:  # noqa: B027 - most directories hold nothing to close
        """Release connections."""
