"""First-run provisioning in the SQL directory: server facts, first domain, first admin.

``groupware init`` calls these inside one transaction so a half-initialised database
cannot happen; each function is idempotent.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa

from storage.db.tables import domains, server_facts, users


def ensure_fact(conn: sa.Connection, name: str, make: str) -> str:
    """Return server fact ``name``, storing ``make`` first if it is not set yet."""
    value = conn.execute(
        sa.select(server_facts.c.value).where(server_facts.c.name == name)
    ).scalar_one_or_none()
    if value is not None:
        return str(value)
    conn.execute(server_facts.insert().values(name=name, value=make))
    return make


def ensure_server_facts(conn: sa.Connection) -> dict[str, str]:
    """Identity of this installation: deployment id (Autodiscover) and replica GUID."""
    return {
        "deployment_id": ensure_fact(conn, "deployment_id", str(uuid.uuid4())),
        "replica_guid": ensure_fact(conn, "replica_guid", str(uuid.uuid4())),
    }


def ensure_domain(conn: sa.Connection, name: str) -> tuple[int, bool]:
    """(domain id, created?) for ``name`` (lower-cased)."""
    name = name.lower()
    existing = conn.execute(
        sa.select(domains.c.id).where(domains.c.name == name)
    ).scalar_one_or_none()
    if existing is not None:
        return int(existing), False
    result = conn.execute(
        domains.insert().values(name=name, created_at=datetime.datetime.now(datetime.UTC))
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0]), True


def find_admin(conn: sa.Connection) -> str | None:
    """The address of an administrator if one exists."""
    row = conn.execute(
        sa.select(users.c.localpart, domains.c.name)
        .join(domains, domains.c.id == users.c.domain_id)
        .where(users.c.is_admin.is_(True))
        .order_by(users.c.id)
        .limit(1)
    ).first()
    return f"{row.localpart}@{row.name}" if row is not None else None


def create_user(conn: sa.Connection, domain_id: int, localpart: str, *, display_name: str,
                password_hash: str | None, is_admin: bool = False,
                organization: str = "First Organization") -> int:
    """Create a complete SQL-directory user (address, legacyExchangeDN, mailbox GUID,
    ANR keys) through the same code as ``groupware user add``."""
    from directory.sql import SqlSettings, add_user_txn

    domain = conn.execute(
        sa.select(domains.c.name).where(domains.c.id == domain_id)
    ).scalar_one()
    user = add_user_txn(conn, SqlSettings(organization=organization),
                        f"{localpart}@{domain}", display_name=display_name,
                        password_hash=password_hash, is_admin=is_admin)
    assert user.user_id is not None
    return int(user.user_id)
