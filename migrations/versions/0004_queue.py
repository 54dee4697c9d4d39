"""Mail delivery: outbound queue (messages, recipients) and duplicate suppression.

Revision ID: 0004_queue
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_queue"
down_revision = "0003"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mail_queue",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sender", sa.String(length=512), server_default="", nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("envid", sa.String(length=128), nullable=True),
        sa.Column("ret", sa.String(length=8), nullable=True),
        sa.Column("smtputf8", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("message_id", sa.String(length=998), server_default="", nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_queue")),
    )
    op.create_table(
        "mail_queue_recipients",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("queue_id", _BIG_ID, nullable=False),
        sa.Column("address", sa.String(length=512), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("local", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("notify", sa.String(length=64), nullable=True),
        sa.Column("orcpt", sa.String(length=600), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("last_attempt_at", sa.Float(), nullable=True),
        sa.Column("locked_until", sa.Float(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("remote_mta", sa.String(length=255), server_default="", nullable=False),
        sa.Column("delay_notified", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["queue_id"], ["mail_queue.id"],
                                name=op.f("fk_mail_queue_recipients_queue_id_mail_queue"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_queue_recipients")),
    )
    op.create_index(op.f("ix_mail_queue_recipients_queue_id"), "mail_queue_recipients",
                    ["queue_id"], unique=False)
    op.create_index(op.f("ix_mail_queue_recipients_status_next_attempt_at"),
                    "mail_queue_recipients", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "delivery_duplicates",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("delivered_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "digest", name=op.f("pk_delivery_duplicates")),
    )
    op.create_index(op.f("ix_delivery_duplicates_delivered_at"), "delivery_duplicates",
                    ["delivered_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_duplicates_delivered_at"), table_name="delivery_duplicates")
    op.drop_table("delivery_duplicates")
    op.drop_index(op.f("ix_mail_queue_recipients_status_next_attempt_at"),
                  table_name="mail_queue_recipients")
    op.drop_index(op.f("ix_mail_queue_recipients_queue_id"), table_name="mail_queue_recipients")
    op.drop_table("mail_queue_recipients")
    op.drop_table("mail_queue")
