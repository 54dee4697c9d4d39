"""The streaming decoder: bytes in, events out, every defect a WbxmlError."""

from __future__ import annotations

import pytest

from groupware.errors import Code, InvalidInput
from protocols.activesync.wbxml import (
    DecoderLimits,
    EndElement,
    Event,
    Opaque,
    StartElement,
    Text,
    WbxmlDecoder,
    WbxmlError,
    WbxmlLimitExceeded,
    WbxmlTruncated,
    WbxmlUnknownCodePage,
    WbxmlUnknownTag,
    WbxmlUnsupported,
    build_tree,
    decode,
    decode_events,
    from_xml,
    lookup_tag,
)

from .conftest import SAMPLES, SPEC_EXAMPLE_WBXML, SPEC_EXAMPLE_XML, Sample

HEADER = bytes([0x03, 0x01, 0x6A, 0x00])
SYNC = lookup_tag("AirSync:Sync")
SYNCKEY = lookup_tag("AirSync:SyncKey")
FS_SYNCKEY = lookup_tag("FolderHierarchy:SyncKey")


def doc(*body: int | bytes) -> bytes:
    """HEADER followed by tokens (ints) and raw byte strings."""
    out = bytearray(HEADER)
    for part in body:
        if isinstance(part, int):
            out.append(part)
        else:
            out += part
    return bytes(out)


def all_events(data: bytes, limits: DecoderLimits | None = None) -> list[Event]:
    return list(decode_events(data, limits))


def test_spec_example_decodes_to_the_spec_xml() -> None:
    assert decode(SPEC_EXAMPLE_WBXML) == from_xml(SPEC_EXAMPLE_XML)


def test_spec_example_event_stream_starts_as_described() -> None:
    events = all_events(SPEC_EXAMPLE_WBXML)
    assert events[:4] == [
        StartElement(SYNC),
        StartElement(lookup_tag("AirSync:Collections")),
        StartElement(lookup_tag("AirSync:Collection")),
        StartElement(lookup_tag("AirSync:Class")),
    ]
    assert events[4] == Text("Contacts")
    assert events[-1] == EndElement(SYNC)
    starts = sum(isinstance(e, StartElement) for e in events)
    ends = sum(isinstance(e, EndElement) for e in events)
    assert starts == ends == 19  # elements in the XML above


def test_header_is_exposed() -> None:
    decoder = WbxmlDecoder()
    decoder.feed(doc(0x05))
    assert decoder.next_event() == StartElement(SYNC)
    assert decoder.header is not None
    assert (decoder.header.version, decoder.header.public_id, decoder.header.charset) == (
        3, 1, 106,
    )
    assert decoder.header.string_table_length == 0


def test_tag_without_content_is_start_then_end_and_completes_the_document() -> None:
    decoder = WbxmlDecoder()
    decoder.feed(doc(0x05))
    assert list(decoder.events()) == [StartElement(SYNC), EndElement(SYNC)]
    assert decoder.done
    decoder.close()
    assert decoder.next_event() is None


def test_page_is_stream_state_and_survives_end() -> None:
    # <FolderSync><SyncKey/>  END does not reset the page: the next 0x52 is still page 7.
    data = doc(0x00, 0x07, 0x56, 0x12, 0x52, 0x03, b"1\x00", 0x01, 0x01)
    events = all_events(data)
    assert events == [
        StartElement(lookup_tag("FolderHierarchy:FolderSync")),
        StartElement(FS_SYNCKEY),
        EndElement(FS_SYNCKEY),
        StartElement(FS_SYNCKEY),
        Text("1"),
        EndElement(FS_SYNCKEY),
        EndElement(lookup_tag("FolderHierarchy:FolderSync")),
    ]


def test_switch_page_between_siblings() -> None:
    # Sync > (Email:Subject "x", AirSync:SyncKey "y"): page 2 then back to page 0.
    data = doc(0x45, 0x00, 0x02, 0x54, 0x03, b"x\x00", 0x01, 0x00, 0x00, 0x4B, 0x03, b"y\x00",
               0x01, 0x01)
    tree = decode(data)
    assert [child.qname for child in tree.children] == ["Email:Subject", "AirSync:SyncKey"]
    assert [child.text for child in tree.children] == ["x", "y"]


def test_utf8_text() -> None:
    text = "Grüße ✓ 𝄞"
    data = doc(0x45, 0x4B, 0x03, text.encode() + b"\x00", 0x01, 0x01)
    assert decode(data).children[0].text == text


def test_string_table_and_entities() -> None:
    # Header with a 6-byte string table "ab\0cd\0"; STR_T 3 -> "cd"; ENTITY U+00E9 -> "é".
    data = bytes([0x03, 0x01, 0x6A, 0x06]) + b"ab\x00cd\x00" + bytes(
        [0x45, 0x4B, 0x83, 0x03, 0x02, 0x81, 0x69, 0x01, 0x01]
    )
    decoder = WbxmlDecoder()
    decoder.feed(data)
    decoder.close()
    events = list(decoder.events())
    assert Text("cd") in events
    assert Text("é") in events
    assert decoder.header is not None
    assert decoder.header.string_table_length == 6
    assert build_tree(iter(events)).children[0].text == "cdé"


