"""FID/MID/CN packing, GID, LongTermID, replica maps, XIDs and PCLs."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mapi.changes import PredecessorChangeList, Relation, Xid, change_key
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.ids import (
    GLOBCNT_MAX,
    GlobalId,
    LongTermId,
    ReplicaMap,
    globcnt_from_bytes,
    globcnt_to_bytes,
    id_from_bytes,
    id_to_bytes,
    make_id,
    split_id,
)

GUID_A = uuid.UUID("11111111-2222-3333-4444-555555555555")
GUID_B = uuid.UUID("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")

globcnts = st.integers(0, GLOBCNT_MAX)
replids = st.integers(0, 0xFFFF)


def test_fid_wire_layout_replid_le_globcnt_be() -> None:
    # MS-OXCDATA 2.2.1.1: ReplicaId (2 bytes) then GlobalCounter (6 bytes, big-endian).
    fid = make_id(0x0001, 0x000000000102)
    assert id_to_bytes(fid) == bytes.fromhex("0100 000000000102")
    assert fid == 0x0201000000000001
    assert split_id(fid) == (1, 0x102)
    assert globcnt_to_bytes(0x0A0B0C0D0E0F) == bytes.fromhex("0a0b0c0d0e0f")


def test_gid_and_long_term_id_layout() -> None:
    gid = GlobalId(GUID_A, 5)
    assert gid.to_bytes() == GUID_A.bytes_le + bytes.fromhex("000000000005")
    ltid = LongTermId(GUID_A, 5)
    assert ltid.to_bytes() == gid.to_bytes() + b"\x00\x00"
    assert len(ltid.to_bytes()) == 24
    assert LongTermId.from_bytes(ltid.to_bytes()) == ltid
    with pytest.raises(MapiFormatError):
        LongTermId.from_bytes(b"\x00" * 23)
    with pytest.raises(MapiFormatError):
        GlobalId(GUID_A, 1 << 48)


def test_replica_map_long_term_conversion() -> None:
    replicas = ReplicaMap({1: GUID_A, 5: GUID_B})
    mid = make_id(5, 77)
    ltid = replicas.to_long_term(mid)
    assert ltid == LongTermId(GUID_B, 77)
    assert replicas.from_long_term(ltid) == mid
    with pytest.raises(MapiFormatError):
        replicas.to_long_term(make_id(9, 1))
    with pytest.raises(MapiFormatError):
        replicas.add(1, GUID_B)  # GUID_B already has replica id 5


@settings(max_examples=200, deadline=None)
@given(replids, globcnts)
def test_pack_round_trip(replid: int, globcnt: int) -> None:
    value = make_id(replid, globcnt)
    assert split_id(value) == (replid, globcnt)
    assert id_from_bytes(id_to_bytes(value)) == value
    assert globcnt_from_bytes(globcnt_to_bytes(globcnt)) == globcnt


@settings(max_examples=200, deadline=None)
@given(st.uuids(), globcnts)
def test_gid_round_trip(guid: uuid.UUID, globcnt: int) -> None:
    assert GlobalId.from_bytes(GlobalId(guid, globcnt).to_bytes()) == GlobalId(guid, globcnt)


def test_change_key_is_22_bytes() -> None:
    ck = change_key(GUID_A, 0x1234)
    assert ck.to_bytes() == GUID_A.bytes_le + bytes.fromhex("000000001234")
    assert Xid.from_bytes(ck.to_bytes()) == ck
    with pytest.raises(MapiFormatError):
        Xid.from_bytes(b"\x00" * 16)
    with pytest.raises(MapiFormatError):
        Xid(GUID_A, b"\x00" * 9)


def test_pcl_layout_and_relations() -> None:
    pcl = PredecessorChangeList([change_key(GUID_A, 3), change_key(GUID_B, 9)])
    raw = pcl.to_bytes()
    # SizedXid entries: XidSize (22) then the XID, ordered by GUID bytes.
    assert raw[0] == 22
    assert len(raw) == 2 * 23
    assert PredecessorChangeList.from_bytes(raw) == pcl

    older = PredecessorChangeList([change_key(GUID_A, 2)])
    assert pcl.compare(older) is Relation.NEWER
    assert older.compare(pcl) is Relation.OLDER
    assert pcl.compare(PredecessorChangeList.from_bytes(raw)) is Relation.EQUAL
    other = PredecessorChangeList([change_key(GUID_A, 4)])
    assert pcl.compare(other) is Relation.CONFLICT
    merged = pcl.merge(other)
    assert merged.includes(pcl) and merged.includes(other)
    assert merged.get(GUID_A) == change_key(GUID_A, 4)
    assert pcl.includes(change_key(GUID_B, 9))
    assert not pcl.includes(change_key(GUID_B, 10))
    assert pcl.with_change(change_key(GUID_B, 10)).get(GUID_B) == change_key(GUID_B, 10)


def test_pcl_garbage() -> None:
    with pytest.raises(MapiFormatError):
        PredecessorChangeList.from_bytes(b"\x16" + b"\x00" * 5)
    with pytest.raises(MapiFormatError):
        PredecessorChangeList.from_bytes(b"\x05abcde")


pcls = st.lists(st.tuples(st.sampled_from([GUID_A, GUID_B, uuid.UUID(int=7)]), globcnts)).map(
    lambda items: PredecessorChangeList([change_key(g, c) for g, c in items])
)


@settings(max_examples=200, deadline=None)
@given(pcls, pcls)
def test_pcl_algebra(a: PredecessorChangeList, b: PredecessorChangeList) -> None:
    assert PredecessorChangeList.from_bytes(a.to_bytes()) == a
    m = a.merge(b)
    assert m.includes(a) and m.includes(b)
    assert m == b.merge(a)
    rel = a.compare(b)
    flipped = {Relation.NEWER: Relation.OLDER, Relation.OLDER: Relation.NEWER}
    assert b.compare(a) is flipped.get(rel, rel)
    assert (rel is Relation.EQUAL) == (a == b)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_pcl_garbage_fuzz(data: bytes) -> None:
    try:
        pcl = PredecessorChangeList.from_bytes(data)
    except MapiFormatError:
        return
    assert PredecessorChangeList.from_bytes(pcl.to_bytes()) == pcl
