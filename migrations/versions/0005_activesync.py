"""ActiveSync: devices (policy keys, wipe state), sync states per SyncKey, ClientIds.

Revision ID: 0005_activesync
Revises: 0004_queue
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_activesync"
down_revision = "0004_queue"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "eas_devices",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_type", sa.String(length=64), server_default="", nullable=False),
        sa.Column("user_agent", sa.String(length=256), server_default="", nullable=False),
        sa.Column("protocol_version", sa.String(length=8), server_default="", nullable=False),
        sa.Column("info", sa.Text(), server_default="{}", nullable=False),
        sa.Column("policy_key", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending_policy_key", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("policy_hash", sa.String(length=64), server_default="", nullable=False),
        sa.Column("wipe_state", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("wipe_requested_at", sa.Float(), nullable=True),
        sa.Column("wipe_acknowledged_at", sa.Float(), nullable=True),
        sa.Column("ping", sa.Text(), server_default="", nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("last_command", sa.String(length=32), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eas_devices")),
        sa.UniqueConstraint("user_id", "device_id", name=op.f("uq_eas_devices_user_id_device_id")),
    )
    op.create_table(
        "eas_sync_states",
        sa.Column("device_ref", _BIG_ID, autoincrement=False, nullable=False),
        sa.Column("collection", sa.String(length=64), nullable=False),
        sa.Column("counter", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.String(length=36), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["device_ref"], ["eas_devices.id"],
                                name=op.f("fk_eas_sync_states_device_ref_eas_devices"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_ref", "collection", "counter",
                                name=op.f("pk_eas_sync_states")),
    )
    op.create_table(
        "eas_client_ids",
        sa.Column("device_ref", _BIG_ID, autoincrement=False, nullable=False),
        sa.Column("collection", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("server_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["device_ref"], ["eas_devices.id"],
                                name=op.f("fk_eas_client_ids_device_ref_eas_devices"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_ref", "collection", "client_id",
                                name=op.f("pk_eas_client_ids")),
    )
    op.create_index("ix_eas_client_ids_created_at", "eas_client_ids", ["created_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_eas_client_ids_created_at", table_name="eas_client_ids")
    op.drop_table("eas_client_ids")
    op.drop_table("eas_sync_states")
    op.drop_table("eas_devices")
