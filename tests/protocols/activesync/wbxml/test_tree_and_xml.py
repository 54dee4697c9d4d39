"""Element trees and their EAS XML / ElementTree views, including hostile XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from protocols.activesync.wbxml import (
    Element,
    EndElement,
    Event,
    Opaque,
    StartElement,
    Text,
    WbxmlEncodeError,
    WbxmlError,
    WbxmlTruncated,
    build_tree,
    decode,
    encode,
    from_etree,
    from_xml,
    lookup_tag,
    make,
    to_etree,
    to_xml,
)

from .conftest import SAMPLES, SAMPLES_WITH_XML, SPEC_EXAMPLE_XML, Sample

SYNC = lookup_tag("AirSync:Sync")
SYNCKEY = lookup_tag("AirSync:SyncKey")


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_xml_view_round_trips(sample: Sample) -> None:
    tree = decode(sample.wbxml)
    assert from_xml(to_xml(tree)) == tree
    assert from_xml(to_xml(tree, indent=None, declaration=False)) == tree
    assert from_etree(to_etree(tree)) == tree


@pytest.mark.parametrize("sample", SAMPLES_WITH_XML, ids=lambda s: s.name)
def test_sample_xml_equals_decoded_sample(sample: Sample) -> None:
    # Canonicalised comparison: libwbxml's names resolve to the spec's tags, comments and
    # indentation vanish, base64 text of byte-array elements becomes bytes.
    assert sample.xml is not None
    assert from_xml(sample.xml) == decode(sample.wbxml)


def test_to_xml_declares_namespaces_where_they_change() -> None:
    tree = from_xml(SPEC_EXAMPLE_XML)
    text = to_xml(tree)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<Sync xmlns="AirSync:">')
    assert '<Body xmlns="AirSyncBase:">' in text
    assert "<Type>1</Type>" in text  # inherits AirSyncBase from Body
    assert '<FileAs xmlns="Contacts:">Funk, Don</FileAs>' in text


def test_text_escaping_round_trips() -> None:
    tree = make("AirSync:Sync", make("AirSync:ClientId", text="a&b<c>d\r\n\te 'q' \"q\""))
    assert "a&amp;b&lt;c&gt;d&#13;\n\te" in to_xml(tree)
    assert from_xml(to_xml(tree)) == tree


def test_characters_xml_cannot_carry_are_replaced() -> None:
    tree = make("AirSync:ClientId", text="a\x01b")
    assert "a\ufffdb" in to_xml(tree)


def test_opaque_shows_as_base64_and_parses_back() -> None:
    tree = make("ComposeMail:SendMail", make("ComposeMail:Mime", opaque=b"\x00\xffMIME"))
    text = to_xml(tree)
    assert "<Mime>AP9NSU1F</Mime>" in text
    assert from_xml(text) == tree
    wrapped = text.replace("AP9N", "AP9N\n   ")
    assert from_xml(wrapped) == tree


def test_etree_names_and_both_namespace_spellings() -> None:
    node = to_etree(make("AirSync:Sync", make("AirSync:SyncKey", text="1")))
    assert node.tag == "{AirSync:}Sync"
    assert node[0].text == "1"
    plain = ET.Element("{AirSync}Sync")
    ET.SubElement(plain, "{AirSync}SyncKey").text = "1"
    assert from_etree(plain) == from_etree(node)


def test_element_helpers() -> None:
    tree = from_xml(SPEC_EXAMPLE_XML)
    collections = tree.find("AirSync:Collections")
    assert collections is not None
    collection = collections.find("AirSync:Collection")
    assert collection is not None
    assert collection.findtext("AirSync:SyncKey") == "2"
    assert collection.findtext("AirSync:MoreAvailable") is None
    assert collection.findtext("AirSync:MoreAvailable", "-") == "-"
    assert len(collection.findall("AirSync:Commands")) == 1
    names = [element.qname for element in tree.iter()]
    assert names[:3] == ["AirSync:Sync", "AirSync:Collections", "AirSync:Collection"]
    assert names[-1] == "AirSyncBase:NativeBodyType"
    assert len(names) == 19


def test_empty_text_element_and_empty_element_are_the_same() -> None:
    assert make("AirSync:SyncKey", text="").text == ""
    assert encode(make("AirSync:SyncKey", text="")) == encode(make("AirSync:SyncKey"))
    assert decode(encode(make("AirSync:SyncKey", text=""))) == make("AirSync:SyncKey")


# -- build_tree ---------------------------------------------------------------------------


def test_build_tree_joins_text_and_drops_formatting_whitespace() -> None:
    events: list[Event] = [
        StartElement(SYNC), Text("\n  "), StartElement(SYNCKEY), Text("a"), Text("b"),
        EndElement(SYNCKEY), Text("\n"), EndElement(SYNC),
    ]
    assert build_tree(events) == make("AirSync:Sync", make("AirSync:SyncKey", text="ab"))


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([StartElement(SYNC), Text("x"), StartElement(SYNCKEY), EndElement(SYNCKEY),
          EndElement(SYNC)], "mixes text and child"),
        ([StartElement(SYNC), Text("x"), Opaque(b"y", 0, 1), EndElement(SYNC)],
         "mixes text and opaque"),
        ([StartElement(SYNC), Opaque(b"y", 0, 1), StartElement(SYNCKEY), EndElement(SYNCKEY),
          EndElement(SYNC)], "mixes opaque data and child"),
        ([StartElement(SYNC), EndElement(SYNC), StartElement(SYNC), EndElement(SYNC)],
         "more than one root"),
        ([Text("x")], "outside the root"),
    ],
)
def test_build_tree_rejects(events: list[Event], message: str) -> None:
    with pytest.raises(WbxmlError, match=message):
        build_tree(events)


def test_build_tree_needs_a_closed_root() -> None:
    with pytest.raises(WbxmlTruncated):
        build_tree([StartElement(SYNC)])
    with pytest.raises(WbxmlTruncated):
        build_tree([])


# -- hostile or wrong XML -----------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Sync [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<Sync xmlns="AirSync:"><SyncKey>&b;</SyncKey></Sync>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Sync SYSTEM "http://example.invalid/x.dtd">
<Sync xmlns="AirSync:"><SyncKey>&ext;</SyncKey></Sync>"""


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (BILLION_LAUGHS, "internal subset"),
        (EXTERNAL_ENTITY, "undeclared entity &ext;"),
        (b'<Sync xmlns="AirSync:" a="1"/>', "attributes"),
        (b'<Sync xmlns="Nope:"/>', "not an ActiveSync code page"),
        (b"<Sync/>", "no ActiveSync namespace"),
        (b'<Nope xmlns="AirSync:"/>', "has no element"),
        (b'<Sync xmlns="AirSync:">x<SyncKey/></Sync>', "mixes text"),
        (b'<Mime xmlns="ComposeMail:">not base64!</Mime>', "base64"),
        (b'<Sync xmlns="AirSync:">', "well-formed"),
    ],
)
def test_from_xml_rejects(document: bytes, message: str) -> None:
    with pytest.raises(WbxmlEncodeError, match=message):
        from_xml(document)


