"""Message store: index (stores, folders, messages, tombstones, named properties, receive
folders, permissions, folder moves) and the sql backend's tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SORT_KEY = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mapistore_stores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("mailbox_guid", sa.String(length=36), nullable=False),
        sa.Column("replica_guid", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=320), server_default="", nullable=False),
        sa.Column("locale", sa.String(length=16), server_default="en", nullable=False),
        sa.Column("last_cn", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_globcnt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("tombstone_horizon_cn", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("size_used", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quota_warning", sa.BigInteger(), nullable=True),
        sa.Column("quota_send", sa.BigInteger(), nullable=True),
        sa.Column("quota_receive", sa.BigInteger(), nullable=True),
        sa.Column("provisioned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mapistore_stores")),
        sa.UniqueConstraint("mailbox_guid", name=op.f("uq_mapistore_stores_mailbox_guid")),
        sa.UniqueConstraint("user_id", name=op.f("uq_mapistore_stores_user_id")),
    )
    op.create_table(
        "mapistore_folder_move_items",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("mid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("fid", sa.BigInteger(), nullable=False),
        sa.Column("target_key", sa.String(length=512), nullable=False),
        sa.Column("target_version", sa.String(length=128), server_default="", nullable=False),
        sa.Column("copied_cn", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_folder_move_items_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "mid", name=op.f("pk_mapistore_folder_move_items")),
    )
    op.create_index(
        op.f("ix_mapistore_folder_move_items_store_id_fid"),
        "mapistore_folder_move_items",
        ["store_id", "fid"],
        unique=False,
    )
    op.create_table(
        "mapistore_folder_moves",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("fid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("target_uri", sa.String(length=1024), nullable=False),
        sa.Column("target_key", sa.String(length=512), server_default="", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_folder_moves_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "fid", name=op.f("pk_mapistore_folder_moves")),
    )
    op.create_table(
        "mapistore_folders",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("fid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("parent_fid", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("name_key", sa.String(length=256), nullable=False),
        sa.Column("container_class", sa.String(length=255), server_default="", nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("folder_type", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("backend_uri", sa.String(length=1024), nullable=False),
        sa.Column("backend_key", sa.String(length=512), server_default="", nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uidnext", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("created_cn", sa.BigInteger(), nullable=False),
        sa.Column("cn", sa.BigInteger(), nullable=False),
        sa.Column("highest_cn", sa.BigInteger(), nullable=False),
        sa.Column("pcl", sa.LargeBinary(), nullable=True),
        sa.Column("props", sa.LargeBinary(), nullable=True),
        sa.Column("message_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unread_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("associated_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deleted_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("modified_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_folders_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "fid", name=op.f("pk_mapistore_folders")),
        sa.UniqueConstraint(
            "store_id",
            "parent_fid",
            "name_key",
            name=op.f("uq_mapistore_folders_store_id_parent_fid_name_key"),
        ),
        sa.UniqueConstraint("store_id", "role", name=op.f("uq_mapistore_folders_store_id_role")),
    )
    op.create_index(
        op.f("ix_mapistore_folders_store_id_cn"),
        "mapistore_folders",
        ["store_id", "cn"],
        unique=False,
    )
    op.create_table(
        "mapistore_messages",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("mid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("fid", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("created_cn", sa.BigInteger(), nullable=False),
        sa.Column("cn", sa.BigInteger(), nullable=False),
        sa.Column("read_cn", sa.BigInteger(), nullable=False),
        sa.Column("is_read", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("associated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("soft_deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("message_class", sa.String(length=255), server_default="", nullable=False),
        sa.Column("size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("backend_key", sa.String(length=512), server_default="", nullable=False),
        sa.Column("backend_version", sa.String(length=128), server_default="", nullable=False),
        sa.Column("pcl", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("modified_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_messages_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "mid", name=op.f("pk_mapistore_messages")),
        sa.UniqueConstraint(
            "store_id", "fid", "uid", name=op.f("uq_mapistore_messages_store_id_fid_uid")
        ),
    )
    op.create_index(
        op.f("ix_mapistore_messages_store_id_fid_cn"),
        "mapistore_messages",
        ["store_id", "fid", "cn"],
        unique=False,
    )
    op.create_index(
        op.f("ix_mapistore_messages_store_id_fid_read_cn"),
        "mapistore_messages",
        ["store_id", "fid", "read_cn"],
        unique=False,
    )
    op.create_index(
        op.f("ix_mapistore_messages_store_id_fid_size"),
        "mapistore_messages",
        ["store_id", "fid", "size"],
        unique=False,
    )
    op.create_table(
        "mapistore_named_props",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("prop_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("lid", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_named_props_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "prop_id", name=op.f("pk_mapistore_named_props")),
        sa.UniqueConstraint("store_id", "key", name=op.f("uq_mapistore_named_props_store_id_key")),
    )
    op.create_table(
        "mapistore_permissions",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("fid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_name", sa.String(length=256), server_default="", nullable=False),
        sa.Column("rights", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_permissions_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "store_id", "fid", "member_id", name=op.f("pk_mapistore_permissions")
        ),
    )
    op.create_table(
        "mapistore_read_states",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("mid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("is_read", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_read_states_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "store_id", "mid", "user_id", name=op.f("pk_mapistore_read_states")
        ),
    )
    op.create_table(
        "mapistore_receive_folders",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("class_key", sa.String(length=255), nullable=False),
        sa.Column("message_class", sa.String(length=255), nullable=False),
        sa.Column("fid", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_receive_folders_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "class_key", name=op.f("pk_mapistore_receive_folders")),
    )
    op.create_table(
        "mapistore_tombstones",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("fid", sa.BigInteger(), nullable=False),
        sa.Column("object_id", sa.BigInteger(), nullable=False),
        sa.Column("is_folder", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("cn", sa.BigInteger(), nullable=False),
        sa.Column("soft", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("associated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_mapistore_tombstones_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mapistore_tombstones")),
    )
    op.create_index(
        op.f("ix_mapistore_tombstones_store_id_deleted_at"),
        "mapistore_tombstones",
        ["store_id", "deleted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_mapistore_tombstones_store_id_fid_cn"),
        "mapistore_tombstones",
        ["store_id", "fid", "cn"],
        unique=False,
    )
    op.create_index(
        op.f("ix_mapistore_tombstones_store_id_is_folder_cn"),
        "mapistore_tombstones",
        ["store_id", "is_folder", "cn"],
        unique=False,
    )
    op.create_table(
        "sqlbackend_attachments",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("mid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("attach_num", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("props", sa.LargeBinary(), nullable=False),
        sa.Column("embedded", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_sqlbackend_attachments_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "store_id", "mid", "attach_num", name=op.f("pk_sqlbackend_attachments")
        ),
    )
    op.create_table(
        "sqlbackend_blob_refs",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("mid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_sqlbackend_blob_refs_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "mid", "ref", name=op.f("pk_sqlbackend_blob_refs")),
    )
    op.create_table(
        "sqlbackend_messages",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("mid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("fid", sa.BigInteger(), nullable=False),
        sa.Column("subject", SORT_KEY, nullable=False),
        sa.Column("sender", SORT_KEY, nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        sa.Column("modified", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.BigInteger(), nullable=False),
        sa.Column("message_class", SORT_KEY, nullable=False),
        sa.Column("importance", sa.BigInteger(), nullable=False),
        sa.Column("props", sa.LargeBinary(), nullable=False),
        sa.Column("mime_ref", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_sqlbackend_messages_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "mid", name=op.f("pk_sqlbackend_messages")),
    )
    op.create_index(
        op.f("ix_sqlbackend_messages_store_id_fid_flags"),
        "sqlbackend_messages",
        ["store_id", "fid", "flags"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sqlbackend_messages_store_id_fid_message_class"),
        "sqlbackend_messages",
        ["store_id", "fid", "message_class"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sqlbackend_messages_store_id_fid_modified"),
        "sqlbackend_messages",
        ["store_id", "fid", "modified"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sqlbackend_messages_store_id_fid_received"),
        "sqlbackend_messages",
        ["store_id", "fid", "received"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sqlbackend_messages_store_id_fid_sender"),
        "sqlbackend_messages",
        ["store_id", "fid", "sender"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sqlbackend_messages_store_id_fid_sent"),
        "sqlbackend_messages",
        ["store_id", "fid", "sent"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sqlbackend_messages_store_id_fid_subject"),
        "sqlbackend_messages",
        ["store_id", "fid", "subject"],
        unique=False,
    )
    op.create_table(
        "sqlbackend_recipients",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("mid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("row_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("props", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["mapistore_stores.id"],
            name=op.f("fk_sqlbackend_recipients_store_id_mapistore_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "mid", "row_id", name=op.f("pk_sqlbackend_recipients")),
    )


def downgrade() -> None:
    op.drop_table("sqlbackend_recipients")
    op.drop_table("sqlbackend_messages")
    op.drop_table("sqlbackend_blob_refs")
    op.drop_table("sqlbackend_attachments")
    op.drop_table("mapistore_tombstones")
    op.drop_table("mapistore_receive_folders")
    op.drop_table("mapistore_read_states")
    op.drop_table("mapistore_permissions")
    op.drop_table("mapistore_named_props")
    op.drop_table("mapistore_messages")
    op.drop_table("mapistore_folders")
    op.drop_table("mapistore_folder_moves")
    op.drop_table("mapistore_folder_move_items")
    op.drop_table("mapistore_stores")
