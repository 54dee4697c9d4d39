"""Tables of the message store: the index (``mapistore_*``) and the sql backend
(``sqlbackend_*``). Imported by :mod:`storage.db.tables`, registered on its metadata.

Ids are stored as their 48-bit global counter (GLOBCNT, MS-OXCDATA 2.2.1.1): every
object of a store belongs to the store's own replica (id 1), and the packed 64-bit
FID/MID does not fit a signed BIGINT. The store packs and unpacks at its API. Change
numbers are plain per-store counters, strictly increasing in commit order because the
counter row (``mapistore_stores.last_cn``) is locked until the transaction commits.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.db.tables import metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Sort keys compare by code point on both databases (SQLite's default BINARY collation,
# "C" on PostgreSQL), the order the Python table implementation uses.
SORT_KEY = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def _store_fk() -> sa.Column[int]:
    return sa.Column("store_id", sa.Integer,
                     sa.ForeignKey("mapistore_stores.id", ondelete="CASCADE"),
                     primary_key=True)


# One row per mailbox store: counters, quotas and identity.
stores = sa.Table(
    "mapistore_stores",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # users.id of the owner; a plain column so a store survives directory changes.
    sa.Column("user_id", sa.Integer, nullable=True, unique=True),
    sa.Column("mailbox_guid", sa.String(36), nullable=False, unique=True),
    sa.Column("replica_guid", sa.String(36), nullable=False),
    sa.Column("username", sa.String(320), nullable=False, server_default=""),
    sa.Column("locale", sa.String(16), nullable=False, server_default="en"),
    sa.Column("last_cn", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_globcnt", sa.BigInteger, nullable=False, server_default="0"),
    # Tombstones with a change number up to this one were purged: "changes since" an
    # older change number would miss deletions.
    sa.Column("tombstone_horizon_cn", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("size_used", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("quota_warning", sa.BigInteger, nullable=True),
    sa.Column("quota_send", sa.BigInteger, nullable=True),
    sa.Column("quota_receive", sa.BigInteger, nullable=True),
    sa.Column("provisioned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.Float, nullable=False),
)

# The folder tree of every store, with each folder's backend URI (the dispatcher).
folders = sa.Table(
    "mapistore_folders",
    metadata,
    _store_fk(),
    sa.Column("fid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("parent_fid", sa.BigInteger, nullable=True),
    sa.Column("name", sa.String(256), nullable=False),
    # casefolded name: siblings may not share it (MS-OXCFOLD 3.2.5.2 ecDuplicateName)
    sa.Column("name_key", sa.String(256), nullable=False),
    sa.Column("container_class", sa.String(255), nullable=False, server_default=""),
    sa.Column("role", sa.String(32), nullable=True),
    sa.Column("folder_type", sa.SmallInteger, nullable=False, server_default="1"),
    sa.Column("backend_uri", sa.String(1024), nullable=False),
    sa.Column("backend_key", sa.String(512), nullable=False, server_default=""),
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("uidnext", sa.BigInteger, nullable=False, server_default="1"),
    sa.Column("created_cn", sa.BigInteger, nullable=False),
    sa.Column("cn", sa.BigInteger, nullable=False),
    sa.Column("highest_cn", sa.BigInteger, nullable=False),
    sa.Column("pcl", sa.LargeBinary, nullable=True),
    sa.Column("props", sa.LargeBinary, nullable=True),
    sa.Column("message_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unread_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("associated_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deleted_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("modified_at", sa.Float, nullable=False),
    sa.UniqueConstraint("store_id", "parent_fid", "name_key"),
    sa.UniqueConstraint("store_id", "role"),
    sa.Index(None, "store_id", "cn"),
)

# The index entry of every message, whatever backend holds its content.
messages = sa.Table(
    "mapistore_messages",
    metadata,
    _store_fk(),
    sa.Column("mid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("fid", sa.BigInteger, nullable=False),
    sa.Column("uid", sa.BigInteger, nullable=False),
    sa.Column("created_cn", sa.BigInteger, nullable=False),
    sa.Column("cn", sa.BigInteger, nullable=False),
    sa.Column("read_cn", sa.BigInteger, nullable=False),
    sa.Column("is_read", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("associated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("soft_deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("message_class", sa.String(255), nullable=False, server_default=""),
    sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("backend_key", sa.String(512), nullable=False, server_default=""),
    sa.Column("backend_version", sa.String(128), nullable=False, server_default=""),
    sa.Column("pcl", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("modified_at", sa.Float, nullable=False),
    sa.UniqueConstraint("store_id", "fid", "uid"),
    sa.Index(None, "store_id", "fid", "cn"),
    sa.Index(None, "store_id", "fid", "read_cn"),
    sa.Index(None, "store_id", "fid", "size"),
)

# Deleted objects, kept for [mapistore] tombstone_days so sync clients learn of them.
tombstones = sa.Table(
    "mapistore_tombstones",
    metadata,
    sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("store_id", sa.Integer, sa.ForeignKey("mapistore_stores.id", ondelete="CASCADE"),
              nullable=False),
    # The folder the object was in (for a deleted folder: its parent).
    sa.Column("fid", sa.BigInteger, nullable=False),
    sa.Column("object_id", sa.BigInteger, nullable=False),
    sa.Column("is_folder", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("uid", sa.BigInteger, nullable=True),
    sa.Column("cn", sa.BigInteger, nullable=False),
    sa.Column("soft", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("associated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deleted_at", sa.Float, nullable=False),
    sa.Index(None, "store_id", "fid", "cn"),
    sa.Index(None, "store_id", "is_folder", "cn"),
    sa.Index(None, "store_id", "deleted_at"),
)

# Read state of users other than the owner (delegates, shared folders).
read_states = sa.Table(
    "mapistore_read_states",
    metadata,
    _store_fk(),
    sa.Column("mid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("is_read", sa.Boolean, nullable=False),
)

# Named properties (MS-OXCPRPT 3.1.5.10): per store, GUID + LID/name <-> 0x8000+ id.
named_props = sa.Table(
    "mapistore_named_props",
    metadata,
    _store_fk(),
    sa.Column("prop_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("guid", sa.String(36), nullable=False),
    sa.Column("lid", sa.BigInteger, nullable=True),
    sa.Column("name", sa.String(512), nullable=True),
    # "<guid>:L:<lid>" or "<guid>:N:<name>", the unique lookup key
    sa.Column("key", sa.String(600), nullable=False),
    sa.UniqueConstraint("store_id", "key"),
)

# Receive folders (MS-OXCSTOR 3.2.5.2): message class prefix -> folder.
receive_folders = sa.Table(
    "mapistore_receive_folders",
    metadata,
    _store_fk(),
    sa.Column("class_key", sa.String(255), primary_key=True),
    sa.Column("message_class", sa.String(255), nullable=False),
    sa.Column("fid", sa.BigInteger, nullable=False),
)

# Folder permissions (MS-OXCPERM): member 0 = Default, -1 = Anonymous, else users.id.
permissions = sa.Table(
    "mapistore_permissions",
    metadata,
    _store_fk(),
    sa.Column("fid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("member_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("member_name", sa.String(256), nullable=False, server_default=""),
    sa.Column("rights", sa.Integer, nullable=False),
)

# A folder's content being moved to another backend (resumable, see move-folder).
folder_moves = sa.Table(
    "mapistore_folder_moves",
    metadata,
    _store_fk(),
    sa.Column("fid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("target_uri", sa.String(1024), nullable=False),
    sa.Column("target_key", sa.String(512), nullable=False, server_default=""),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
)

# Per message of a folder move: where its copy is and which version was copied.
folder_move_items = sa.Table(
    "mapistore_folder_move_items",
    metadata,
    _store_fk(),
    sa.Column("mid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("fid", sa.BigInteger, nullable=False),
    sa.Column("target_key", sa.String(512), nullable=False),
    sa.Column("target_version", sa.String(128), nullable=False, server_default=""),
    sa.Column("copied_cn", sa.BigInteger, nullable=False),
    sa.Index(None, "store_id", "fid"),
)

# --- the sql backend ----------------------------------------------------------------
# Message properties: the sort/filter keys clients use in contents tables as indexed
# columns (casefolded, truncated strings; FILETIME integers), and every property in a
# packed binary column (storage.backends.sql.codec). Large values are blob references.
sql_messages = sa.Table(
    "sqlbackend_messages",
    metadata,
    _store_fk(),
    sa.Column("mid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("fid", sa.BigInteger, nullable=False),
    # Absent values are stored below every real one, not as NULL (see
    # storage.backends.sql.columns): one index then serves both sort directions.
    sa.Column("subject", SORT_KEY, nullable=False),
    sa.Column("sender", SORT_KEY, nullable=False),
    sa.Column("received", sa.BigInteger, nullable=False),
    sa.Column("sent", sa.BigInteger, nullable=False),
    sa.Column("modified", sa.BigInteger, nullable=False),
    sa.Column("flags", sa.BigInteger, nullable=False),
    sa.Column("message_class", SORT_KEY, nullable=False),
    sa.Column("importance", sa.BigInteger, nullable=False),
    sa.Column("props", sa.LargeBinary, nullable=False),
    sa.Column("mime_ref", sa.String(64), nullable=True),
    sa.Index(None, "store_id", "fid", "received"),
    sa.Index(None, "store_id", "fid", "sent"),
    sa.Index(None, "store_id", "fid", "modified"),
    sa.Index(None, "store_id", "fid", "subject"),
    sa.Index(None, "store_id", "fid", "sender"),
    sa.Index(None, "store_id", "fid", "flags"),
    sa.Index(None, "store_id", "fid", "message_class"),
)

sql_recipients = sa.Table(
    "sqlbackend_recipients",
    metadata,
    _store_fk(),
    sa.Column("mid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("row_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("props", sa.LargeBinary, nullable=False),
)

sql_attachments = sa.Table(
    "sqlbackend_attachments",
    metadata,
    _store_fk(),
    sa.Column("mid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("attach_num", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("props", sa.LargeBinary, nullable=False),
    # a packed embedded message (ATTACH_EMBEDDED_MSG), recipients and attachments included
    sa.Column("embedded", sa.LargeBinary, nullable=True),
)

# Every blob a stored message references besides its MIME original (large values,
# attachment data), so garbage collection and repair need not decode properties.
sql_blob_refs = sa.Table(
    "sqlbackend_blob_refs",
    metadata,
    _store_fk(),
    sa.Column("mid", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ref", sa.String(64), primary_key=True),
)

__all__ = [
    "folder_move_items", "folder_moves", "folders", "messages", "named_props",
    "permissions", "read_states", "receive_folders", "sql_attachments", "sql_blob_refs",
    "sql_messages", "sql_recipients", "stores", "tombstones",
]
