"""Store additions for the mail gateways: selective property decoding, and a delivery
guard that runs inside the delivery's transaction (duplicate suppression)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.types import PropTag
from storage.blobs import BlobRef
from storage.db.tables_queue import delivery_duplicates
from storage.mapistore import propcodec
from storage.mapistore.model import BlobValue
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.mapistore.support import SyncStore, mail, mime_of

VALUES: dict[int, st.SearchStrategy[Any]] = {
    0x0002: st.integers(-(1 << 15), (1 << 15) - 1),
    0x0003: st.integers(-(1 << 31), (1 << 31) - 1),
    0x0005: st.floats(allow_nan=False),
    0x000B: st.booleans(),
    0x0014: st.integers(-(1 << 63), (1 << 63) - 1),
    0x0040: st.integers(-(1 << 63), (1 << 63) - 1),
    0x001F: st.text(max_size=40),
    0x0102: st.binary(max_size=40),
    0x0048: st.uuids(),
    0x1003: st.lists(st.integers(-(1 << 31), (1 << 31) - 1), max_size=4).map(tuple),
    0x101F: st.lists(st.text(max_size=10), max_size=4).map(tuple),
    0x1102: st.lists(st.binary(max_size=10), max_size=4).map(tuple),
}


@st.composite
def bags(draw: st.DrawFn) -> dict[PropTag, Any]:
    out: dict[PropTag, Any] = {}
    for i in range(draw(st.integers(0, 12))):
        ptype = draw(st.sampled_from(sorted(VALUES)))
        tag = PropTag(((0x8000 + i) << 16) | ptype)
        if ptype == 0x0102 and draw(st.booleans()):
            out[tag] = BlobValue(BlobRef("ab" * 32), draw(st.integers(0, 1 << 40)))
        else:
            out[tag] = draw(VALUES[ptype])
    return out


@settings(max_examples=300, deadline=None)
@given(bags(), st.data())
def test_decoding_some_tags_equals_filtering_a_full_decode(bag: dict[PropTag, Any],
                                                           data: st.DataObject) -> None:
    encoded = propcodec.encode_props(bag)
    full = propcodec.decode_props(encoded)
    assert full == bag
    wanted = data.draw(st.sets(st.sampled_from([*sorted(bag), PropTag(0x0037001F)])))
    assert propcodec.decode_props(encoded, frozenset(wanted)) == {
        t: v for t, v in full.items() if t in wanted}


def test_truncated_data_is_refused_when_skipped_too() -> None:
    encoded = propcodec.encode_props({PropTag(0x0037001F): "subject", PropTag(0x0E070003): 1})
    for cut in range(1, len(encoded)):
        with pytest.raises(Exception, match="truncated"):
            propcodec.decode_props(encoded[:cut], frozenset({0x0E070003}))


class Duplicate(Exception):
    pass


def _guard(user_id: int, digest: str) -> Any:
    def guard(conn: sa.Connection) -> None:
        seen = conn.execute(sa.select(delivery_duplicates.c.digest).where(
            delivery_duplicates.c.user_id == user_id,
            delivery_duplicates.c.digest == digest)).first()
        if seen is not None:
            raise Duplicate(digest)
        conn.execute(sa.insert(delivery_duplicates).values(
            user_id=user_id, digest=digest, delivered_at=0.0))
    return guard


def test_delivery_guard_is_one_step_with_the_store_write(store: SyncStore, box: Any) -> None:
    info, special = box
    inbox = special[SpecialFolder.INBOX]
    digest = uuid.uuid4().hex

    async def burst() -> list[Any]:
        # Ten concurrent deliveries of the same message: the guard of each runs after
        # the mailbox is locked, so exactly one gets through.
        return list(await asyncio.gather(*(
            store.store.deliver(info.id, mail("dup"), mime=mime_of("dup"),
                                guard=_guard(1, digest))
            for _ in range(10)), return_exceptions=True))

    outcomes = asyncio.run(burst())
    assert sum(isinstance(o, Duplicate) for o in outcomes) == 9
    folder = store.get_folder(info.id, inbox)
    assert folder.message_count == 1 and folder.uidnext == 2
    assert len(store.read_rows(info.id, inbox).rows) == 1

    def failing(conn: sa.Connection) -> None:
        conn.execute(sa.insert(delivery_duplicates).values(
            user_id=1, digest="written-then-rolled-back", delivered_at=0.0))
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        store.deliver(info.id, mail("x"), mime=mime_of("x"), guard=failing)
    assert store.get_folder(info.id, inbox).message_count == 1
    used = store.get_store(info.id).size_used
    assert store.read_rows(info.id, inbox).rows[0].size == used

    def remembered(conn: sa.Connection) -> list[str]:
        return [r.digest for r in conn.execute(sa.select(delivery_duplicates.c.digest))]

    assert store.store.db.run_sync("check", remembered) == [digest]


def test_read_rows_past_the_tombstone_horizon_asks_for_a_full_read(store: SyncStore,
                                                                    box: Any) -> None:
    from storage.mapistore.errors import SyncStateTooOld

    info, special = box
    inbox = special[SpecialFolder.INBOX]
    first = store.deliver(info.id, mail("a"), mime=mime_of("a"))
    second = store.deliver(info.id, mail("b"), mime=mime_of("b"))
    store.delete_messages(info.id, [first.mid], hard=True)
    assert [d.uid for d in store.read_rows(info.id, inbox, since=second.cn).deleted] == [
        first.uid]
    store.purge_expired(info.id, now=store.store.clock() + 1000 * 86400)
    with pytest.raises(SyncStateTooOld):
        store.read_rows(info.id, inbox, since=second.cn)
    assert [r.uid for r in store.read_rows(info.id, inbox).rows] == [second.uid]
