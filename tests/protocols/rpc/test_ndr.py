"""NDR20 Reader/Writer: cross-decoding with impacket's NDR engine, round trips, limits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5.dtypes import DWORD, LONG, LPWSTR
from impacket.dcerpc.v5.ndr import NDRCALL, NDRPOINTER, NDRSTRUCT, NULL, NDRUniConformantArray

from protocols.rpc import ndr
from protocols.rpc.errors import NdrError


# -- an IDL-shaped structure with every pointer kind NSPI uses ---------------------
# typedef struct { long id; [string, unique] wchar_t* name; [unique] long* extra; } ITEM;
# typedef struct { unsigned long count; [size_is(count), unique] ITEM* items; } LIST;
class LPLONG(NDRPOINTER):
    referent = (("Data", LONG),)


class ITEM(NDRSTRUCT):
    structure = (("id", LONG), ("name", LPWSTR), ("extra", LPLONG))


class ITEM_ARRAY(NDRUniConformantArray):
    item = ITEM


class PITEM_ARRAY(NDRPOINTER):
    referent = (("Data", ITEM_ARRAY),)


class LIST(NDRSTRUCT):
    structure = (("count", DWORD), ("items", PITEM_ARRAY))


@dataclass(frozen=True)
class Item:
    id: int
    name: str | None
    extra: int | None


def write_item(w: ndr.Writer, item: Item) -> None:
    w.i32(item.id)
    w.unique(item.name, lambda w_, s: w_.wstring(s))
    w.unique(item.extra, lambda w_, v: w_.i32(v))


def write_list(w: ndr.Writer, items: list[Item]) -> None:
    w.u32(len(items))
    w.unique(items or None, lambda w_, xs: w_.conformant_array(xs, write_item))
    w.flush()


def read_list(r: ndr.Reader) -> list[Item]:
    count = r.u32()
    cells: list[tuple[int, ndr.Deferred[str], ndr.Deferred[int]]] = []

    def read_item(r_: ndr.Reader) -> int:
        ident = r_.i32()
        cells.append((ident, r_.unique(lambda x: x.wstring()), r_.unique(lambda x: x.i32())))
        return ident

    array = r.unique(lambda r_: r_.conformant_array(read_item, min_item_size=12))
    r.flush()
    if array.present and len(array.get()) != count:
        raise NdrError("count and conformance disagree")
    return [Item(ident, name.value, extra.value) for ident, name, extra in cells]


names = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12).filter(
        lambda s: "\x00" not in s
    ),
)
items_strategy = st.lists(
    st.builds(
        Item,
        st.integers(-(2**31), 2**31 - 1),
        names,
        st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
    ),
    max_size=6,
)


class ListCall(NDRCALL):
    """Top-level parameter wrapper: impacket only resolves referents inside an NDRCALL."""

    structure = (("List", LIST),)


def impacket_list(items: list[Item]) -> ListCall:
    call = ListCall()
    call["List"]["count"] = len(items)
    entries = []
    for item in items:
        entry = ITEM()
        entry["id"] = item.id
        entry["name"] = NULL if item.name is None else item.name + "\x00"
        entry["extra"] = NULL if item.extra is None else item.extra
        entries.append(entry)
    call["List"]["items"] = entries
    return call


@settings(max_examples=100, deadline=None)
@given(items_strategy.filter(bool))
def test_impacket_reads_what_we_write(items: list[Item]) -> None:
    theirs = ListCall(_encode(items))["List"]
    assert theirs["count"] == len(items)
    for ours, entry in zip(items, theirs["items"], strict=True):
        assert entry["id"] == ours.id
        if ours.name is None:
            assert entry.fields["name"]["ReferentID"] == 0
        else:
            assert entry["name"] == ours.name + "\x00"
        if ours.extra is None:
            assert entry.fields["extra"]["ReferentID"] == 0
        else:
            assert entry["extra"] == ours.extra


@settings(max_examples=100, deadline=None)
@given(items_strategy.filter(bool))
def test_we_read_what_impacket_writes(items: list[Item]) -> None:
    data = impacket_list(items).getData()
    assert read_list(ndr.Reader(data)) == items


def _encode(items: list[Item]) -> bytes:
    w = ndr.Writer()
    write_list(w, items)
    return w.getvalue()


@settings(max_examples=200, deadline=None)
@given(items_strategy)
def test_round_trip(items: list[Item]) -> None:
    reader = ndr.Reader(_encode(items))
    assert read_list(reader) == items
    reader.expect_end()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_only_raises_ndr_error(data: bytes) -> None:
    try:
        items = read_list(ndr.Reader(data, max_count=1000))
    except NdrError:
        return
    # Whatever parsed is well-typed and re-encodes into something that parses the same.
    assert read_list(ndr.Reader(_encode(items))) == items


def test_deferred_referents_follow_the_outer_structure_depth_first() -> None:
    # struct { long *a; long *b; } with a -> struct { long *c; }: C706 14.3.12.3 order is
    # a's referent, then c's referent (depth first), then b's.
    w = ndr.Writer()

    def inner(w_: ndr.Writer, value: int) -> None:
        w_.u32(value)
        w_.unique(value + 1, lambda w2, v: w2.u32(v))

    w.unique(100, inner)
    w.unique(300, lambda w_, v: w_.u32(v))
    w.flush()
    r = ndr.Reader(w.getvalue())
    words = [r.u32() for _ in range(r.remaining // 4)]
    assert words[2:] == [100, words[3], 101, 300]  # referent id of c sits inside a's referent
    assert words[0] != 0 and words[1] != 0 and words[3] != 0


def test_full_pointers_alias_one_referent() -> None:
    w = ndr.Writer()
    shared = "same"
    w.full(shared, lambda w_, s: w_.wstring(s), key="k")
    w.full(shared, lambda w_, s: w_.wstring(s), key="k")
    w.full(None, lambda w_, s: w_.wstring(s))
    w.flush()
    r = ndr.Reader(w.getvalue())
    first = r.full(lambda r_: r_.wstring())
    second = r.full(lambda r_: r_.wstring())
    null = r.full(lambda r_: r_.wstring())
    r.flush()
    assert first is second and first.get() == "same" and not null.present
    r.expect_end()


def test_scalars_alignment_and_uuid() -> None:
    w = ndr.Writer()
    w.u8(1)
    w.u64(2)
    w.u16(3)
    w.f64(1.5)
    value = uuid.uuid4()
    w.uuid(value)
    handle = ndr.ContextHandle(0, value)
    w.context_handle(handle)
    data = w.getvalue()
    r = ndr.Reader(data)
    assert (r.u8(), r.u64(), r.u16(), r.f64(), r.uuid(), r.context_handle()) == (
        1,
        2,
        3,
        1.5,
        value,
        handle,
    )
    assert data[1:8] == b"\x00" * 7  # hyper is 8-aligned


def test_strings_and_varying_arrays() -> None:
    w = ndr.Writer()
    w.wstring("Grüße €")
    w.cstring("/o=First Organization")
    w.varying_array([1, 2, 3], lambda w_, v: w_.u16(v))
    w.conformant_varying_array([9], lambda w_, v: w_.u32(v), max_count=4)
    r = ndr.Reader(w.getvalue())
    assert r.wstring() == "Grüße €"
    assert r.cstring() == "/o=First Organization"
    assert r.varying_array(lambda r_: r_.u16(), max_count=3) == [1, 2, 3]
    assert r.conformant_varying_array(lambda r_: r_.u32()) == [9]


def test_union_discriminant() -> None:
    w = ndr.Writer()
    w.union_discriminant(0x1F, size=2)
    w.wstring("arm")
    r = ndr.Reader(w.getvalue())
    assert r.union_discriminant(size=2) == 0x1F and r.wstring() == "arm"
    with pytest.raises(NdrError):
        r.union_discriminant(size=3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x05\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00a\x00b\x00c\x00d\x00e\x00", "NUL"),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00a\x00b\x00\x00\x00", "max_count"),
        (b"\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00", "offset"),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\xd8\x00\x00", "UTF-16"),
        (b"\xff\xff\xff\x7f", "limit"),
    ],
)
def test_bad_strings(data: bytes, message: str) -> None:
    with pytest.raises(NdrError, match=message):
        ndr.Reader(data).wstring()


def test_limits() -> None:
    with pytest.raises(NdrError, match="cannot fit"):
        ndr.Reader(b"\x00\x00\x01\x00").conformant_array(lambda r: r.u32(), min_item_size=4)
    with pytest.raises(NdrError, match="exceed"):
        w = ndr.Writer(max_size=8)
        w.raw(b"\x00" * 9)
    with pytest.raises(NdrError):
        ndr.Writer(max_count=2).conformant_array([1, 2, 3], lambda w_, v: w_.u8(v))
    with pytest.raises(NdrError, match="exceeds"):
        ndr.Reader(b"\x00" * 16, max_size=8)

    # A linked list deeper than max_depth: each node holds a pointer to the next.
    def node(w_: ndr.Writer, depth: int) -> None:
        w_.u32(depth)
        w_.unique(depth + 1 if depth < 40 else None, node)

    w = ndr.Writer()
    w.unique(0, node)
    data = w.getvalue()

    def read_node(r_: ndr.Reader) -> int:
        value = r_.u32()
        r_.unique(read_node)
        return value

    r = ndr.Reader(data)
    r.unique(read_node)
    r.flush()  # 41 levels are within the default limit of 64
    shallow = ndr.Reader(data, max_depth=8)
    shallow.unique(read_node)
    with pytest.raises(NdrError, match="nesting"):
        shallow.flush()
    few = ndr.Reader(data, max_pointers=5)
    few.unique(read_node)
    with pytest.raises(NdrError, match="pointers"):
        few.flush()


def test_deferred_value_before_flush_and_null_get() -> None:
    r = ndr.Reader(b"\x00\x00\x02\x00\x07\x00\x00\x00\x00\x00\x00\x00")
    cell = r.unique(lambda r_: r_.u32())
    with pytest.raises(NdrError, match="flushed"):
        _ = cell.value
    r.flush()
    assert cell.get() == 7
    null = r.unique(lambda r_: r_.u32())
    assert null.value is None
    with pytest.raises(NdrError, match="null"):
        null.get()
    with pytest.raises(NdrError, match="null"):
        ndr.Reader(b"\x00" * 4).ref(lambda r_: r_.u32())
