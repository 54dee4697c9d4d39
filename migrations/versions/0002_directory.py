"""Directory: user attributes, groups, contacts, addresses, ANR keys, photos, credentials.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ANR_KEY_TYPE = sa.String(256).with_variant(sa.String(256, collation="C"), "postgresql")


def upgrade() -> None:
    # batch mode: SQLite cannot add named foreign keys / unique constraints in place.
    with op.batch_alter_table("users", recreate="auto") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), server_default="user", nullable=False))
        for name in ("given_name", "surname", "title", "department", "office", "company"):
            batch.add_column(sa.Column(name, sa.String(128), server_default="", nullable=False))
        for name in ("phone", "mobile"):
            batch.add_column(sa.Column(name, sa.String(64), server_default="", nullable=False))
        batch.add_column(sa.Column("description", sa.String(1024), server_default="",
                                   nullable=False))
        batch.add_column(sa.Column("manager_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("legacy_dn", sa.String(512), nullable=True))
        batch.add_column(sa.Column("mailbox_guid", sa.String(36), nullable=True))
        batch.add_column(sa.Column("quota", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("disabled_features", sa.String(128), server_default="",
                                   nullable=False))
        batch.add_column(sa.Column("nt_hash", sa.String(32), nullable=True))
        batch.add_column(sa.Column("credentials_version", sa.Integer, server_default="0",
                                   nullable=False))
        batch.add_column(sa.Column("external_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("capacity", sa.Integer, nullable=True))
        batch.add_column(sa.Column("hidden", sa.Boolean, server_default=sa.false(),
                                   nullable=False))
        batch.create_foreign_key(op.f("fk_users_manager_id_users"), "users", ["manager_id"],
                                 ["id"], ondelete="SET NULL")
        batch.create_unique_constraint(op.f("uq_users_legacy_dn"), ["legacy_dn"])
        batch.create_unique_constraint(op.f("uq_users_mailbox_guid"), ["mailbox_guid"])
        batch.create_unique_constraint(op.f("uq_users_external_id"), ["external_id"])

    op.create_table(
        "groups",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.Integer, nullable=False),
        sa.Column("localpart", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(256), server_default="", nullable=False),
        sa.Column("description", sa.String(1024), server_default="", nullable=False),
        sa.Column("legacy_dn", sa.String(512), nullable=True),
        sa.Column("hidden", sa.Boolean, server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"],
                                name=op.f("fk_groups_domain_id_domains"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("domain_id", "localpart", name=op.f("uq_groups_domain_id_localpart")),
        sa.UniqueConstraint("legacy_dn", name=op.f("uq_groups_legacy_dn")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(256), server_default="", nullable=False),
        sa.Column("given_name", sa.String(128), server_default="", nullable=False),
        sa.Column("surname", sa.String(128), server_default="", nullable=False),
        sa.Column("company", sa.String(128), server_default="", nullable=False),
        sa.Column("title", sa.String(128), server_default="", nullable=False),
        sa.Column("department", sa.String(128), server_default="", nullable=False),
        sa.Column("phone", sa.String(64), server_default="", nullable=False),
        sa.Column("mobile", sa.String(64), server_default="", nullable=False),
        sa.Column("legacy_dn", sa.String(512), nullable=True),
        sa.Column("hidden", sa.Boolean, server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("address", name=op.f("uq_contacts_address")),
        sa.UniqueConstraint("legacy_dn", name=op.f("uq_contacts_legacy_dn")),
    )
    op.create_table(
        "addresses",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.Integer, nullable=False),
        sa.Column("localpart", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("group_id", sa.Integer, nullable=True),
        sa.Column("is_primary", sa.Boolean, server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"],
                                name=op.f("fk_addresses_domain_id_domains"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_addresses_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"],
                                name=op.f("fk_addresses_group_id_groups"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
        sa.UniqueConstraint("domain_id", "localpart",
                            name=op.f("uq_addresses_domain_id_localpart")),
    )
    op.create_index(op.f("ix_addresses_user_id"), "addresses", ["user_id"])
    op.create_index(op.f("ix_addresses_group_id"), "addresses", ["group_id"])
    op.create_table(
        "group_members",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("group_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("member_group_id", sa.Integer, nullable=True),
        sa.Column("contact_id", sa.Integer, nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"],
                                name=op.f("fk_group_members_group_id_groups"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_group_members_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_group_id"], ["groups.id"],
                                name=op.f("fk_group_members_member_group_id_groups"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"],
                                name=op.f("fk_group_members_contact_id_contacts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint("group_id", "user_id", name=op.f("uq_group_members_group_id_user_id")),
        sa.UniqueConstraint("group_id", "member_group_id",
                            name=op.f("uq_group_members_group_id_member_group_id")),
        sa.UniqueConstraint("group_id", "contact_id",
                            name=op.f("uq_group_members_group_id_contact_id")),
    )
    op.create_index(op.f("ix_group_members_user_id"), "group_members", ["user_id"])
    op.create_index(op.f("ix_group_members_member_group_id"), "group_members",
                    ["member_group_id"])
    op.create_index(op.f("ix_group_members_contact_id"), "group_members", ["contact_id"])
    op.create_table(
        "anr_keys",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("key", ANR_KEY_TYPE, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("group_id", sa.Integer, nullable=True),
        sa.Column("contact_id", sa.Integer, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_anr_keys_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"],
                                name=op.f("fk_anr_keys_group_id_groups"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"],
                                name=op.f("fk_anr_keys_contact_id_contacts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anr_keys")),
    )
    op.create_index(op.f("ix_anr_keys_key"), "anr_keys", ["key"])
    op.create_index(op.f("ix_anr_keys_user_id"), "anr_keys", ["user_id"])
    op.create_index(op.f("ix_anr_keys_group_id"), "anr_keys", ["group_id"])
    op.create_index(op.f("ix_anr_keys_contact_id"), "anr_keys", ["contact_id"])
    op.create_table(
        "photos",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("content_type", sa.String(64), server_default="image/jpeg", nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_photos_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_photos")),
    )
    op.create_table(
        "app_passwords",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("services", sa.String(128), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_app_passwords_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_passwords")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_app_passwords_secret_hash")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_app_passwords_user_id_name")),
    )
    op.create_table(
        "auth_failures",
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_at", sa.Float, nullable=False),
        sa.Column("last_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_failures")),
    )


def downgrade() -> None:
    for table in ("auth_failures", "app_passwords", "photos", "anr_keys", "group_members",
                  "addresses", "contacts", "groups"):
        op.drop_table(table)
    with op.batch_alter_table("users", recreate="auto") as batch:
        batch.drop_constraint(op.f("uq_users_external_id"), type_="unique")
        batch.drop_constraint(op.f("uq_users_mailbox_guid"), type_="unique")
        batch.drop_constraint(op.f("uq_users_legacy_dn"), type_="unique")
        batch.drop_constraint(op.f("fk_users_manager_id_users"), type_="foreignkey")
        for name in ("hidden", "capacity", "external_id", "credentials_version", "nt_hash",
                     "disabled_features", "quota", "mailbox_guid", "legacy_dn", "manager_id",
                     "description", "mobile", "phone", "company", "office", "department",
                     "title", "surname", "given_name", "kind"):
            batch.drop_column(name)
