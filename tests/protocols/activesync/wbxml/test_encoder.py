"""The streaming writer: lazy tag stack, lazy page switches, streamed opaque values."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from protocols.activesync.wbxml import (
    EndElement,
    StartElement,
    WbxmlEncodeError,
    WbxmlWriter,
    decode,
    decode_events,
    encode,
    encode_events,
    from_xml,
    iter_encode,
    make,
)

from .conftest import SAMPLES, SPEC_EXAMPLE_WBXML, SPEC_EXAMPLE_XML, Sample

HEADER = bytes([0x03, 0x01, 0x6A, 0x00])


def written(build: Callable[[WbxmlWriter], object], flush_size: int = 1 << 14) -> bytes:
    chunks: list[bytes] = []
    writer = WbxmlWriter(chunks.append, flush_size=flush_size)
    build(writer)
    writer.close()
    return b"".join(chunks)


def test_spec_example_through_writer_calls() -> None:
    def build(w: WbxmlWriter) -> None:
        w.start("AirSync:Sync")
        w.start("AirSync:Collections")
        w.start("AirSync:Collection")
        w.element("AirSync:Class", "Contacts")
        w.element("AirSync:SyncKey", "2")
        w.element("AirSync:CollectionId", "2")
        w.element("AirSync:Status", "1")
        w.start("AirSync:Commands")
        w.start("AirSync:Add")
        w.element("AirSync:ServerId", "2:1")
        w.start("AirSync:ApplicationData")
        w.start("AirSyncBase:Body")
        w.element("AirSyncBase:Type", "1")
        w.element("AirSyncBase:EstimatedDataSize", "0")
        w.element("AirSyncBase:Truncated", "1")
        w.end()
        w.element("Contacts:FileAs", "Funk, Don")
        w.element("Contacts:FirstName", "Don")
        w.element("Contacts:LastName", "Funk")
        w.element("AirSyncBase:NativeBodyType", "1")
        for _ in range(6):
            w.end()

    assert written(build) == SPEC_EXAMPLE_WBXML


def test_spec_example_from_its_xml() -> None:
    assert encode(from_xml(SPEC_EXAMPLE_XML)) == SPEC_EXAMPLE_WBXML


def test_lazy_parents_without_content_are_not_written() -> None:
    def with_empty_commands(w: WbxmlWriter) -> None:
        w.start("AirSync:Sync")
        w.start("AirSync:Collections")
        w.start("AirSync:Collection")
        w.element("AirSync:SyncKey", "5")
        w.start("AirSync:Commands")  # nothing to report: must vanish
        w.start("AirSync:Add")
        w.end()
        w.end()
        w.end()
        w.start("AirSync:Collection")  # nothing at all: must vanish too
        w.end()
        w.end()
        w.end()

    expected = make(
        "AirSync:Sync",
        make("AirSync:Collections", make("AirSync:Collection", make("AirSync:SyncKey", text="5"))),
    )
    data = written(with_empty_commands)
    assert data == encode(expected)
    assert decode(data) == expected


def test_keep_empty_and_empty_write_tags_without_content_bit() -> None:
    def build(w: WbxmlWriter) -> None:
        w.start("AirSync:Sync")
        w.empty("AirSync:GetChanges")  # 0x13, no content bit
        w.start("AirSync:MoreAvailable", keep_empty=True)  # 0x14
        w.end()
        w.end()

    data = written(build)
    assert data == HEADER + bytes([0x45, 0x13, 0x14, 0x01])
    events = list(decode_events(data))
    assert [type(e) for e in events] == [StartElement, StartElement, EndElement, StartElement,
                                         EndElement, EndElement]


def test_empty_child_materializes_lazy_parents() -> None:
    def build(w: WbxmlWriter) -> None:
        w.start("AirSync:Sync")
        w.start("AirSync:Collections")
        w.empty("AirSync:GetChanges")
        w.end()
        w.end()

    assert written(build) == HEADER + bytes([0x45, 0x5C, 0x13, 0x01, 0x01])


def test_pages_switch_only_when_a_tag_needs_it() -> None:
    def build(w: WbxmlWriter) -> None:
        w.start("FolderHierarchy:FolderSync")
        w.element("FolderHierarchy:SyncKey", "0")
        w.element("FolderHierarchy:Status", "1")
        w.end()

    # One SWITCH_PAGE to 7 at the start, none before the second tag or the ENDs.
    data = written(build)
    assert data == HEADER + bytes([0x00, 0x07, 0x56, 0x52, 0x03, 0x30, 0x00, 0x01,
                                   0x4C, 0x03, 0x31, 0x00, 0x01, 0x01])


def test_opaque_is_streamed_from_an_iterator() -> None:
    chunks: list[bytes] = []
    seen_before_second_piece: list[int] = []
    big = b"M" * 40_000

    def body() -> Iterator[bytes]:
        yield big
        seen_before_second_piece.append(sum(map(len, chunks)))
        yield b"tail"

    writer = WbxmlWriter(chunks.append, flush_size=4096)
    writer.start("ComposeMail:SendMail")
    writer.element("ComposeMail:ClientId", "1")
    writer.start("ComposeMail:Mime")
    writer.opaque(body(), length=len(big) + 4)
    writer.end()
    writer.end()
    writer.close()
    # The big piece went to the sink as it was produced, before the iterator finished.
    assert seen_before_second_piece[0] > len(big)
    assert big in chunks
    tree = decode(b"".join(chunks))
    mime = tree.find("ComposeMail:Mime")
    assert mime is not None
    assert mime.opaque == big + b"tail"


def test_begin_chunk_end_opaque() -> None:
    def build(w: WbxmlWriter) -> None:
        w.start("ComposeMail:SendMail")
        w.start("ComposeMail:Mime")
        w.begin_opaque(6)
        w.opaque_chunk(b"abc")
        w.opaque_chunk(b"def")
        w.end_opaque()
        w.end()
        w.end()

    assert decode(written(build)).children[0].opaque == b"abcdef"


@pytest.mark.parametrize(("pieces", "length"), [([b"abc", b"def"], 5), ([b"ab"], 5)])
def test_opaque_length_mismatch_breaks_the_writer(pieces: list[bytes], length: int) -> None:
    writer = WbxmlWriter(lambda chunk: None)
    writer.start("ComposeMail:Mime")
    with pytest.raises(WbxmlEncodeError, match="announced"):
        writer.opaque(iter(pieces), length=length)
    with pytest.raises(WbxmlEncodeError, match="announced"):
        writer.end()


def test_chunks_respect_flush_size() -> None:
    tree = make("FolderHierarchy:FolderSync",
                *[make("FolderHierarchy:DisplayName", text=f"folder {i}") for i in range(200)])
    chunks = list(iter_encode(tree, flush_size=64))
    assert len(chunks) > 20
    assert all(len(chunk) >= 64 for chunk in chunks[:-1])
    assert all(len(chunk) < 64 + 16 for chunk in chunks)
    assert b"".join(chunks) == encode(tree)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_events_reencode_to_the_same_bytes(sample: Sample) -> None:
    data = sample.wbxml
    assert b"".join(encode_events(decode_events(data))) == data


def test_element_value_kinds() -> None:
    def build(w: WbxmlWriter) -> None:
        w.start("ComposeMail:SendMail")
        w.element("ComposeMail:ClientId", "7")
        w.element("ComposeMail:SaveInSentItems")
        w.element("ComposeMail:Status", "")
        w.element("ComposeMail:Mime", b"\x00\x01")
        w.end()

    tree = decode(written(build))
    assert [(c.tag.name, c.text, c.opaque) for c in tree.children] == [
        ("ClientId", "7", None), ("SaveInSentItems", None, None), ("Status", None, None),
        ("Mime", None, b"\x00\x01"),
    ]


# -- misuse -------------------------------------------------------------------------------


def test_text_with_nul_is_refused() -> None:
    writer = WbxmlWriter(lambda chunk: None)
    writer.start("AirSync:SyncKey")
    with pytest.raises(WbxmlEncodeError, match="NUL"):
        writer.text("a\x00b")


def test_text_with_lone_surrogate_is_refused() -> None:
    writer = WbxmlWriter(lambda chunk: None)
    writer.start("AirSync:SyncKey")
    with pytest.raises(WbxmlEncodeError, match="UTF-8"):
        writer.text("\ud800")


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (lambda w: w.end(), "without an open element"),
        (lambda w: w.text("x"), "outside any element"),
        (lambda w: w.begin_opaque(1), "outside any element"),
        (lambda w: w.start("AirSync:Nope"), "no element"),
        (lambda w: (w.empty("AirSync:Sync"), w.start("AirSync:Sync")), "exactly one root"),
        (lambda w: (w.start("AirSync:Sync"), w.close()), "still open"),
        (lambda w: (w.start("AirSync:Sync"), w.end(), w.close()), "no root element"),
        (lambda w: w.opaque_chunk(b"x"), "without begin_opaque"),
        (lambda w: w.end_opaque(), "without begin_opaque"),
        (lambda w: (w.start("AirSync:Sync"), w.begin_opaque(2**32)), "mb_u_int32"),
        (lambda w: (w.start("AirSync:Sync"), w.opaque(b"ab", length=3)), "opaque length"),
        (lambda w: (w.start("AirSync:Sync"), w.opaque(iter([b"a"]))), "total length"),
        (lambda w: (w.start("AirSync:Sync"), w.begin_opaque(1), w.text("x")), "still being"),
        (lambda w: (w.empty("AirSync:Sync"), w.close(), w.start("AirSync:Sync")), "closed"),
    ],
)
def test_misuse_is_refused(steps: Callable[[WbxmlWriter], object], message: str) -> None:
    writer = WbxmlWriter(lambda chunk: None)
    with pytest.raises(WbxmlEncodeError, match=message):
        steps(writer)


def test_tree_with_mixed_content_is_refused() -> None:
    element = make("AirSync:Sync", make("AirSync:SyncKey"), text="x")
    with pytest.raises(WbxmlEncodeError, match="more than one"):
        encode(element)


def test_flush_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="flush_size"):
        WbxmlWriter(lambda chunk: None, flush_size=0)
