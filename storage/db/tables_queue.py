"""Tables of mail delivery: the outbound queue and duplicate suppression.

The queue is the spool of everything accepted but not yet delivered (outbound mail,
local retries, bounces): a message answered with 250 is committed here first, so it
survives a crash. ``locked_until`` is a lease: the node delivering a recipient owns it
until then; after a crash anyone may retry once it has passed. Times are Unix seconds.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.db.tables import metadata

_BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

mail_queue = sa.Table(
    "mail_queue",
    metadata,
    sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("sender", sa.String(512), nullable=False, server_default=""),
    # submission | mx | local | group | dsn
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("user_id", sa.Integer, nullable=True),
    sa.Column("envid", sa.String(128), nullable=True),
    sa.Column("ret", sa.String(8), nullable=True),
    sa.Column("smtputf8", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("message_id", sa.String(998), nullable=False, server_default=""),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

mail_queue_recipients = sa.Table(
    "mail_queue_recipients",
    metadata,
    sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("queue_id", _BIG_ID, sa.ForeignKey("mail_queue.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("address", sa.String(512), nullable=False),
    sa.Column("domain", sa.String(255), nullable=False),
    sa.Column("local", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("notify", sa.String(64), nullable=True),
    sa.Column("orcpt", sa.String(600), nullable=True),
    # queued | delivered | failed  (final rows stay until their DSN is sent)
    sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("last_attempt_at", sa.Float, nullable=True),
    sa.Column("locked_until", sa.Float, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    sa.Column("remote_mta", sa.String(255), nullable=False, server_default=""),
    sa.Column("delay_notified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index(None, "status", "next_attempt_at"),
)

# Message-IDs delivered per mailbox (SHA-256 of the header value) within the window.
delivery_duplicates = sa.Table(
    "delivery_duplicates",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("delivered_at", sa.Float, nullable=False, index=True),
)
