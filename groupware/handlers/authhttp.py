"""The auth core as the auth_http endpoint (Prosody mod_auth_http) sees it: XMPP user
and host in, yes/no out, with the ``chat`` feature required."""

from __future__ import annotations

from typing import TYPE_CHECKING

from groupware.errors import GroupwareError, Unavailable
from groupware.types import Feature

if TYPE_CHECKING:
    from groupware.handlers.auth import AuthHandler


class ChatAuthChecker:
    def __init__(self, auth: AuthHandler, xmpp_domains: dict[str, str]) -> None:
        self._auth = auth
        self._domains = {k.lower(): v for k, v in xmpp_domains.items()}

    def _login(self, user: str, host: str) -> str:
        if "@" in user or not host:
            return user
        return f"{user}@{self._domains.get(host.lower(), host)}"

    async def check_password(self, user: str, host: str, password: str,
                             peer: str | None) -> bool:
        try:
            await self._auth.authenticate(self._login(user, host), password,
                                          service=Feature.CHAT, peer=peer)
        except Unavailable:
            raise
        except GroupwareError:
            return False
        return True

    async def user_exists(self, user: str, host: str) -> bool:
        return await self._auth.user_exists(self._login(user, host), service=Feature.CHAT)
