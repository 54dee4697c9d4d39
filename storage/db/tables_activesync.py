"""Tables of ActiveSync: devices with their policy and wipe state, sync states, ClientIds.

A device is identified by (user, DeviceId) — the same phone used by two accounts is
two devices, as Exchange counts them. Sync states are kept per SyncKey: the newest
and the one before it, so a client that lost a response can resend its previous key
(MS-ASCMD 3.1.5.3 "Synchronizing"). Everything a device relies on lives here, so a
restart of the server never forces a resync from scratch. Times are Unix seconds.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.db.tables import metadata

_BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

eas_devices = sa.Table(
    "eas_devices",
    metadata,
    sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("device_type", sa.String(64), nullable=False, server_default=""),
    sa.Column("user_agent", sa.String(256), nullable=False, server_default=""),
    sa.Column("protocol_version", sa.String(8), nullable=False, server_default=""),
    # Settings DeviceInformation (MS-ASCMD 2.2.3.52), JSON.
    sa.Column("info", sa.Text, nullable=False, server_default="{}"),
    # The acknowledged policy key; 0 = not provisioned yet.
    sa.Column("policy_key", sa.BigInteger, nullable=False, server_default="0"),
    # The temporary key of phase one, until the device acknowledges it.
    sa.Column("pending_policy_key", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("policy_hash", sa.String(64), nullable=False, server_default=""),
    # none | wipe | account_wipe (requested) | wiping | account_wiping (sent) | wiped
    sa.Column("wipe_state", sa.String(16), nullable=False, server_default="none"),
    sa.Column("wipe_requested_at", sa.Float, nullable=True),
    sa.Column("wipe_acknowledged_at", sa.Float, nullable=True),
    # The last Ping's folders and heartbeat (a Ping without body reuses them), JSON.
    sa.Column("ping", sa.Text, nullable=False, server_default=""),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("last_command", sa.String(32), nullable=False, server_default=""),
    sa.UniqueConstraint("user_id", "device_id"),
)

eas_sync_states = sa.Table(
    "eas_sync_states",
    metadata,
    sa.Column("device_ref", _BIG_ID, sa.ForeignKey("eas_devices.id", ondelete="CASCADE"),
              primary_key=True, autoincrement=False),
    # "hierarchy" for FolderSync, else the collection's ServerId.
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("counter", sa.Integer, primary_key=True, autoincrement=False),
    # The {uuid} part of the SyncKey; a SyncKey 0 starts a new generation.
    sa.Column("generation", sa.String(36), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

eas_client_ids = sa.Table(
    "eas_client_ids",
    metadata,
    sa.Column("device_ref", _BIG_ID, sa.ForeignKey("eas_devices.id", ondelete="CASCADE"),
              primary_key=True, autoincrement=False),
    # The collection a Sync Add went to, or "compose" for SendMail/SmartReply/SmartForward.
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("server_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_eas_client_ids_created_at", "created_at"),
)
