"""EAS XML <-> :class:`~.tree.Element`: for logs, tools, tests and ElementTree users.

The XML form is the one MS-ASCMD examples and libwbxml use: each code page is a default
namespace named ``Page:`` (``<Sync xmlns="AirSync:">``), opaque (byte-array) elements
hold base64 text, and a namespace is declared where it changes.

XML input is parsed with expat directly: no DTD internal subset, no entity declarations,
no external entities, no network (DESIGN: "XML is parsed with entity resolution and
network access off"), and the same depth/element limits as the WBXML decoder.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
from xml.parsers import expat
from xml.parsers.expat import ExpatError

from .codepages import Tag, page_for_namespace
from .errors import WbxmlEncodeError
from .tree import Element

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


class _Rejected(Exception):
    """Raised inside expat callbacks; converted to WbxmlEncodeError after parsing stops."""


def _resolve(namespace: str, local: str) -> Tag:
    if not namespace:
        raise _Rejected(f"element {local!r} has no ActiveSync namespace")
    page = page_for_namespace(namespace)
    if page is None:
        raise _Rejected(f"namespace {namespace!r} is not an ActiveSync code page")
    tag = page.by_name.get(local)
    if tag is None:
        raise _Rejected(f"{page.name} has no element {local!r}")
    return tag


def _finish(element: Element, text: str) -> None:
    """Apply the content rules shared by XML and ElementTree input."""
    if element.children:
        if text.strip():
            raise _Rejected(f"{element.qname} mixes text and child elements")
    elif element.tag.opaque:
        compact = "".join(text.split())
        if compact:
            try:
                element.opaque = base64.b64decode(compact, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise _Rejected(f"{element.qname} holds invalid base64 ({exc})") from None
    elif text:
        element.text = text


def from_xml(
    document: str | bytes, *, max_depth: int = 64, max_elements: int = 1_000_000
) -> Element:
    """Parse EAS XML into a tree; aliases (libwbxml names) resolve to canonical tags."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    stack: list[tuple[Element, list[str]]] = []
    result: list[Element] = []
    count = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal count
        if attributes:
            raise _Rejected(f"attributes are not used by ActiveSync: {sorted(attributes)}")
        namespace, _, local = name.rpartition(" ")
        element = Element(_resolve(namespace, local))
        count += 1
        if count > max_elements:
            raise _Rejected(f"more than {max_elements} elements")
        if len(stack) >= max_depth:
            raise _Rejected(f"elements nested deeper than {max_depth}")
        if stack:
            stack[-1][0].children.append(element)
        else:
            result.append(element)
        stack.append((element, []))

    def end(name: str) -> None:
        element, texts = stack.pop()
        _finish(element, "".join(texts))

    def characters(data: str) -> None:
        if stack:
            stack[-1][1].append(data)

    def doctype(name: str, sysid: str | None, pubid: str | None, internal: int) -> None:
        if internal:
            raise _Rejected("DOCTYPE internal subsets are not accepted")

    def entity(*args: object) -> None:
        raise _Rejected("entity declarations are not accepted")

    def external(*args: object) -> int:
        raise _Rejected("external entities are not accepted")

    def skipped(name: str, is_parameter_entity: int) -> None:
        # With an external DTD declared, expat skips undeclared entities silently;
        # dropping content silently is worse than refusing the document.
        raise _Rejected(f"undeclared entity &{name};")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external
    parser.SkippedEntityHandler = skipped
    try:
        parser.Parse(document, True)
    except _Rejected as exc:
        raise WbxmlEncodeError(f"XML line {parser.CurrentLineNumber}: {exc}") from None
    except ExpatError as exc:
        raise WbxmlEncodeError(f"XML is not well-formed: {exc}") from None
    return result[0]


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text).translate(_ESCAPES)


def to_xml(element: Element, *, indent: str | None = "  ", declaration: bool = True) -> str:
    """Serialise a tree as EAS XML; opaque data becomes base64.

    Lossy only where XML cannot say the difference: C0 controls other than tab/LF/CR
    become U+FFFD, and an empty opaque value reads back as an empty element.
    """
    parts: list[str] = ['<?xml version="1.0" encoding="utf-8"?>\n'] if declaration else []
    newline = "\n" if indent is not None else ""
    # (element, parent namespace, depth, closing?)
    stack: list[tuple[Element, str | None, int, bool]] = [(element, None, 0, False)]
    while stack:
        current, parent_ns, depth, closing = stack.pop()
        pad = (indent or "") * depth
        name = current.tag.name
        if closing:
            parts.append(f"{pad}</{name}>{newline}")
            continue
        namespace = current.tag.namespace
        declare = f' xmlns="{namespace}:"' if namespace != parent_ns else ""
        if current.children:
            parts.append(f"{pad}<{name}{declare}>{newline}")
            stack.append((current, parent_ns, depth, True))
            stack.extend(
                (child, namespace, depth + 1, False) for child in reversed(current.children)
            )
        elif current.opaque is not None:
            encoded = base64.b64encode(current.opaque).decode("ascii")
            parts.append(f"{pad}<{name}{declare}>{encoded}</{name}>{newline}")
        elif current.text:
            parts.append(f"{pad}<{name}{declare}>{_clean(current.text)}</{name}>{newline}")
        else:
            parts.append(f"{pad}<{name}{declare}/>{newline}")
    return "".join(parts)


def to_etree(element: Element) -> ET.Element:
    """An ElementTree copy with ``{AirSync:}Sync`` names; opaque data as base64 text."""
    root = ET.Element(_et_name(element.tag))
    stack: list[tuple[Element, ET.Element]] = [(element, root)]
    while stack:
        current, node = stack.pop()
        if current.opaque is not None:
            node.text = base64.b64encode(current.opaque).decode("ascii")
        elif current.text:
            node.text = current.text
        for child in current.children:
            stack.append((child, ET.SubElement(node, _et_name(child.tag))))
    return root


def from_etree(node: ET.Element, *, max_depth: int = 64) -> Element:
    """Convert an ElementTree (``{AirSync:}Sync`` or ``{AirSync}Sync`` names) to a tree."""
    try:
        root = Element(_et_tag(node))
        stack: list[tuple[ET.Element, Element, int]] = [(node, root, 1)]
        pending: list[tuple[Element, str]] = []
        while stack:
            current, element, depth = stack.pop()
            if current.attrib:
                raise _Rejected(f"attributes are not used by ActiveSync: {sorted(current.attrib)}")
            if depth > max_depth:
                raise _Rejected(f"elements nested deeper than {max_depth}")
            text = (current.text or "") + "".join(child.tail or "" for child in current)
            pending.append((element, text))
            for child_node in current:
                child = Element(_et_tag(child_node))
                element.children.append(child)
                stack.append((child_node, child, depth + 1))
        for element, text in pending:
            _finish(element, text)
    except _Rejected as exc:
        raise WbxmlEncodeError(str(exc)) from None
    return root


def _et_name(tag: Tag) -> str:
    return f"{{{tag.namespace}:}}{tag.name}"


def _et_tag(node: ET.Element) -> Tag:
    name = node.tag
    if not isinstance(name, str) or not name.startswith("{"):
        raise _Rejected(f"element {name!r} has no ActiveSync namespace")
    namespace, _, local = name[1:].partition("}")
    return _resolve(namespace, local)
