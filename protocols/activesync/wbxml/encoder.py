"""Streaming WBXML encoder for ActiveSync: calls in, byte chunks out through a sink.

The writer keeps a *lazy tag stack*: :meth:`WbxmlWriter.start` writes nothing until
content follows, so a command handler can open ``<Commands>`` and close it again without
an empty container on the wire (an empty container is a protocol error for several EAS
elements). Ask for an empty element explicitly with :meth:`WbxmlWriter.empty` or
``start(..., keep_empty=True)``.

Code pages switch lazily, only when a tag of another page is written, and END carries
no page (WBXML 1.3 section 5.8.1), which gives byte-for-byte the output libwbxml's
``xml2wbxml -a -n -v 1.3`` produces for the same document.

Opaque values are streamed: :meth:`WbxmlWriter.opaque` takes an iterable of chunks and
the announced length, so a 50 MB attachment never becomes one string in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from . import tokens as t
from .codepages import Tag, lookup_tag
from .errors import WbxmlEncodeError
from .events import EndElement, Event, Opaque, StartElement, Text

logger = logging.getLogger(__name__)

Sink = Callable[[bytes], object]
TagLike = Tag | str
"""A :class:`Tag` or its qualified name, e.g. ``"AirSync:Sync"``."""

DEFAULT_FLUSH_SIZE = 16 << 10


@dataclass(slots=True)
class _Open:
    tag: Tag
    written: bool
    keep_empty: bool


class WbxmlWriter:
    """Write one ActiveSync WBXML document to ``sink`` in chunks of about ``flush_size``.

    Misuse (unknown tag, END with nothing open, text outside the root, an opaque body of
    the wrong length) raises :class:`WbxmlEncodeError`; after an error in the middle of a
    value the writer refuses further calls, because the bytes already sent are unusable.
    """

    def __init__(self, sink: Sink, *, flush_size: int = DEFAULT_FLUSH_SIZE) -> None:
        if flush_size <= 0:
            raise ValueError("flush_size must be positive")
        self._sink = sink
        self._flush_size = flush_size
        self._buf = bytearray(t.EAS_HEADER)
        self._page = 0
        self._stack: list[_Open] = []
        self._root_done = False
        self._closed = False
        self._broken: WbxmlEncodeError | None = None
        self._opaque_left: int | None = None

    # -- elements -----------------------------------------------------------------------

    def start(self, tag: TagLike, *, keep_empty: bool = False) -> None:
        """Open an element. Nothing is written until content follows, or at :meth:`end`
        if ``keep_empty`` asks for ``<Tag/>`` rather than nothing."""
        self._check_usable()
        if self._root_done:
            raise WbxmlEncodeError("a document has exactly one root element")
        self._stack.append(_Open(lookup_tag(tag), written=False, keep_empty=keep_empty))

    def end(self) -> None:
        """Close the innermost open element."""
        self._check_usable()
        if not self._stack:
            raise WbxmlEncodeError("end() without an open element")
        top = self._stack.pop()
        if top.written:
            self._write_byte(t.END)
        elif top.keep_empty:
            self._materialize()
            self._write_tag(top.tag, content=False)
        if not self._stack and (top.written or top.keep_empty):
            self._root_done = True

    def empty(self, tag: TagLike) -> None:
        """Write ``<Tag/>`` (e.g. ``GetChanges``, ``MoreAvailable``); parents follow."""
        self.start(tag, keep_empty=True)
        self.end()

    def element(self, tag: TagLike, value: str | bytes | None = None) -> None:
        """A leaf: text for ``str``, OPAQUE for ``bytes``, ``<Tag/>`` for None or ``""``."""
        self.start(tag, keep_empty=True)
        if isinstance(value, bytes):
            self.opaque(value)
        elif value:
            self.text(value)
        self.end()

    # -- content ------------------------------------------------------------------------

    def text(self, value: str) -> None:
        """Character data as one inline string (STR_I); ``""`` writes nothing."""
        self._check_usable()
        self._check_in_element("text")
        if not value:
            return
        if "\x00" in value:
            raise WbxmlEncodeError("text contains NUL, which STR_I cannot carry")
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise WbxmlEncodeError(f"text is not encodable as UTF-8 ({exc.reason})") from None
        self._materialize()
        self._buf.append(t.STR_I)
        self._buf += raw
        self._buf.append(0)
        self._maybe_flush()

    def opaque(self, data: bytes | Iterable[bytes], length: int | None = None) -> None:
        """An OPAQUE value: ``bytes``, or an iterable of chunks totalling ``length``."""
        if isinstance(data, bytes | bytearray | memoryview):
            payload = bytes(data)
            if length is not None and length != len(payload):
                raise WbxmlEncodeError(f"opaque length {length} != {len(payload)} bytes given")
            self.begin_opaque(len(payload))
            self.opaque_chunk(payload)
        else:
            if length is None:
                raise WbxmlEncodeError("streamed opaque data needs its total length up front")
            self.begin_opaque(length)
            for chunk in data:
                self.opaque_chunk(chunk)
        self.end_opaque()

    def begin_opaque(self, length: int) -> None:
        """Announce an OPAQUE value of ``length`` bytes; feed it with :meth:`opaque_chunk`."""
        self._check_usable()
        self._check_in_element("opaque data")
        if not 0 <= length <= t.UINT32_MAX:
            raise WbxmlEncodeError(f"opaque length {length} does not fit a mb_u_int32")
        self._materialize()
        self._buf.append(t.OPAQUE)
        self._buf += t.encode_mb_uint32(length)
        self._opaque_left = length

    def opaque_chunk(self, chunk: bytes) -> None:
        """Part of the announced OPAQUE value; large chunks go straight to the sink."""
        if self._broken is not None:
            raise self._broken
        if self._opaque_left is None:
            raise WbxmlEncodeError("opaque_chunk() without begin_opaque()")
        if len(chunk) > self._opaque_left:
            self._fail("opaque data longer than its announced length")
        self._opaque_left -= len(chunk)
        if len(chunk) >= self._flush_size:
            self.flush()
            self._sink(bytes(chunk))
        else:
            self._buf += chunk
            self._maybe_flush()

    def end_opaque(self) -> None:
        """Finish the OPAQUE value; it must have received exactly its announced length."""
        if self._broken is not None:
            raise self._broken
        if self._opaque_left is None:
            raise WbxmlEncodeError("end_opaque() without begin_opaque()")
        if self._opaque_left:
            self._fail(f"opaque data {self._opaque_left} bytes shorter than announced")
        self._opaque_left = None

    # -- document -----------------------------------------------------------------------

    def flush(self) -> None:
        """Hand everything buffered to the sink."""
        if self._buf:
            chunk = bytes(self._buf)
            self._buf.clear()
            self._sink(chunk)

    def close(self) -> None:
        """Check the document is complete and flush it."""
        self._check_usable()
        if self._stack:
            raise WbxmlEncodeError(f"{len(self._stack)} element(s) still open at close()")
        if not self._root_done:
            raise WbxmlEncodeError("document has no root element (all elements were empty)")
        self._closed = True
        self.flush()

    # -- internals ----------------------------------------------------------------------

    def _fail(self, message: str) -> None:
        self._broken = WbxmlEncodeError(message)
        logger.debug("WBXML writer broken: %s", message)
        raise self._broken

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise self._broken
        if self._closed:
            raise WbxmlEncodeError("writer already closed")
        if self._opaque_left is not None:
            raise WbxmlEncodeError("an opaque value is still being written")

    def _check_in_element(self, what: str) -> None:
        if not self._stack:
            raise WbxmlEncodeError(f"{what} outside any element")

    def _materialize(self) -> None:
        """Write every still-pending open tag, with the content bit: content follows."""
        for entry in self._stack:
            if not entry.written:
                self._write_tag(entry.tag, content=True)
                entry.written = True

    def _write_tag(self, tag: Tag, *, content: bool) -> None:
        if tag.page != self._page:
            self._buf.append(t.SWITCH_PAGE)
            self._buf.append(tag.page)
            self._page = tag.page
        self._buf.append(tag.token | (t.TAG_HAS_CONTENT if content else 0))
        self._maybe_flush()

    def _write_byte(self, byte: int) -> None:
        self._buf.append(byte)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self._buf) >= self._flush_size:
            self.flush()


def encode_events(
    events: Iterable[Event], *, flush_size: int = DEFAULT_FLUSH_SIZE
) -> Iterator[bytes]:
    """Re-encode a decoder's event stream (e.g. after filtering), chunk by chunk.

    Every element is kept, empty or not, so decode -> encode_events reproduces what a
    canonical encoder (one that writes ``<Tag/>`` without the content bit) produced.
    """
    out: list[bytes] = []
    writer = WbxmlWriter(out.append, flush_size=flush_size)
    for event in events:
        if isinstance(event, StartElement):
            writer.start(event.tag, keep_empty=True)
        elif isinstance(event, EndElement):
            writer.end()
        elif isinstance(event, Text):
            writer.text(event.text)
        elif isinstance(event, Opaque):
            if event.offset == 0:
                writer.begin_opaque(event.total)
            writer.opaque_chunk(event.data)
            if event.final:
                writer.end_opaque()
        if out:
            yield from out
            out.clear()
    writer.close()
    yield from out