def test_from_xml_limits() -> None:
    nested = b'<Sync xmlns="AirSync:">' * 5 + b"</Sync>" * 5
    assert from_xml(nested, max_depth=5).qname == "AirSync:Sync"
    with pytest.raises(WbxmlEncodeError, match="deeper than 4"):
        from_xml(nested, max_depth=4)
    with pytest.raises(WbxmlEncodeError, match="more than 4 elements"):
        from_xml(nested, max_elements=4)


def test_from_etree_rejects() -> None:
    with pytest.raises(WbxmlEncodeError, match="no ActiveSync namespace"):
        from_etree(ET.Element("Sync"))
    node = ET.Element("{AirSync:}Sync", {"a": "1"})
    with pytest.raises(WbxmlEncodeError, match="attributes"):
        from_etree(node)
    deep = ET.Element("{AirSync:}Sync")
    ET.SubElement(ET.SubElement(deep, "{AirSync:}Sync"), "{AirSync:}Sync")
    with pytest.raises(WbxmlEncodeError, match="deeper than 2"):
        from_etree(deep, max_depth=2)


def test_deep_trees_do_not_exhaust_the_python_stack() -> None:
    tree = Element(SYNC)
    current = tree
    for _ in range(5000):
        child = Element(SYNC)
        current.children.append(child)
        current = child
    data = encode(tree)
    assert len(data) == 4 + 5001 + 5000
    assert to_xml(tree, indent=None).count("<Sync") == 5001
    assert len(list(tree.iter())) == 5001
