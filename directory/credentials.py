"""Credentials kept in SQL whatever the directory: app passwords, failure counters and
the login-token key.

App passwords are random (about 80 bits), so a SHA-256 of them is a sufficient
verifier and a lookup by it is one indexed query — no argon2 cost per device login.
Failure counters live in the database so the server, the per-login helpers (pam_exec,
checkpassword) and every node throttle the same attacker together.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from directory.bootstrap import ensure_fact
from directory.model import format_features
from directory.names import clean_text
from groupware.errors import AlreadyExists, InvalidInput, NotFound
from groupware.types import Feature, UserId
from storage.db import Database
from storage.db.tables import app_passwords, auth_failures

APP_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # noqa: S105
APP_PASSWORD_GROUPS = 4


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def normalize_app_password(secret: str) -> str:
    return secret.replace("-", "").replace(" ", "").lower()


def looks_like_app_password(secret: str) -> bool:
    """Cheap shape test so ordinary passwords skip the app-password lookup."""
    norm = normalize_app_password(secret)
    return len(norm) == 4 * APP_PASSWORD_GROUPS and all(
        c in APP_PASSWORD_ALPHABET for c in norm)


def _digest(secret: str) -> str:
    return hashlib.sha256(normalize_app_password(secret).encode()).hexdigest()


@dataclass(frozen=True)
class AppPassword:
    id: int
    user_id: UserId
    name: str
    services: frozenset[Feature]
    """Services this app password may log in to; empty = all the user has."""
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "user_id": self.user_id,
                "services": sorted(s.value for s in self.services),
                "created_at": self.created_at.isoformat(),
                "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None}


def _row(r: Any) -> AppPassword:
    services = frozenset(Feature(s) for s in r.services.split(",") if s)
    return AppPassword(int(r.id), UserId(int(r.user_id)), r.name, services, r.created_at,
                       r.last_used_at)


def create_txn(conn: sa.Connection, user_id: int, name: str,
               services: frozenset[Feature]) -> str:
    name = clean_text(name, 64, "app password name")
    if not name:
        raise InvalidInput("an app password needs a name (the device it is for)")
    exists = conn.execute(sa.select(app_passwords.c.id).where(
        app_passwords.c.user_id == user_id, app_passwords.c.name == name)).scalar()
    if exists is not None:
        raise AlreadyExists(f"an app password named {name!r} exists; revoke it first")
    raw = "".join(secrets.choice(APP_PASSWORD_ALPHABET) for _ in range(4 * APP_PASSWORD_GROUPS))
    secret = "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))
    conn.execute(app_passwords.insert().values(
        user_id=user_id, name=name, secret_hash=_digest(secret),
        services=format_features(services), created_at=_now()))
    return secret


def list_txn(conn: sa.Connection, user_id: int) -> list[AppPassword]:
    rows = conn.execute(sa.select(app_passwords).where(app_passwords.c.user_id == user_id)
                        .order_by(app_passwords.c.name))
    return [_row(r) for r in rows]


def revoke_txn(conn: sa.Connection, user_id: int, name: str) -> None:
    result = conn.execute(app_passwords.delete().where(
        app_passwords.c.user_id == user_id, app_passwords.c.name == name))
    if result.rowcount == 0:
        raise NotFound(f"no app password named {name!r}")


def check_txn(conn: sa.Connection, user_id: int, secret: str) -> AppPassword | None:
    row = conn.execute(sa.select(app_passwords).where(
        app_passwords.c.secret_hash == _digest(secret))).first()
    if row is None or int(row.user_id) != user_id:
        return None
    conn.execute(app_passwords.update().where(app_passwords.c.id == row.id)
                 .values(last_used_at=_now()))
    return _row(row)


def failures_txn(conn: sa.Connection, keys: list[str],
                 since: float) -> dict[str, tuple[int, float]]:
    rows = conn.execute(sa.select(auth_failures).where(
        auth_failures.c.key.in_(keys), auth_failures.c.first_at >= since))
    return {r.key: (int(r.failures), float(r.first_at)) for r in rows}


def record_failure_txn(conn: sa.Connection, keys: list[str], now: float,
                       window: float) -> None:
    for key in keys:
        row = conn.execute(sa.select(auth_failures).where(auth_failures.c.key == key)).first()
        if row is None:
            conn.execute(auth_failures.insert().values(key=key, failures=1, first_at=now,
                                                       last_at=now))
        elif row.first_at < now - window:
            conn.execute(auth_failures.update().where(auth_failures.c.key == key)
                         .values(failures=1, first_at=now, last_at=now))
        else:
            conn.execute(auth_failures.update().where(auth_failures.c.key == key)
                         .values(failures=auth_failures.c.failures + 1, last_at=now))
    # Housekeeping: forget windows that ended long ago (bounded work per failure).
    stale = sa.select(auth_failures.c.key).where(
        auth_failures.c.last_at < now - 2 * window).limit(100).scalar_subquery()
    conn.execute(auth_failures.delete().where(auth_failures.c.key.in_(stale)))


def clear_failures_txn(conn: sa.Connection, keys: list[str]) -> None:
    conn.execute(auth_failures.delete().where(auth_failures.c.key.in_(keys)))


def token_key_txn(conn: sa.Connection) -> str:
    return ensure_fact(conn, "auth_token_key", secrets.token_hex(32))


class CredentialStore:
    """Async access to the tables above (one instance per server)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_app_password(self, user_id: UserId, name: str,
                                  services: frozenset[Feature] = frozenset()) -> str:
        return await self.db.run_interaction("app_password_create", create_txn, int(user_id),
                                             name, services)

    async def list_app_passwords(self, user_id: UserId) -> list[AppPassword]:
        return await self.db.run_read("app_password_list", list_txn, int(user_id))

    async def revoke_app_password(self, user_id: UserId, name: str) -> None:
        await self.db.run_interaction("app_password_revoke", revoke_txn, int(user_id), name)

    async def check_app_password(self, user_id: UserId, secret: str) -> AppPassword | None:
        return await self.db.run_interaction("app_password_check", check_txn, int(user_id),
                                             secret)

    async def failures(self, keys: list[str], since: float) -> dict[str, tuple[int, float]]:
        return await self.db.run_read("auth_failures", failures_txn, keys, since)

    async def record_failure(self, keys: list[str], now: float, window: float) -> None:
        await self.db.run_interaction("auth_failure_record", record_failure_txn, keys, now,
                                      window)

    async def clear_failures(self, keys: list[str]) -> None:
        await self.db.run_interaction("auth_failure_clear", clear_failures_txn, keys)

    async def token_key(self) -> bytes:
        return bytes.fromhex(await self.db.run_interaction("auth_token_key", token_key_txn))
