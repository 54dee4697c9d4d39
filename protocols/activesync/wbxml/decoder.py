"""Sans-IO streaming WBXML decoder for ActiveSync: feed bytes, pull events.

Grammar: WBXML 1.3 (WAP-192-WBXML-20010725) section 5, restricted to what MS-ASWBXML
2.1.1 uses: header ``03 01 6A 00`` (any public id and a string table are tolerated),
SWITCH_PAGE, tags with or without the content bit, END, STR_I, OPAQUE, plus ENTITY and
STR_T which cost nothing to support. Attributes, literals, processing instructions and
extension tokens are valid WBXML but never used by EAS; they are rejected with
:class:`WbxmlUnsupported`.

Every size is bounded (:class:`DecoderLimits`) and checked *before* the bytes are
buffered, so a hostile client cannot make the server hold more than the limits allow
plus whatever it feeds in one call. Event boundaries never depend on how the input was
split: feeding one byte at a time yields exactly the events of feeding it whole.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from . import tokens as t
from .codepages import CODE_PAGES, Tag
from .errors import (
    WbxmlError,
    WbxmlLimitExceeded,
    WbxmlTruncated,
    WbxmlUnknownCodePage,
    WbxmlUnknownTag,
    WbxmlUnsupported,
)
from .events import EndElement, Event, Header, Opaque, StartElement, Text

logger = logging.getLogger(__name__)

_COMPACT_AT = 64 << 10
"""Drop consumed input once this much (or half the buffer) has been read."""


@dataclass(frozen=True, slots=True)
class DecoderLimits:
    """Upper bounds on everything a peer controls. Defaults suit real EAS traffic.

    The largest legitimate values are a SendMail MIME (opaque) with attachments and a
    draft body sent as one inline string; both are far below the defaults.
    """

    max_depth: int = 64
    """Nesting of elements; real EAS documents stay below 15."""
    max_string: int = 16 << 20
    """Bytes in one inline string (STR_I), excluding the terminator."""
    max_opaque: int = 64 << 20
    """Bytes in one OPAQUE value."""
    max_elements: int = 1_000_000
    """Elements in one document (a 10,000-item Sync is about 300,000)."""
    max_string_table: int = 64 << 10
    """Bytes of string table; EAS sends none."""
    opaque_chunk_size: int = 64 << 10
    """Opaque values longer than this arrive as several :class:`Opaque` events."""

    def __post_init__(self) -> None:
        for name in (
            "max_depth", "max_string", "max_opaque", "max_elements", "opaque_chunk_size",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"DecoderLimits.{name} must be positive")
        if self.max_string_table < 0:
            raise ValueError("DecoderLimits.max_string_table must not be negative")


class WbxmlDecoder:
    """Pull parser: :meth:`feed` bytes, call :meth:`next_event` until it returns None.

    ``None`` means "need more input"; after :meth:`close` it means "document complete"
    and an incomplete document raises :class:`WbxmlTruncated` instead. Errors are
    sticky: once the input is known bad, every later call raises the same error.
    """

    def __init__(self, limits: DecoderLimits | None = None) -> None:
        self._limits = limits or DecoderLimits()
        self._buf = bytearray()
        self._pos = 0
        self._base = 0
        self._eof = False
        self._error: WbxmlError | None = None
        self._pending: deque[Event] = deque()
        # Header, possibly parsed over several feeds.
        self._header: Header | None = None
        self._header_prefix: tuple[int, int, int, int, int, int | None] | None = None
        self._string_table = b""
        # Body state.
        self._page = 0
        self._stack: list[Tag] = []
        self._done = False
        self._elements = 0
        self._scan_from = 0
        self._opaque_total = 0
        self._opaque_offset = 0
        self._in_opaque = False

    # -- public API ---------------------------------------------------------------------

    @property
    def header(self) -> Header | None:
        """The document header once it has been read."""
        return self._header

    @property
    def done(self) -> bool:
        """True once the root element has closed and every event has been taken."""
        return self._done and not self._pending and not self._in_opaque

    @property
    def buffered(self) -> int:
        """Bytes of input held in memory (for back-pressure in the transport adapter)."""
        return len(self._buf)

    @property
    def depth(self) -> int:
        """Number of currently open elements."""
        return len(self._stack)

    def feed(self, data: bytes) -> None:
        """Append input. Cheap: parsing happens in :meth:`next_event`."""
        if self._error is not None:
            raise self._error
        if self._eof:
            raise WbxmlError("input fed after close()", offset=self._offset())
        self._compact()
        self._buf += data

    def close(self) -> None:
        """Declare the end of input, so a short document raises instead of waiting."""
        self._eof = True

    def next_event(self) -> Event | None:
        """The next event, or None when more input is needed (or, after close, none left)."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except WbxmlError as exc:
            self._error = exc
            logger.debug("rejecting WBXML: %s", exc)
            raise

    def events(self) -> Iterator[Event]:
        """Every event available from the input fed so far."""
        while (event := self.next_event()) is not None:
            yield event

    # -- internals ----------------------------------------------------------------------

    def _offset(self, pos: int | None = None) -> int:
        return self._base + (self._pos if pos is None else pos)

    def _compact(self) -> None:
        pos = self._pos
        if pos and (pos >= _COMPACT_AT or pos * 2 >= len(self._buf)):
            del self._buf[:pos]
            self._base += pos
            self._scan_from = max(0, self._scan_from - pos)
            self._pos = 0

    def _need_more(self, what: str) -> None:
        if self._eof:
            raise WbxmlTruncated(f"input ends inside {what}", offset=self._offset())

    def _read_mb(self, pos: int) -> tuple[int, int] | None:
        """A mb_u_int32 at ``pos`` (WBXML 1.3 section 5.1): (value, next pos) or None."""
        buf = self._buf
        value = 0
        for i in range(t.MB_UINT32_MAX_BYTES):
            if pos + i >= len(buf):
                return None
            byte = buf[pos + i]
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                if value > t.UINT32_MAX:
                    raise WbxmlError("multi-byte integer exceeds 32 bits", offset=self._offset(pos))
                return value, pos + i + 1
        raise WbxmlError("multi-byte integer longer than 5 bytes", offset=self._offset(pos))

    def _read_mb_or_wait(self, pos: int, what: str) -> tuple[int, int] | None:
        found = self._read_mb(pos)
        if found is None:
            self._need_more(what)
        return found

    def _parse_header(self) -> bool:
        """WBXML 1.3 section 5.4: version, publicid, charset, strtbl. True when complete."""
        if self._header_prefix is None:
            buf = self._buf
            if not buf:
                self._need_more("the header")
                return False
            version = buf[0]
            if version != t.WBXML_VERSION_1_3:
                raise WbxmlError(
                    f"unsupported WBXML version byte 0x{version:02X} (ActiveSync uses 0x03)",
                    offset=0,
                )
            found = self._read_mb_or_wait(1, "the header")
            if found is None:
                return False
            public_id, pos = found
            public_index: int | None = None
            if public_id == 0:  # the public id is a string-table reference
                found = self._read_mb_or_wait(pos, "the header")
                if found is None:
                    return False
                public_index, pos = found
            found = self._read_mb_or_wait(pos, "the header")
            if found is None:
                return False
            charset, pos = found
            if charset != t.CHARSET_UTF8:
                raise WbxmlUnsupported(
                    f"charset MIBenum {charset}; ActiveSync requires 106 (UTF-8)",
                    offset=pos - 1,
                )
            found = self._read_mb_or_wait(pos, "the header")
            if found is None:
                return False
            table_length, pos = found
            if table_length > self._limits.max_string_table:
                raise WbxmlLimitExceeded(
                    f"string table of {table_length} bytes exceeds "
                    f"{self._limits.max_string_table}",
                    offset=pos,
                )
            self._header_prefix = (version, public_id, charset, table_length, pos, public_index)
        version, public_id, charset, table_length, pos, public_index = self._header_prefix
        if len(self._buf) < pos + table_length:
            self._need_more("the string table")
            return False
        self._string_table = bytes(self._buf[pos : pos + table_length])
        if public_index is not None and public_index >= table_length:
            raise WbxmlError("public id refers outside the string table", offset=1)
        self._header = Header(version, public_id, charset, table_length)
        self._pos = pos + table_length
        return True

    def _next(self) -> Event | None:
        if self._pending:
            return self._pending.popleft()
        if self._header is None and not self._parse_header():
            return None
        while True:
            if self._in_opaque:
                return self._opaque_chunk()
            buf = self._buf
            pos = self._pos
            if pos >= len(buf):
                if self._eof and not self._done:
                    what = "the root element" if self._stack else "the body (no root element)"
                    raise WbxmlTruncated(f"input ends inside {what}", offset=self._offset())
                return None
            if self._done:
                raise WbxmlError("data after the root element", offset=self._offset())
            byte = buf[pos]
            if byte == t.SWITCH_PAGE:
                if pos + 1 >= len(buf):
                    self._need_more("SWITCH_PAGE")
                    return None
                page = buf[pos + 1]
                if page not in CODE_PAGES:
                    raise WbxmlUnknownCodePage(
                        f"code page {page} is not an ActiveSync code page (0-25)",
                        offset=self._offset(pos + 1),
                    )
                self._page = page
                self._pos = pos + 2
                continue
            if byte == t.END:
                if not self._stack:
                    raise WbxmlError("END outside any element", offset=self._offset())
                self._pos = pos + 1
                tag = self._stack.pop()
                if not self._stack:
                    self._done = True
                return EndElement(tag)
            if byte == t.STR_I:
                return self._inline_string()
            if byte == t.OPAQUE:
                if not self._start_opaque():
                    return None
                continue
            if byte == t.ENTITY:
                return self._entity()
            if byte == t.STR_T:
                return self._table_string()
            if byte in t.LITERALS:
                raise WbxmlUnsupported(
                    f"literal token 0x{byte:02X} (string-table tag/attribute names are not "
                    "used by ActiveSync)",
                    offset=self._offset(),
                )
            if byte == t.PI:
                raise WbxmlUnsupported("processing instruction", offset=self._offset())
            if byte in t.EXTENSIONS:
                raise WbxmlUnsupported(f"extension token 0x{byte:02X}", offset=self._offset())
            return self._tag(byte)

    def _require_open(self, what: str) -> None:
        if not self._stack:
            raise WbxmlError(f"{what} outside any element", offset=self._offset())

    def _tag(self, byte: int) -> StartElement:
        if byte & t.TAG_HAS_ATTRIBUTES:
            raise WbxmlUnsupported(
                f"tag byte 0x{byte:02X} has attributes (not used by ActiveSync)",
                offset=self._offset(),
            )
        page = CODE_PAGES[self._page]
        tag = page.by_token.get(byte & t.TAG_TOKEN_MASK)
        if tag is None:
            raise WbxmlUnknownTag(
                f"code page {page.number} ({page.name}) has no tag "
                f"0x{byte & t.TAG_TOKEN_MASK:02X}",
                offset=self._offset(),
            )
        limits = self._limits
        if len(self._stack) >= limits.max_depth:
            raise WbxmlLimitExceeded(
                f"elements nested deeper than {limits.max_depth}", offset=self._offset()
            )
        self._elements += 1
        if self._elements > limits.max_elements:
            raise WbxmlLimitExceeded(
                f"more than {limits.max_elements} elements", offset=self._offset()
            )
        self._pos += 1
        if byte & t.TAG_HAS_CONTENT:
            self._stack.append(tag)
        else:
            self._pending.append(EndElement(tag))
            if not self._stack:
                self._done = True
        return StartElement(tag)

    def _decode_text(self, raw: bytes, pos: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WbxmlError(
                f"string is not valid UTF-8 ({exc.reason})", offset=self._offset(pos)
            ) from None

    def _inline_string(self) -> Text | None:
        self._require_open("inline string")
        start = self._pos + 1
        end = self._buf.find(0, max(start, self._scan_from))
        limit = self._limits.max_string
        if end < 0:
            if len(self._buf) - start > limit:
                raise WbxmlLimitExceeded(
                    f"inline string longer than {limit} bytes", offset=self._offset()
                )
            self._scan_from = len(self._buf)
            self._need_more("an inline string")
            return None
        if end - start > limit:
            raise WbxmlLimitExceeded(
                f"inline string longer than {limit} bytes", offset=self._offset()
            )
        text = self._decode_text(bytes(self._buf[start:end]), start)
        self._pos = end + 1
        self._scan_from = 0
        return Text(text)

    def _start_opaque(self) -> bool:
        """Read OPAQUE's length; True when the data (possibly empty) can follow."""
        self._require_open("opaque data")
        found = self._read_mb_or_wait(self._pos + 1, "an opaque length")
        if found is None:
            return False
        length, pos = found
        if length > self._limits.max_opaque:
            raise WbxmlLimitExceeded(
                f"opaque value of {length} bytes exceeds {self._limits.max_opaque}",
                offset=self._offset(),
            )
        self._pos = pos
        self._opaque_total = length
        self._opaque_offset = 0
        self._in_opaque = True
        return True

    def _opaque_chunk(self) -> Opaque | None:
        remaining = self._opaque_total - self._opaque_offset
        want = min(self._limits.opaque_chunk_size, remaining)
        pos = self._pos
        if len(self._buf) - pos < want:
            self._need_more("opaque data")
            return None
        chunk = Opaque(bytes(self._buf[pos : pos + want]), self._opaque_offset, self._opaque_total)
        self._pos = pos + want
        self._opaque_offset += want
        if self._opaque_offset == self._opaque_total:
            self._in_opaque = False
        return chunk

    def _entity(self) -> Text | None:
        self._require_open("character entity")
        found = self._read_mb_or_wait(self._pos + 1, "a character entity")
        if found is None:
            return None
        code, pos = found
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise WbxmlError(f"entity U+{code:X} is not a character", offset=self._offset())
        self._pos = pos
        return Text(chr(code))

    def _table_string(self) -> Text | None:
        self._require_open("string-table reference")
        found = self._read_mb_or_wait(self._pos + 1, "a string-table reference")
        if found is None:
            return None
        index, pos = found
        table = self._string_table
        end = table.find(0, index) if index < len(table) else -1
        if end < 0:
            raise WbxmlError(
                f"string-table reference {index} is outside the table or unterminated",
                offset=self._offset(),
            )
        text = self._decode_text(table[index:end], self._pos)
        self._pos = pos
        return Text(text)


def decode_events(data: bytes, limits: DecoderLimits | None = None) -> Iterator[Event]:
    """Every event of a complete document held in memory; raises on any defect."""
    decoder = WbxmlDecoder(limits)
    decoder.feed(data)
    decoder.close()
    return decoder.events()
