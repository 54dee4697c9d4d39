"""Property tests: round trips over every code page, split-independence, garbage input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.activesync.wbxml import (
    DecoderLimits,
    Element,
    Event,
    WbxmlDecoder,
    WbxmlError,
    WbxmlLimitExceeded,
    build_tree,
    decode,
    decode_events,
    encode,
    encode_events,
    from_xml,
    iter_encode,
    to_xml,
)

from .conftest import SAMPLES, SPEC_EXAMPLE_WBXML, trees

EAS_HEADER = bytes([0x03, 0x01, 0x6A, 0x00])
VALID_DOCUMENTS = [s.wbxml for s in SAMPLES] + [SPEC_EXAMPLE_WBXML]
SMALL_CHUNKS = DecoderLimits(opaque_chunk_size=7)


def _decode_split(data: bytes, cuts: list[int], limits: DecoderLimits) -> list[Event]:
    decoder = WbxmlDecoder(limits)
    events: list[Event] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        decoder.feed(data[start:cut])
        events.extend(decoder.events())
        start = cut
    decoder.close()
    events.extend(decoder.events())
    return events


def _decode_or_reject(data: bytes, limits: DecoderLimits | None = None) -> Element | None:
    """Decode fully; only WbxmlError may escape, anything else fails the test."""
    try:
        return decode(data, limits)
    except WbxmlError:
        return None


@settings(max_examples=200, deadline=None)
@given(tree=trees())
def test_wbxml_round_trip_over_all_code_pages(tree: Element) -> None:
    data = encode(tree)
    assert data.startswith(EAS_HEADER)
    assert decode(data) == tree
    assert b"".join(iter_encode(tree, flush_size=5)) == data


@settings(max_examples=200, deadline=None)
@given(tree=trees(xml_safe=True))
def test_xml_round_trip_over_all_code_pages(tree: Element) -> None:
    assert from_xml(to_xml(tree)) == tree
    assert from_xml(to_xml(tree, indent=None)) == tree


@settings(max_examples=200, deadline=None)
@given(tree=trees(), data=st.data())
def test_any_split_gives_the_same_events(tree: Element, data: st.DataObject) -> None:
    encoded = encode(tree)
    whole = list(decode_events(encoded, SMALL_CHUNKS))
    cuts = data.draw(st.lists(st.integers(0, len(encoded)), max_size=12))
    assert _decode_split(encoded, cuts, SMALL_CHUNKS) == whole
    assert b"".join(encode_events(whole)) == encoded


@settings(max_examples=50, deadline=None)
@given(tree=trees())
def test_one_byte_at_a_time_gives_the_same_events(tree: Element) -> None:
    encoded = encode(tree)
    whole = list(decode_events(encoded, SMALL_CHUNKS))
    assert _decode_split(encoded, list(range(len(encoded))), SMALL_CHUNKS) == whole
    assert build_tree(whole) == tree


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_garbage_bytes_raise_only_wbxml_errors(data: bytes) -> None:
    _decode_or_reject(data)
    _decode_or_reject(EAS_HEADER + data)


@settings(max_examples=200, deadline=None)
@given(
    document=st.sampled_from(VALID_DOCUMENTS),
    position=st.integers(min_value=0),
    replacement=st.binary(max_size=4),
    delete=st.integers(0, 4),
)
def test_mutated_documents_raise_only_wbxml_errors(
    document: bytes, position: int, replacement: bytes, delete: int
) -> None:
    position %= len(document)
    mutated = document[:position] + replacement + document[position + delete :]
    _decode_or_reject(mutated)
    _decode_or_reject(mutated, DecoderLimits(max_depth=3, max_string=4, max_opaque=4,
                                             max_elements=5, max_string_table=1))


@settings(max_examples=200, deadline=None)
@given(tree=trees())
def test_tight_limits_either_pass_or_say_so(tree: Element) -> None:
    limits = DecoderLimits(max_depth=3, max_string=8, max_opaque=8, max_elements=6)
    try:
        assert decode(encode(tree), limits) == tree
    except WbxmlLimitExceeded:
        depth = max(_depth(e) for e in [tree])
        count = sum(1 for _ in tree.iter())
        texts = [len((e.text or "").encode()) for e in tree.iter()]
        blobs = [len(e.opaque or b"") for e in tree.iter()]
        assert depth > 3 or count > 6 or max(texts) > 8 or max(blobs) > 8


def _depth(element: Element) -> int:
    best = 0
    stack = [(element, 1)]
    while stack:
        current, level = stack.pop()
        best = max(best, level)
        stack.extend((child, level + 1) for child in current.children)
    return best
