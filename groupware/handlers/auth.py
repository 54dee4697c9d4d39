"""The one authentication core behind every protocol and every integration adapter.

``authenticate(login, password, service=..., peer=...)`` either returns who logged in
or raises a :class:`GroupwareError` with a code each protocol maps to its wire status.
Every outcome is logged on one line (``auth ok`` / ``auth refused ... reason=...``).

Order of checks, cheapest and safest first: input shape -> in-memory throttle ->
directory lookup (fail closed on any error) -> credential cache -> shared (database)
throttle -> account enabled -> password (token, app password, argon2 hash or LDAP
bind) -> the service's feature. Failures count per user and per source address, in
memory and in the database so per-login helper processes and other nodes share them.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import json
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from directory.credentials import CredentialStore, looks_like_app_password
from directory.interface import Directory
from directory.model import Recipient
from directory.names import MAX_PASSWORD, parse_login
from groupware.clock import Clock
from groupware.config.sections import AuthConfig
from groupware.errors import (
    AuthenticationFailed,
    FeatureDisabled,
    GroupwareError,
    InvalidInput,
    Throttled,
    Unavailable,
)
from groupware.passwords import PasswordHasher, nt_hash
from groupware.types import Feature

if TYPE_CHECKING:
    from groupware.server import GroupwareServer

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "gwt1."  # noqa: S105 - a marker, not a secret
# A fixed argon2id hash verified for unknown users so that their refusal takes as long
# as a wrong password (no user enumeration by timing).
_DUMMY_PASSWORD = "not-a-password"  # noqa: S105 - never stored


@dataclass(frozen=True)
class AuthResult:
    user: Recipient
    service: Feature
    method: str
    """password, cache, bind, app_password or token."""


@dataclass
class _CacheEntry:
    digest: bytes
    version: int
    expires: float


@dataclass
class _Window:
    failures: int
    first_at: float


class AuthHandler:
    """Checks credentials; one instance per process (it owns the caches)."""

    def __init__(self, directory: Directory, credentials: CredentialStore, config: AuthConfig,
                 clock: Clock, *, workers: int = 4) -> None:
        self.directory = directory
        self.credentials = credentials
        self.config = config
        self.clock = clock
        self.hasher = PasswordHasher(time_cost=config.argon2_time_cost,
                                     memory_cost=config.argon2_memory_cost,
                                     parallelism=config.argon2_parallelism)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hash")
        self._cache_key = secrets.token_bytes(32)
        self._cache: collections.OrderedDict[int, _CacheEntry] = collections.OrderedDict()
        self._users: dict[str, tuple[Recipient | None, float]] = {}
        self._windows: dict[str, _Window] = {}
        self._token_key: bytes | None = None
        self._dummy_hash: str | None = None

    @classmethod
    def from_server(cls, server: GroupwareServer) -> AuthHandler:
        return cls(server.get_directory(), server.get_credential_store(), server.config.auth,
                   server.clock, workers=max(2, server.config.server.thread_pool_size // 2))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ public API

    async def authenticate(self, login: str, password: str, *, service: Feature | str,
                           peer: str | None = None) -> AuthResult:
        """Who logs in with ``login``/``password`` to ``service``; raises on refusal."""
        try:
            feature = Feature(service)
        except ValueError:
            raise InvalidInput(f"unknown service {service!r}") from None
        shown = _shown(login)
        ctx = _Attempt(self, shown, feature, peer)
        if not isinstance(password, str) or not password:
            ctx.refuse("empty password")
        try:
            size = len(password.encode("utf-8"))
        except UnicodeEncodeError:
            ctx.refuse("password is not valid UTF-8")
        if size > MAX_PASSWORD:
            ctx.refuse(f"password longer than {MAX_PASSWORD} bytes")
        if "\x00" in password:
            ctx.refuse("password contains NUL")
        try:
            parse_login(login)
        except InvalidInput as exc:
            ctx.refuse(f"invalid login name ({exc.message})")
        addr_key = f"addr:{peer}" if peer else None
        if addr_key and self._memory_throttled(addr_key, self.config.max_failures_per_address):
            ctx.refuse("too many failures from this address", Throttled)

        user = await ctx.guard(self._resolve(login))
        user_key = f"user:{user.id}" if user is not None else f"login:{login.strip().lower()}"
        keys = [k for k in (user_key, addr_key) if k]
        if self._memory_throttled(user_key, self.config.max_failures_per_user):
            ctx.refuse("too many failures for this user", Throttled)

        if user is not None and user.enabled and self._cache_hit(user, password):
            self._feature_ok(ctx, user, feature)
            return ctx.accept(user, "cache")

        now = self.clock.time()
        counts = await ctx.guard(
            self.credentials.failures(keys, now - self.config.failure_window))
        if counts.get(user_key, (0, 0.0))[0] >= self.config.max_failures_per_user:
            ctx.refuse("too many failures for this user", Throttled)
        if addr_key and counts.get(addr_key, (0, 0.0))[0] >= self.config.max_failures_per_address:
            ctx.refuse("too many failures from this address", Throttled)

        if user is None:
            await self._dummy_verify(password)
            await self._fail(ctx, keys)
            ctx.refuse("unknown user")
        if not user.enabled or not user.is_mailbox:
            ctx.refuse("user disabled")

        method, allowed = await ctx.guard(self._verify(user, password))
        if method is None:
            await self._fail(ctx, keys)
            ctx.refuse("wrong password")
        if allowed is not None and feature not in allowed:
            ctx.refuse(f"app password not valid for {feature.value}", FeatureDisabled)
        self._feature_ok(ctx, user, feature)
        if any(counts.get(k, (0, 0.0))[0] for k in keys) or user_key in self._windows:
            self._windows.pop(user_key, None)
            await ctx.guard(self.credentials.clear_failures([user_key]))
        return ctx.accept(user, method)

    async def user_exists(self, login: str, *, service: Feature | str | None = None) -> bool:
        """True for an enabled mailbox owner (with ``service`` enabled when given).

        Raises Unavailable when the directory cannot answer, so callers can tell
        "no" from "don't know".
        """
        feature = Feature(service) if service is not None else None
        try:
            user = await self._resolve(login)
        except InvalidInput:
            return False
        except GroupwareError:
            raise
        except Exception as exc:
            logger.error("directory error looking up %s: %s", _shown(login), exc)
            raise Unavailable("directory unavailable") from exc
        if user is None or not user.enabled or not user.is_mailbox:
            return False
        return feature is None or feature in user.features

    async def set_password(self, user: Recipient, password: str) -> None:
        """Hash and store a new password; caches and tokens of the old one stop working."""
        check_new_password(password)
        if user.user_id is None:
            raise InvalidInput(f"{user.id} has no password")
        loop = asyncio.get_running_loop()
        pw_hash = await loop.run_in_executor(self._executor, self.hasher.hash, password)
        nt = nt_hash(password) if self.config.store_nt_hash else None
        await self.directory.set_credentials(user.user_id, pw_hash, nt, bump_version=True)
        self.forget(user)
        logger.info("password changed: user=%s", user.address)

    def forget(self, user: Recipient) -> None:
        """Drop cached state about ``user`` (after a change made in this process)."""
        if user.user_id is not None:
            self._cache.pop(int(user.user_id), None)
        self._users.clear()

    async def issue_token(self, user: Recipient, service: Feature | None = None,
                          lifetime: int | None = None) -> str:
        """A signed, short-lived login token usable as the password (web/chat login)."""
        if user.user_id is None:
            raise InvalidInput(f"{user.id} cannot log in")
        payload = {"u": int(user.user_id), "v": user.credentials_version,
                   "s": service.value if service else "*",
                   "e": int(self.clock.time()) + (lifetime or self.config.token_lifetime),
                   "n": secrets.token_hex(4)}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        sig = hmac.new(await self._get_token_key(), body.encode(), hashlib.sha256).digest()
        return f"{TOKEN_PREFIX}{body}.{_b64(sig)}"

    # ------------------------------------------------------------------ internals

    async def _resolve(self, login: str) -> Recipient | None:
        ttl = self.config.user_cache_ttl
        key = login.strip().lower()
        if ttl > 0:
            hit = self._users.get(key)
            if hit is not None and hit[1] > self.clock.monotonic():
                return hit[0]
        user = await self.directory.resolve_login(login)
        if ttl > 0:
            if len(self._users) > self.config.cache_size:
                self._users.clear()
            self._users[key] = (user, self.clock.monotonic() + ttl)
        return user

    def _feature_ok(self, ctx: _Attempt, user: Recipient, feature: Feature) -> None:
        if not user.enabled:
            ctx.refuse("user disabled")
        if feature not in user.features:
            ctx.refuse(f"feature {feature.value} disabled", FeatureDisabled)

    def _digest(self, user: Recipient, password: str) -> bytes:
        return hmac.new(self._cache_key, f"{user.id}\x00{password}".encode(),
                        hashlib.sha256).digest()

    def _cache_hit(self, user: Recipient, password: str) -> bool:
        if self.config.cache_ttl <= 0 or user.user_id is None:
            return False
        entry = self._cache.get(int(user.user_id))
        if entry is None:
            return False
        if entry.expires < self.clock.monotonic() or entry.version != user.credentials_version:
            self._cache.pop(int(user.user_id), None)
            return False
        if not hmac.compare_digest(entry.digest, self._digest(user, password)):
            return False
        self._cache.move_to_end(int(user.user_id))
        return True

    def _remember(self, user: Recipient, password: str) -> None:
        if self.config.cache_ttl <= 0 or user.user_id is None:
            return
        self._cache[int(user.user_id)] = _CacheEntry(
            self._digest(user, password), user.credentials_version,
            self.clock.monotonic() + self.config.cache_ttl)
        self._cache.move_to_end(int(user.user_id))
        while len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)

    async def _verify(self, user: Recipient,
                      password: str) -> tuple[str | None, frozenset[Feature] | None]:
        """(method, services allowed by it or None for all) or (None, None)."""
        assert user.user_id is not None
        if password.startswith(TOKEN_PREFIX):
            return ("token", None) if await self._check_token(user, password) else (None, None)
        if looks_like_app_password(password):
            app = await self.credentials.check_app_password(user.user_id, password)
            if app is not None:
                logger.debug("app password %r used by %s", app.name, user.address)
                return "app_password", (app.services or None)
        if self.directory.verifies_by_bind:
            if await self.directory.check_bind(user, password):
                self._remember(user, password)
                return "bind", None
            return None, None
        stored = await self.directory.get_credentials(user.user_id)
        if stored is None or not stored.password_hash:
            await self._dummy_verify(password)
            return None, None
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._executor, self.hasher.verify,
                                        stored.password_hash, password)
        if not ok:
            return None, None
        self._remember(user, password)
        await self._maybe_rehash(user, password, stored.password_hash, stored.nt_hash)
        return "password", None

    async def _maybe_rehash(self, user: Recipient, password: str, stored: str,
                            stored_nt: str | None) -> None:
        """Upgrade the hash to the configured parameters; fill in a missing NT hash."""
        rehash = self.hasher.needs_rehash(stored)
        add_nt = self.config.store_nt_hash and not stored_nt
        if not (rehash or add_nt):
            return
        assert user.user_id is not None
        new_hash = stored
        if rehash:
            loop = asyncio.get_running_loop()
            new_hash = await loop.run_in_executor(self._executor, self.hasher.hash, password)
        nt = nt_hash(password) if self.config.store_nt_hash else stored_nt
        try:
            await self.directory.set_credentials(user.user_id, new_hash, nt, bump_version=False)
            logger.info("password hash of %s upgraded (rehash=%s, nt_hash=%s)", user.address,
                        rehash, add_nt)
        except Exception as exc:  # the login itself succeeded; retry next time
            logger.warning("could not upgrade the password hash of %s: %s", user.address, exc)

    async def _dummy_verify(self, password: str) -> None:
        loop = asyncio.get_running_loop()
        if self._dummy_hash is None:
            self._dummy_hash = await loop.run_in_executor(self._executor, self.hasher.hash,
                                                          _DUMMY_PASSWORD)
        await loop.run_in_executor(self._executor, self.hasher.verify, self._dummy_hash,
                                   password)

    async def _get_token_key(self) -> bytes:
        if self._token_key is None:
            if self.config.token_secret:
                self._token_key = hashlib.sha256(self.config.token_secret.encode()).digest()
            else:
                self._token_key = await self.credentials.token_key()
        return self._token_key

    async def _check_token(self, user: Recipient, token: str) -> bool:
        try:
            body, sig = token[len(TOKEN_PREFIX):].split(".", 1)
            expected = hmac.new(await self._get_token_key(), body.encode(),
                                hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(sig)):
                return False
            payload = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return False
        if not isinstance(payload, dict):
            return False
        return (payload.get("u") == user.user_id
                and payload.get("v") == user.credentials_version
                and isinstance(payload.get("e"), int) and payload["e"] >= self.clock.time())

    def _memory_throttled(self, key: str, limit: int) -> bool:
        window = self._windows.get(key)
        if window is None:
            return False
        if window.first_at < self.clock.time() - self.config.failure_window:
            del self._windows[key]
            return False
        return window.failures >= limit

    async def _fail(self, ctx: _Attempt, keys: list[str]) -> None:
        now = self.clock.time()
        for key in keys:
            window = self._windows.get(key)
            if window is None or window.first_at < now - self.config.failure_window:
                self._windows[key] = _Window(1, now)
            else:
                window.failures += 1
        if len(self._windows) > 100_000:  # bounded memory under a spraying attack
            self._windows.clear()
        await ctx.guard(self.credentials.record_failure(keys, now, self.config.failure_window))


class _Attempt:
    """One login attempt: refusals and success each log exactly one line."""

    def __init__(self, handler: AuthHandler, login: str, service: Feature,
                 peer: str | None) -> None:
        self.handler = handler
        self.login = login
        self.service = service
        self.peer = peer or "-"

    def refuse(self, reason: str, error: type[GroupwareError] = AuthenticationFailed) -> Any:
        logger.warning("auth refused: login=%s service=%s peer=%s reason=%s", self.login,
                       self.service.value, self.peer, reason)
        raise error(f"authentication failed ({reason})")

    def accept(self, user: Recipient, method: str) -> AuthResult:
        logger.info("auth ok: login=%s user=%s service=%s peer=%s method=%s", self.login,
                    user.address, self.service.value, self.peer, method)
        return AuthResult(user, self.service, method)

    async def guard(self, awaitable: Any) -> Any:
        """Await a directory/database call; any error refuses the login (fail closed)."""
        try:
            return await awaitable
        except (AuthenticationFailed, Throttled, FeatureDisabled):
            raise
        except InvalidInput as exc:
            self.refuse(f"invalid input ({exc.message})")
        except Exception as exc:
            logger.error("auth refused: login=%s service=%s peer=%s reason=directory "
                         "unavailable (%s: %s)", self.login, self.service.value, self.peer,
                         type(exc).__name__, exc)
            raise Unavailable("authentication unavailable: directory error") from exc


def check_new_password(password: str) -> None:
    """Rules for passwords being set (not for checking existing ones)."""
    if not isinstance(password, str) or not password:
        raise InvalidInput("the password must not be empty")
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("the password is not valid UTF-8") from None
    if size > MAX_PASSWORD:
        raise InvalidInput(f"the password is longer than {MAX_PASSWORD} bytes")
    if any(ch in password for ch in "\x00\r\n"):
        raise InvalidInput("the password must not contain NUL or line breaks")
    if password.startswith(TOKEN_PREFIX):
        raise InvalidInput(f"the password must not start with {TOKEN_PREFIX!r}")


def _shown(login: object) -> str:
    """The login name as it goes into a log line: bounded, no control characters."""
    text = login if isinstance(login, str) else repr(login)
    text = "".join(ch if ch.isprintable() else "?" for ch in text[:80])
    return repr(text)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


__all__ = ["TOKEN_PREFIX", "AuthHandler", "AuthResult", "check_new_password"]
