"""GLOBSET / IDSET commands (MS-OXCFXICS 2.2.2.4-2.2.2.6): layouts, round trips, garbage."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mapi.buffer import Reader
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.ids import GLOBCNT_MAX, ReplicaMap, make_id
from groupware.mapi.idset import GlobSet, IdSet

REPL_GUID = uuid.UUID("9b0a1e24-4c86-4f60-8e27-8f8f3b4a1d11")


def test_single_range_pushes_the_common_bytes() -> None:
    gs = GlobSet.from_ranges([(1, 5)])
    # Push 5 common bytes, Range 01..05, Pop, End.
    assert gs.to_bytes() == bytes.fromhex("05 0000000000 52 01 05 50 00")
    assert GlobSet.from_bytes(gs.to_bytes()) == gs


def test_bitmask_and_implicit_pop_singleton() -> None:
    gs = GlobSet.from_values([1, 3, 4, 10])
    # Push 5; Bitmask start 1, bits for 3 and 4 (bit 1 and 2); Push 1 byte 0x0A (the
    # sixth byte completes a GLOBCNT and is popped at once); Pop; End.
    assert gs.to_bytes() == bytes.fromhex("05 0000000000 42 01 06 01 0a 50 00")
    assert GlobSet.from_bytes(gs.to_bytes()) == gs


def test_decoding_hand_written_commands() -> None:
    # A lone 6-byte Push is one GLOBCNT; a Range with an empty stack is 6+6 bytes.
    data = bytes.fromhex("06 000000000100" "52 000000000200 000000000203" "00")
    assert GlobSet.from_bytes(data).ranges == ((0x100, 0x100), (0x200, 0x203))
    # Bitmask 0xFF from 0x10 covers 0x10..0x18.
    data = bytes.fromhex("04 00000000 01 00 42 10 ff 50 50 00")
    assert GlobSet.from_bytes(data).ranges == ((0x10, 0x18),)


@pytest.mark.parametrize(
    "data",
    [
        b"",  # no End
        bytes.fromhex("50 00"),  # Pop on empty stack
        bytes.fromhex("04 00000000 04 00000000 00"),  # overflow
        bytes.fromhex("42 01 01 00"),  # Bitmask without 5 stacked bytes
        bytes.fromhex("52 000000000002 000000000001 00"),  # low > high
        bytes.fromhex("05 0000000000 42 f8 80 50 00"),  # bitmask past 0xFF
        bytes.fromhex("07 00"),  # unknown command
        bytes.fromhex("03 0000"),  # truncated push
    ],
)
def test_malformed_globsets(data: bytes) -> None:
    with pytest.raises(MapiFormatError):
        GlobSet.from_bytes(data)


def test_set_operations() -> None:
    a = GlobSet.from_ranges([(1, 10), (20, 30)])
    b = GlobSet.from_ranges([(5, 25)])
    assert a.union(b).ranges == ((1, 30),)
    assert a.difference(b).ranges == ((1, 4), (26, 30))
    assert a.intersection(b).ranges == ((5, 10), (20, 25))
    assert 7 in a and 15 not in a
    assert len(a) == 21
    assert GlobSet.from_ranges([(1, 2), (3, 4)]).ranges == ((1, 4),)


def test_idset_replid_and_replguid_forms() -> None:
    ids = IdSet.from_ids([make_id(1, 1), make_id(1, 2), make_id(1, 3)])
    assert ids.to_bytes() == bytes.fromhex("0100") + bytes.fromhex("05 0000000000 52 01 03 50 00")
    assert IdSet.from_bytes(ids.to_bytes(), guid_based=False) == ids
    assert make_id(1, 2) in ids and make_id(2, 2) not in ids
    replicas = ReplicaMap({1: REPL_GUID})
    by_guid = ids.to_guid_based(replicas)
    assert by_guid.to_bytes()[:16] == REPL_GUID.bytes_le
    assert IdSet.from_bytes(by_guid.to_bytes(), guid_based=True) == by_guid
    assert by_guid.to_replid_based(replicas) == ids
    assert list(ids.add(make_id(1, 9)).ids()) == [make_id(1, v) for v in (1, 2, 3, 9)]
    with pytest.raises(MapiFormatError):
        IdSet({1: GlobSet.from_values([1]), REPL_GUID: GlobSet.from_values([1])}).to_bytes()


def _range_lists() -> st.SearchStrategy[list[tuple[int, int]]]:
    near = st.integers(0, 600)
    far = st.integers(0, GLOBCNT_MAX)
    bases = st.sampled_from([0, 0xFF00, 0x0102030400, GLOBCNT_MAX - 700])
    local = st.tuples(bases, near, st.integers(0, 12)).map(
        lambda t: (t[0] + t[1], min(GLOBCNT_MAX, t[0] + t[1] + t[2]))
    )
    wide = st.tuples(far, far).map(lambda t: (min(t), max(t)))
    return st.lists(st.one_of(local, local, wide), max_size=30)


@settings(max_examples=200, deadline=None)
@given(_range_lists())
def test_globset_round_trip(ranges: list[tuple[int, int]]) -> None:
    gs = GlobSet.from_ranges(ranges)
    assert GlobSet.from_bytes(gs.to_bytes()) == gs
    for lo, hi in ranges:
        assert lo in gs and hi in gs


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2000), max_size=60))
def test_globset_membership_matches_python_set(values: list[int]) -> None:
    gs = GlobSet.from_bytes(GlobSet.from_values(values).to_bytes())
    assert set(gs) == set(values)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 0xFFFF), _range_lists(), max_size=4))
def test_idset_round_trip(per_replica: dict[int, list[tuple[int, int]]]) -> None:
    ids = IdSet({k: GlobSet.from_ranges(v) for k, v in per_replica.items()})
    assert IdSet.from_bytes(ids.to_bytes(), guid_based=False) == ids


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60), st.booleans())
def test_garbage_idsets(data: bytes, guid_based: bool) -> None:
    try:
        ids = IdSet.from_bytes(data, guid_based=guid_based)
    except MapiFormatError:
        return
    assert IdSet.from_bytes(ids.to_bytes(), guid_based=guid_based) == ids


def test_range_limit() -> None:
    data = (bytes.fromhex("06 000000000001") + bytes.fromhex("06 000000000003")) + b"\x00"
    with pytest.raises(MapiFormatError, match="more than 1"):
        GlobSet.decode(Reader(data), limit=1)
