"""SQLAlchemy Core table metadata: the single source of truth for the schema.

Alembic revisions in ``migrations/versions`` must create exactly this schema; a test
compares the two on SQLite and PostgreSQL. Tables of each area live in their own module
and register on the one :data:`metadata`.
"""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# Server-wide key/value facts (e.g. the deployment id Autodiscover reports, the
# replica GUID of this installation). Small, rarely written.
server_facts = sa.Table(
    "server_facts",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Mail domains served by this installation.
domains = sa.Table(
    "domains",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(253), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Users of the SQL directory. The directory issue extends this (aliases, groups ...).
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "domain_id",
        sa.Integer,
        sa.ForeignKey("domains.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("localpart", sa.String(64), nullable=False),
    sa.Column("display_name", sa.String(256), nullable=False, server_default=""),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("domain_id", "localpart"),
)

# --- Directory (SQL directory, credentials of every directory) -------------------------
# Columns the directory adds to ``users``; kept here so the Core table stays one object.
# ``kind``: user | room | equipment. ``disabled_features``: comma list of groupware.types
# Feature values. ``credentials_version`` is bumped on every password change so caches
# and tokens issued before it stop working. ``external_id`` is set on the shadow rows the
# LDAP directory keeps (entryUUID / objectGUID) so ids and mailbox GUIDs stay stable.
users.append_column(sa.Column("kind", sa.String(16), nullable=False, server_default="user"))
for _name in ("given_name", "surname", "title", "department", "office", "company"):
    users.append_column(sa.Column(_name, sa.String(128), nullable=False, server_default=""))
for _name in ("phone", "mobile"):
    users.append_column(sa.Column(_name, sa.String(64), nullable=False, server_default=""))
users.append_column(sa.Column("description", sa.String(1024), nullable=False, server_default=""))
users.append_column(
    sa.Column("manager_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"),
              nullable=True)
)
users.append_column(sa.Column("legacy_dn", sa.String(512), nullable=True, unique=True))
users.append_column(sa.Column("mailbox_guid", sa.String(36), nullable=True, unique=True))
users.append_column(sa.Column("quota", sa.BigInteger, nullable=True))
users.append_column(
    sa.Column("disabled_features", sa.String(128), nullable=False, server_default="")
)
users.append_column(sa.Column("nt_hash", sa.String(32), nullable=True))
users.append_column(
    sa.Column("credentials_version", sa.Integer, nullable=False, server_default="0")
)
users.append_column(sa.Column("external_id", sa.String(128), nullable=True, unique=True))
users.append_column(sa.Column("capacity", sa.Integer, nullable=True))
users.append_column(sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()))

# Distribution groups (nested through group_members.member_group_id).
groups = sa.Table(
    "groups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id", ondelete="RESTRICT"),
              nullable=False),
    sa.Column("localpart", sa.String(64), nullable=False),
    sa.Column("display_name", sa.String(256), nullable=False, server_default=""),
    sa.Column("description", sa.String(1024), nullable=False, server_default=""),
    sa.Column("legacy_dn", sa.String(512), nullable=True, unique=True),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("domain_id", "localpart"),
)

# External contacts (mail users of the GAL with an address outside our domains).
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("address", sa.String(320), nullable=False, unique=True),
    sa.Column("display_name", sa.String(256), nullable=False, server_default=""),
    sa.Column("given_name", sa.String(128), nullable=False, server_default=""),
    sa.Column("surname", sa.String(128), nullable=False, server_default=""),
    sa.Column("company", sa.String(128), nullable=False, server_default=""),
    sa.Column("title", sa.String(128), nullable=False, server_default=""),
    sa.Column("department", sa.String(128), nullable=False, server_default=""),
    sa.Column("phone", sa.String(64), nullable=False, server_default=""),
    sa.Column("mobile", sa.String(64), nullable=False, server_default=""),
    sa.Column("legacy_dn", sa.String(512), nullable=True, unique=True),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Every local address (primary and aliases) of users and groups: one namespace, so an
# alias can never shadow another recipient's address.
addresses = sa.Table(
    "addresses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id", ondelete="RESTRICT"),
              nullable=False),
    sa.Column("localpart", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("domain_id", "localpart"),
)

group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("member_group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.UniqueConstraint("group_id", "user_id"),
    sa.UniqueConstraint("group_id", "member_group_id"),
    sa.UniqueConstraint("group_id", "contact_id"),
)

# Ambiguous name resolution: lower-cased keys (names, addresses) matched by prefix -> recipient.
# Binary ("C") collation on PostgreSQL so the prefix range scan is exact and indexed.
ANR_KEY_TYPE = sa.String(256).with_variant(sa.String(256, collation="C"), "postgresql")
anr_keys = sa.Table(
    "anr_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", ANR_KEY_TYPE, nullable=False, index=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"),
              nullable=True, index=True),
)

photos = sa.Table(
    "photos",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("content_type", sa.String(64), nullable=False, server_default="image/jpeg"),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Per-device app passwords: random secrets, so a SHA-256 of them is a safe verifier.
app_passwords = sa.Table(
    "app_passwords",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("services", sa.String(128), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("user_id", "name"),
)

# Failed logins per user and per source address, shared by every process (the server,
# the pam_exec / checkpassword helpers) and every node. Times are Unix seconds.
auth_failures = sa.Table(
    "auth_failures",
    metadata,
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("first_at", sa.Float, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
)

# The message store's tables live in their own module and register on ``metadata``.
from storage.db import tables_activesync as _tables_activesync  # noqa: E402, F401
from storage.db import tables_mapistore as _tables_mapistore  # noqa: E402, F401
from storage.db import tables_queue as _tables_queue  # noqa: E402, F401
