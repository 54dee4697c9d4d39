"""NT hashes for NTLM (MS-NLMP), with the same gates as a password login.

NTLM proves knowledge of the password through the NT hash (MD4 of the UTF-16LE
password), so the server needs that hash — stored when passwords are set
(``[auth] store_nt_hash``, on by default) or read from an LDAP attribute such as
``sambaNTPassword``. The DCE/RPC and HTTP adapters ask :meth:`NtlmCredentials.nt_hash`
*before* they verify an AUTHENTICATE_MESSAGE and report the outcome afterwards, so
NTLM logins are throttled and logged like every other login, and a disabled user or
one without the ``outlook`` feature is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from directory.credentials import CredentialStore
from directory.interface import Directory
from directory.model import Recipient
from groupware.clock import Clock
from groupware.config.sections import AuthConfig
from groupware.errors import GroupwareError
from groupware.types import Feature

if TYPE_CHECKING:
    from groupware.server import GroupwareServer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NtlmAccount:
    """Who an NTLM user name designates, and the hash to verify the proof with."""

    user: Recipient
    nt_hash: bytes


class NtlmCredentials:
    """Looks up NT hashes for the NTLM servers of the protocol adapters."""

    def __init__(self, directory: Directory, credentials: CredentialStore, config: AuthConfig,
                 clock: Clock, *, feature: Feature = Feature.OUTLOOK) -> None:
        self._directory = directory
        self._credentials = credentials
        self._config = config
        self._clock = clock
        self._feature = feature

    @classmethod
    def from_server(cls, server: GroupwareServer) -> NtlmCredentials:
        return cls(server.get_directory(), server.get_credential_store(), server.config.auth,
                   server.clock)

    @property
    def enabled(self) -> bool:
        """``[auth] store_nt_hash`` is the one switch: off, NTLM is not offered at all
        (clients then use Basic, over TLS)."""
        return self._config.store_nt_hash

    async def lookup(self, user: str, domain: str, *, peer: str | None = None
                     ) -> NtlmAccount | None:
        """The account behind an NTLM user/domain, or None (unknown, disabled, throttled,
        no stored hash). Never raises for a bad name: NTLM then simply fails."""
        login = user.strip()
        candidates = [login] if "@" in login else (
            [f"{domain}\\{login}", login] if domain else [login])
        recipient: Recipient | None = None
        for name in candidates:
            try:
                recipient = await self._directory.resolve_login(name)
            except GroupwareError:
                recipient = None
            if recipient is not None:
                break
        shown = f"{domain}\\{login}" if domain else login
        if recipient is None or recipient.user_id is None:
            logger.warning("ntlm refused: login=%r peer=%s reason=unknown user", shown, peer)
            return None
        if not recipient.enabled or self._feature not in recipient.features:
            logger.warning("ntlm refused: login=%r peer=%s reason=disabled or no %s", shown,
                           peer, self._feature.value)
            return None
        if await self._throttled(recipient, peer):
            logger.warning("ntlm refused: login=%r peer=%s reason=too many failures", shown,
                           peer)
            return None
        stored = await self._directory.get_credentials(recipient.user_id)
        if stored is None or not stored.nt_hash:
            logger.warning("ntlm refused: login=%r peer=%s reason=no NT hash stored (set the "
                           "password again, or use Basic over TLS)", shown, peer)
            return None
        try:
            digest = bytes.fromhex(stored.nt_hash)
        except ValueError:
            logger.error("stored NT hash of %s is not hex", recipient.address)
            return None
        if len(digest) != 16:
            return None
        return NtlmAccount(recipient, digest)

    async def _throttled(self, user: Recipient, peer: str | None) -> bool:
        keys = [f"user:{user.id}"] + ([f"addr:{peer}"] if peer else [])
        try:
            counts = await self._credentials.failures(
                keys, self._clock.time() - self._config.failure_window)
        except Exception as exc:  # fail closed, like the password path
            logger.error("ntlm: failure counters unavailable: %s", exc)
            return True
        if counts.get(keys[0], (0, 0.0))[0] >= self._config.max_failures_per_user:
            return True
        return bool(peer) and counts.get(keys[-1], (0, 0.0))[0] >= \
            self._config.max_failures_per_address

    async def failed(self, account: NtlmAccount | None, user: str, peer: str | None) -> None:
        """Count a wrong NTLM proof against the user and the address."""
        keys = [f"addr:{peer}"] if peer else []
        if account is not None:
            keys.insert(0, f"user:{account.user.id}")
        if not keys:
            return
        logger.warning("ntlm refused: login=%r peer=%s reason=wrong password", user, peer)
        try:
            await self._credentials.record_failure(keys, self._clock.time(),
                                                   self._config.failure_window)
        except Exception as exc:
            logger.error("ntlm: could not record a failure: %s", exc)

    def succeeded(self, account: NtlmAccount, peer: str | None) -> None:
        logger.info("auth ok: login=%s user=%s service=%s peer=%s method=ntlm",
                    account.user.address, account.user.address, self._feature.value,
                    peer or "-")


__all__ = ["NtlmAccount", "NtlmCredentials"]
