"""Devices and sync states of ActiveSync in SQL (small named transactions).

Sync states are opaque bytes to this module; :mod:`groupware.handlers.activesync`
decides what they mean. Per (device, collection) at most two are kept: the newest and
the one before it, the one a client that lost a response resends (MS-ASCMD 3.1.5.3).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.db import Database
from storage.db.tables_activesync import eas_client_ids, eas_devices, eas_sync_states

CLIENT_ID_TTL = 14 * 86400.0
"""Seconds a ClientId is remembered for duplicate detection."""


@dataclass(frozen=True)
class DeviceRecord:
    ref: int
    user_id: int
    device_id: str
    device_type: str
    user_agent: str
    protocol_version: str
    info: dict[str, str]
    policy_key: int
    pending_policy_key: int
    policy_hash: str
    wipe_state: str
    wipe_requested_at: float | None
    wipe_acknowledged_at: float | None
    ping: str
    first_seen: float
    last_seen: float
    last_command: str


@dataclass(frozen=True)
class StateRow:
    counter: int
    generation: str
    data: bytes


def _device(row: Any) -> DeviceRecord:
    m = row._mapping
    try:
        info = json.loads(m["info"] or "{}")
    except ValueError:
        info = {}
    return DeviceRecord(int(m["id"]), int(m["user_id"]), m["device_id"], m["device_type"],
                        m["user_agent"], m["protocol_version"], info, int(m["policy_key"]),
                        int(m["pending_policy_key"]), m["policy_hash"], m["wipe_state"],
                        m["wipe_requested_at"], m["wipe_acknowledged_at"], m["ping"],
                        m["first_seen"], m["last_seen"], m["last_command"])


class DeviceStateStore:
    """Async access to the ActiveSync tables."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    # --- devices -------------------------------------------------------------------

    async def touch_device(self, user_id: int, device_id: str, *, device_type: str,
                           user_agent: str, protocol_version: str,
                           command: str) -> DeviceRecord:
        """The device row (created on first contact), with last_seen/command updated."""
        now = self._clock()

        def txn(conn: sa.Connection) -> DeviceRecord:
            where = (eas_devices.c.user_id == user_id, eas_devices.c.device_id == device_id)
            values: dict[str, Any] = {"last_seen": now, "last_command": command[:32]}
            if device_type:
                values["device_type"] = device_type[:64]
            if user_agent:
                values["user_agent"] = user_agent[:256]
            if protocol_version:
                values["protocol_version"] = protocol_version[:8]
            updated = conn.execute(sa.update(eas_devices).where(*where).values(**values))
            if not updated.rowcount:
                conn.execute(sa.insert(eas_devices).values(
                    user_id=user_id, device_id=device_id, first_seen=now, **values))
            row = conn.execute(sa.select(eas_devices).where(*where)).one()
            return _device(row)

        return await self._db.run_interaction("eas_touch_device", txn)

    async def get_device(self, user_id: int, device_id: str) -> DeviceRecord | None:
        def txn(conn: sa.Connection) -> DeviceRecord | None:
            row = conn.execute(sa.select(eas_devices).where(
                eas_devices.c.user_id == user_id, eas_devices.c.device_id == device_id)).first()
            return None if row is None else _device(row)

        return await self._db.run_read("eas_get_device", txn)

    async def list_devices(self, user_id: int | None = None) -> list[DeviceRecord]:
        def txn(conn: sa.Connection) -> list[DeviceRecord]:
            query = sa.select(eas_devices).order_by(eas_devices.c.user_id,
                                                    eas_devices.c.device_id)
            if user_id is not None:
                query = query.where(eas_devices.c.user_id == user_id)
            return [_device(r) for r in conn.execute(query)]

        return await self._db.run_read("eas_list_devices", txn)

    async def update_device(self, ref: int, **values: Any) -> None:
        """Set columns of a device row (info is given as a dict)."""
        if "info" in values:
            values["info"] = json.dumps(values["info"], ensure_ascii=False)

        def txn(conn: sa.Connection) -> None:
            conn.execute(sa.update(eas_devices).where(eas_devices.c.id == ref).values(**values))

        await self._db.run_interaction("eas_update_device", txn)

    async def acknowledge_policy(self, ref: int, key: int) -> bool:
        """Phase two of Provision: the pending key becomes the device's key if it matches."""
        def txn(conn: sa.Connection) -> bool:
            result = conn.execute(sa.update(eas_devices).where(
                eas_devices.c.id == ref, eas_devices.c.pending_policy_key == key,
                eas_devices.c.pending_policy_key != 0).values(
                    policy_key=key, pending_policy_key=0))
            return bool(result.rowcount)

        return await self._db.run_interaction("eas_acknowledge_policy", txn)

    async def remove_device(self, ref: int) -> None:
        def txn(conn: sa.Connection) -> None:
            for table in (eas_client_ids, eas_sync_states):
                conn.execute(sa.delete(table).where(table.c.device_ref == ref))
            conn.execute(sa.delete(eas_devices).where(eas_devices.c.id == ref))

        await self._db.run_interaction("eas_remove_device", txn)

    # --- sync states -----------------------------------------------------------------

    async def load_states(self, ref: int, collection: str) -> list[StateRow]:
        """The kept states of a collection, newest first (at most two)."""
        def txn(conn: sa.Connection) -> list[StateRow]:
            rows = conn.execute(sa.select(eas_sync_states.c.counter,
                                          eas_sync_states.c.generation,
                                          eas_sync_states.c.data).where(
                eas_sync_states.c.device_ref == ref,
                eas_sync_states.c.collection == collection)
                .order_by(eas_sync_states.c.counter.desc()))
            return [StateRow(int(r.counter), r.generation, bytes(r.data)) for r in rows]

        return await self._db.run_read("eas_load_states", txn)

    async def save_state(self, ref: int, collection: str, generation: str, counter: int,
                         data: bytes, *, reset: bool = False) -> None:
        """Store the state of ``counter``; keep only it and ``counter - 1`` (same
        generation). ``reset`` drops every earlier state first (SyncKey 0)."""
        now = self._clock()

        def txn(conn: sa.Connection) -> None:
            where = (eas_sync_states.c.device_ref == ref,
                     eas_sync_states.c.collection == collection)
            if reset:
                conn.execute(sa.delete(eas_sync_states).where(*where))
            else:
                conn.execute(sa.delete(eas_sync_states).where(
                    *where, sa.or_(eas_sync_states.c.counter >= counter,
                                   eas_sync_states.c.counter < counter - 1,
                                   eas_sync_states.c.generation != generation)))
            conn.execute(sa.insert(eas_sync_states).values(
                device_ref=ref, collection=collection, counter=counter, generation=generation,
                data=data, created_at=now))

        await self._db.run_interaction("eas_save_state", txn)

    async def replace_state(self, ref: int, collection: str, counter: int, data: bytes) -> None:
        """Rewrite a kept state in place (MoveItems tells the newest state about moves)."""
        def txn(conn: sa.Connection) -> None:
            conn.execute(sa.update(eas_sync_states).where(
                eas_sync_states.c.device_ref == ref, eas_sync_states.c.collection == collection,
                eas_sync_states.c.counter == counter).values(data=data))

        await self._db.run_interaction("eas_replace_state", txn)

    async def drop_states(self, ref: int, collection: str | None = None) -> None:
        def txn(conn: sa.Connection) -> None:
            query = sa.delete(eas_sync_states).where(eas_sync_states.c.device_ref == ref)
            if collection is not None:
                query = query.where(eas_sync_states.c.collection == collection)
            conn.execute(query)

        await self._db.run_interaction("eas_drop_states", txn)

    async def collections(self, ref: int) -> list[str]:
        def txn(conn: sa.Connection) -> list[str]:
            rows = conn.execute(sa.select(eas_sync_states.c.collection).distinct().where(
                eas_sync_states.c.device_ref == ref))
            return sorted(r.collection for r in rows)

        return await self._db.run_read("eas_collections", txn)

    # --- ClientIds ---------------------------------------------------------------------

    async def find_client_id(self, ref: int, collection: str, client_id: str) -> str | None:
        def txn(conn: sa.Connection) -> str | None:
            value = conn.execute(sa.select(eas_client_ids.c.server_id).where(
                eas_client_ids.c.device_ref == ref, eas_client_ids.c.collection == collection,
                eas_client_ids.c.client_id == client_id[:64])).scalar()
            return None if value is None else str(value)

        return await self._db.run_read("eas_find_client_id", txn)

    async def remember_client_id(self, ref: int, collection: str, client_id: str,
                                 server_id: str) -> None:
        now = self._clock()

        def txn(conn: sa.Connection) -> None:
            conn.execute(sa.delete(eas_client_ids).where(
                eas_client_ids.c.device_ref == ref, eas_client_ids.c.collection == collection,
                eas_client_ids.c.client_id == client_id[:64]))
            conn.execute(sa.insert(eas_client_ids).values(
                device_ref=ref, collection=collection, client_id=client_id[:64],
                server_id=server_id[:64], created_at=now))
            conn.execute(sa.delete(eas_client_ids).where(
                eas_client_ids.c.created_at < now - CLIENT_ID_TTL))

        await self._db.run_interaction("eas_remember_client_id", txn)
