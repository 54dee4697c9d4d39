"""A small element tree over the codec, for requests that fit in memory.

ActiveSync requests are small (a Sync request is a few kilobytes; SendMail's MIME is the
exception and is one opaque leaf), so command handlers read them as a tree. Responses
that can grow large should use :class:`~.encoder.WbxmlWriter` directly and stream.

:class:`Element` holds a :class:`~.codepages.Tag`, so names are resolved once, aliases
included, and two trees compare equal exactly when they encode to the same WBXML.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .codepages import Tag, lookup_tag
from .decoder import DecoderLimits, WbxmlDecoder
from .encoder import DEFAULT_FLUSH_SIZE, TagLike, WbxmlWriter
from .errors import WbxmlEncodeError, WbxmlError, WbxmlTruncated
from .events import EndElement, Event, Opaque, StartElement, Text


@dataclass(slots=True)
class Element:
    """One element: either children, or text, or opaque bytes, or nothing (``<Tag/>``)."""

    tag: Tag
    children: list[Element] = field(default_factory=list)
    text: str | None = None
    opaque: bytes | None = None

    @property
    def qname(self) -> str:
        return self.tag.qname

    def find(self, tag: TagLike) -> Element | None:
        """The first direct child with this tag."""
        wanted = lookup_tag(tag)
        return next((child for child in self.children if child.tag == wanted), None)

    def findall(self, tag: TagLike) -> list[Element]:
        """Every direct child with this tag, in document order."""
        wanted = lookup_tag(tag)
        return [child for child in self.children if child.tag == wanted]

    def findtext(self, tag: TagLike, default: str | None = None) -> str | None:
        """The text of the first direct child with this tag (``""`` if it is empty)."""
        child = self.find(tag)
        if child is None:
            return default
        return child.text or ""

    def iter(self) -> Iterator[Element]:
        """This element and all descendants, depth first."""
        stack = [self]
        while stack:
            element = stack.pop()
            yield element
            stack.extend(reversed(element.children))


def make(
    tag: TagLike,
    *children: Element,
    text: str | None = None,
    opaque: bytes | None = None,
) -> Element:
    """Build an element from a qualified name: ``make("AirSync:Sync", make(...))``."""
    return Element(lookup_tag(tag), list(children), text, opaque)


def build_tree(events: Iterable[Event]) -> Element:
    """Assemble the events of one document into an :class:`Element` tree.

    Consecutive text pieces join; opaque chunks join. Whitespace-only text beside child
    elements is dropped (it is formatting); other mixed content is rejected because no
    ActiveSync element has it, and text mixed with opaque data in one element likewise.
    """
    stack: list[tuple[Element, list[str], list[bytes]]] = []
    root: Element | None = None
    for event in events:
        if isinstance(event, StartElement):
            element = Element(event.tag)
            if stack:
                stack[-1][0].children.append(element)
            elif root is not None:
                raise WbxmlError("more than one root element")
            else:
                root = element
            stack.append((element, [], []))
        elif not stack:
            raise WbxmlError(f"{type(event).__name__} outside the root element")
        elif isinstance(event, EndElement):
            element, texts, chunks = stack.pop()
            _finish(element, texts, chunks)
        elif isinstance(event, Text):
            stack[-1][1].append(event.text)
        elif isinstance(event, Opaque):
            stack[-1][2].append(event.data)
    if root is None or stack:
        raise WbxmlTruncated("event stream ended before the root element closed")
    return root


def _finish(element: Element, texts: list[str], chunks: list[bytes]) -> None:
    text = "".join(texts)
    if chunks:
        if text:
            raise WbxmlError(f"{element.qname} mixes text and opaque data")
        if element.children:
            raise WbxmlError(f"{element.qname} mixes opaque data and child elements")
        element.opaque = b"".join(chunks)
    elif element.children:
        if text.strip():
            raise WbxmlError(f"{element.qname} mixes text and child elements")
    elif texts:
        element.text = text


def decode(data: bytes, limits: DecoderLimits | None = None) -> Element:
    """Decode a complete ActiveSync WBXML document into a tree."""
    decoder = WbxmlDecoder(limits)
    decoder.feed(data)
    decoder.close()
    return build_tree(decoder.events())


def _write_steps(writer: WbxmlWriter, element: Element) -> Iterator[None]:
    """Write ``element`` step by step, yielding after each element so callers can drain."""
    # Iterative, so a deep (hostile or generated) tree cannot exhaust the Python stack.
    stack: list[tuple[Element, int]] = [(element, 0)]
    while stack:
        current, index = stack.pop()
        if index == 0:
            _check_content(current)
            writer.start(current.tag, keep_empty=True)
            if current.opaque is not None:
                writer.opaque(current.opaque)
            elif current.text:
                writer.text(current.text)
        if index < len(current.children):
            stack.append((current, index + 1))
            stack.append((current.children[index], 0))
        else:
            writer.end()
        yield


def _check_content(element: Element) -> None:
    kinds = (
        bool(element.children),
        bool(element.text),
        element.opaque is not None,
    )
    if sum(kinds) > 1:
        raise WbxmlEncodeError(f"{element.qname} has more than one of children/text/opaque")


def write_element(writer: WbxmlWriter, element: Element) -> None:
    """Write ``element`` and its subtree; a childless, contentless element is ``<Tag/>``."""
    for _ in _write_steps(writer, element):
        pass


def iter_encode(element: Element, *, flush_size: int = DEFAULT_FLUSH_SIZE) -> Iterator[bytes]:
    """Encode a tree lazily, yielding chunks of about ``flush_size`` bytes."""
    out: list[bytes] = []
    writer = WbxmlWriter(out.append, flush_size=flush_size)
    for _ in _write_steps(writer, element):
        if out:
            yield from out
            out.clear()
    writer.close()
    yield from out


def encode(element: Element) -> bytes:
    """Encode a tree to one bytes object (small documents, tests)."""
    return b"".join(iter_encode(element))