def test_public_id_by_string_table_reference() -> None:
    data = bytes([0x03, 0x00, 0x00, 0x6A, 0x02]) + b"x\x00" + bytes([0x05])
    decoder = WbxmlDecoder()
    decoder.feed(data)
    assert decoder.next_event() == StartElement(SYNC)
    assert decoder.header is not None
    assert decoder.header.public_id == 0


def test_opaque_arrives_in_fixed_chunks() -> None:
    payload = bytes(range(200))
    data = doc(0x45, 0x4B, 0xC3, 0x81, 0x48, payload, 0x01, 0x01)  # length 200 = 0x81 0x48
    events = all_events(data, DecoderLimits(opaque_chunk_size=64))
    chunks = [e for e in events if isinstance(e, Opaque)]
    assert [len(c.data) for c in chunks] == [64, 64, 64, 8]
    assert [c.offset for c in chunks] == [0, 64, 128, 192]
    assert all(c.total == 200 for c in chunks)
    assert [c.final for c in chunks] == [False, False, False, True]
    assert b"".join(c.data for c in chunks) == payload


def test_empty_opaque() -> None:
    events = all_events(doc(0x45, 0x4B, 0xC3, 0x00, 0x01, 0x01))
    assert Opaque(b"", 0, 0) in events
    assert Opaque(b"", 0, 0).final
    assert decode(doc(0x45, 0x4B, 0xC3, 0x00, 0x01, 0x01)).children[0].opaque == b""


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_one_byte_at_a_time_gives_the_same_events(sample: Sample) -> None:
    data = sample.wbxml
    whole = all_events(data, DecoderLimits(opaque_chunk_size=100))
    decoder = WbxmlDecoder(DecoderLimits(opaque_chunk_size=100))
    trickled: list[Event] = []
    for i in range(len(data)):
        decoder.feed(data[i : i + 1])
        trickled.extend(decoder.events())
    decoder.close()
    trickled.extend(decoder.events())
    assert trickled == whole
    assert decoder.done


def test_buffer_does_not_grow_with_the_document() -> None:
    payload = b"x" * (1 << 20)
    data = doc(0x45, 0x4B, 0xC3, 0x80 | 0x40, 0x80, 0x00, payload, 0x01, 0x01)
    assert data[6:10] == bytes([0xC3, 0xC0, 0x80, 0x00])  # OPAQUE, 1 MiB as mb_u_int32
    decoder = WbxmlDecoder(DecoderLimits(opaque_chunk_size=16 << 10))
    received = 0
    peak = 0
    for start in range(0, len(data), 32 << 10):
        decoder.feed(data[start : start + (32 << 10)])
        for event in decoder.events():
            if isinstance(event, Opaque):
                received += len(event.data)
        peak = max(peak, decoder.buffered)
    assert received == len(payload)
    assert peak < 256 << 10


# -- rejections ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (bytes([0x02, 0x01, 0x6A, 0x00, 0x05]), WbxmlError, "version"),
        (bytes([0x03, 0x01, 0x04, 0x00, 0x05]), WbxmlUnsupported, "charset"),
        (doc(0x00, 0x1A, 0x05), WbxmlUnknownCodePage, "code page 26"),
        (doc(0x00, 0xFF, 0x05), WbxmlUnknownCodePage, "code page 255"),
        (doc(0x6A), WbxmlUnknownTag, "no tag 0x2A"),
        (doc(0x00, 0x0F, 0x46), WbxmlUnknownTag, "no tag 0x06"),  # Search 0x06 unused
        (doc(0x85), WbxmlUnsupported, "attributes"),
        (doc(0xC5, 0x01), WbxmlUnsupported, "attributes"),
        (doc(0x04, 0x00), WbxmlUnsupported, "literal"),
        (doc(0x45, 0x44, 0x00), WbxmlUnsupported, "literal"),
        (doc(0x43), WbxmlUnsupported, "processing instruction"),
        (doc(0x45, 0xC0), WbxmlUnsupported, "extension"),
        (doc(0x45, 0x40, b"x\x00"), WbxmlUnsupported, "extension"),
        (doc(0x01), WbxmlError, "END outside"),
        (doc(0x03, b"x\x00"), WbxmlError, "outside any element"),
        (doc(0xC3, 0x00), WbxmlError, "outside any element"),
        (doc(0x05, 0x05), WbxmlError, "after the root"),
        (doc(0x45, 0x01, 0x00, 0x00), WbxmlError, "after the root"),
        (doc(0x45, 0x03, b"\xff\xfe\x00", 0x01), WbxmlError, "UTF-8"),
        (doc(0x45, 0x02, 0x83, 0xB0, 0x00, 0x01), WbxmlError, "not a character"),  # U+D800
        (doc(0x45, 0x02, 0x00, 0x01), WbxmlError, "not a character"),
        (doc(0x45, 0x83, 0x00, 0x01), WbxmlError, "string-table reference"),
        (doc(0x45, 0xC3, 0x90, 0x80, 0x80, 0x80, 0x00), WbxmlError, "exceeds 32 bits"),
        (doc(0x45, 0xC3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), WbxmlError, "longer than 5"),
        (bytes([0x03, 0x01, 0x6A, 0x00]), WbxmlTruncated, "no root element"),
        (b"", WbxmlTruncated, "header"),
        (bytes([0x03, 0x01, 0x6A]), WbxmlTruncated, "header"),
        (bytes([0x03, 0x00, 0x00, 0x6A, 0x00, 0x05]), WbxmlError, "public id"),
    ],
)
def test_rejections(data: bytes, error: type[WbxmlError], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        all_events(data)
    assert isinstance(caught.value, InvalidInput)


def test_every_proper_prefix_is_truncated() -> None:
    data = SPEC_EXAMPLE_WBXML
    for end in range(len(data)):
        with pytest.raises(WbxmlTruncated):
            all_events(data[:end])


def test_errors_carry_offsets() -> None:
    with pytest.raises(WbxmlUnknownTag) as caught:
        all_events(doc(0x45, 0x4B, 0x03, b"1\x00", 0x01, 0x6A))
    assert caught.value.offset == 10
    assert "at byte 10" in str(caught.value)


def test_errors_are_sticky() -> None:
    decoder = WbxmlDecoder()
    decoder.feed(doc(0x85))
    with pytest.raises(WbxmlUnsupported) as first:
        decoder.next_event()
    with pytest.raises(WbxmlUnsupported) as second:
        decoder.next_event()
    assert second.value is first.value
    with pytest.raises(WbxmlUnsupported):
        decoder.feed(b"\x01")


def test_feed_after_close_is_an_error() -> None:
    decoder = WbxmlDecoder()
    decoder.close()
    with pytest.raises(WbxmlError, match="after close"):
        decoder.feed(doc(0x05))


def test_needs_more_returns_none_until_closed() -> None:
    decoder = WbxmlDecoder()
    decoder.feed(doc(0x45, 0x4B, 0x03, b"abc"))
    assert list(decoder.events()) == [StartElement(SYNC), StartElement(SYNCKEY)]
    assert decoder.next_event() is None
    assert decoder.depth == 2
    decoder.close()
    with pytest.raises(WbxmlTruncated, match="inline string"):
        decoder.next_event()


# -- limits -------------------------------------------------------------------------------


def test_depth_limit() -> None:
    nested = doc(*([0x45] * 5), *([0x01] * 5))
    assert len(all_events(nested, DecoderLimits(max_depth=5))) == 10
    with pytest.raises(WbxmlLimitExceeded, match="deeper than 4"):
        all_events(nested, DecoderLimits(max_depth=4))


def test_element_count_limit() -> None:
    data = doc(0x45, *([0x0B] * 9), 0x01)  # Sync + 9 empty SyncKey = 10 elements
    assert len(all_events(data, DecoderLimits(max_elements=10))) == 20
    with pytest.raises(WbxmlLimitExceeded, match="more than 9 elements"):
        all_events(data, DecoderLimits(max_elements=9))


def test_string_limit_is_checked_before_the_terminator_arrives() -> None:
    decoder = WbxmlDecoder(DecoderLimits(max_string=8))
    decoder.feed(doc(0x45, 0x4B, 0x03, b"12345678"))
    assert len(list(decoder.events())) == 2
    decoder.feed(b"9")
    with pytest.raises(WbxmlLimitExceeded, match="longer than 8"):
        decoder.next_event()
    assert decode(doc(0x45, 0x4B, 0x03, b"12345678\x00", 0x01, 0x01),
                  DecoderLimits(max_string=8)).children[0].text == "12345678"


def test_opaque_limit_is_checked_on_the_announced_length() -> None:
    decoder = WbxmlDecoder(DecoderLimits(max_opaque=1000))
    decoder.feed(doc(0x45, 0x4B, 0xC3, 0x84, 0x80, 0x80, 0x00))  # announces 8 MiB, no data
    with pytest.raises(WbxmlLimitExceeded, match="exceeds 1000") as caught:
        list(decoder.events())
    assert caught.value.code is Code.TOO_BIG


def test_string_table_limit() -> None:
    data = bytes([0x03, 0x01, 0x6A, 0x81, 0x00]) + b"a" * 128 + bytes([0x05])
    assert len(all_events(data, DecoderLimits(max_string_table=128))) == 2
    with pytest.raises(WbxmlLimitExceeded, match="string table"):
        all_events(data, DecoderLimits(max_string_table=127))


@pytest.mark.parametrize("field", ["max_depth", "max_string", "max_opaque", "max_elements",
                                   "opaque_chunk_size"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        DecoderLimits(**{field: 0})
