"""ENVELOPE, BODYSTRUCTURE, section ranges and BINARY decoding from raw message bytes.

RFC 3501 7.4.2 / RFC 9051 7.5.2 define what a server reports about a message's MIME
structure; the values here are computed from the bytes as stored, with offsets into
them, so a FETCH of ``BODY[1.2.MIME]`` can stream straight from the blob.  Parsing
is tolerant the way deployed servers are (missing boundaries, junk parameters) and
bounded (nesting depth, part count, header fields) because the input is attacker mail.

Where RFC 3501 leaves a choice, we answer like Dovecot 2.3, which most clients are
tested against (lower-case defaults ``"text" "plain" ("charset" "us-ascii")`` and
``"7bit"``, ``MISSING_DOMAIN`` for a local part without a domain); the interop test
compares the two servers on a corpus.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .fetch_items import Section
from .mime_headers import (
    Address,
    HeaderField,
    MimeLimitError,
    collapse_whitespace,
    parse_address_list,
    parse_fields,
    parse_parameterised,
    split_header,
    unfold,
)

__all__ = [
    "Address",
    "Envelope",
    "MimeLimitError",
    "Part",
    "SectionContent",
    "UnknownEncoding",
    "binary_content",
    "envelope_of",
    "parse_message",
    "section_content",
]

MAX_DEPTH = 50
MAX_PARTS = 5000
MAX_FIELDS = 5000


class UnknownEncoding(ValueError):
    """BINARY of a part whose Content-Transfer-Encoding we cannot decode (``UNKNOWN-CTE``)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """RFC 3501 ``envelope``; address lists are ``None`` for NIL."""

    date: bytes | None
    subject: bytes | None
    from_: tuple[Address, ...] | None
    sender: tuple[Address, ...] | None
    reply_to: tuple[Address, ...] | None
    to: tuple[Address, ...] | None
    cc: tuple[Address, ...] | None
    bcc: tuple[Address, ...] | None
    in_reply_to: bytes | None
    message_id: bytes | None


@dataclass(slots=True)
class Part:
    """One MIME entity: where its header and body are, and what BODYSTRUCTURE says of it.

    ``children`` are a multipart's parts; ``message`` is the root part of the message
    encapsulated in a message/rfc822 (or message/global) part.
    """

    start: int
    body_start: int
    end: int
    media_type: bytes
    subtype: bytes
    params: tuple[tuple[bytes, bytes], ...] | None
    fields: list[HeaderField] = field(repr=False)
    content_id: bytes | None = None
    description: bytes | None = None
    encoding: bytes = b"7bit"
    md5: bytes | None = None
    disposition: tuple[bytes, tuple[tuple[bytes, bytes], ...] | None] | None = None
    language: tuple[bytes, ...] | None = None
    location: bytes | None = None
    lines: int = 0
    children: tuple[Part, ...] = ()
    message: Part | None = None

    @property
    def is_multipart(self) -> bool:
        return self.media_type.lower() == b"multipart"

    @property
    def size(self) -> int:
        return self.end - self.body_start

    @property
    def envelope(self) -> Envelope | None:
        """ENVELOPE of the encapsulated message of a message/rfc822 part."""
        return None if self.message is None else envelope_of(self.message.fields)


def _values(fields: list[HeaderField], name: bytes) -> list[bytes]:
    lname = name.lower()
    return [f.value for f in fields if f.name.lower() == lname]


def _first(fields: list[HeaderField], name: bytes) -> bytes | None:
    values = _values(fields, name)
    return unfold(values[0]) if values else None


def _last(fields: list[HeaderField], name: bytes) -> bytes | None:
    values = _values(fields, name)
    return unfold(values[-1]) if values else None


def envelope_of(fields: list[HeaderField]) -> Envelope:
    """ENVELOPE of a message header (RFC 3501 7.4.2).

    Sender and Reply-To default to From.  A repeated address field contributes all its
    addresses; for the other fields the last occurrence counts (as in Dovecot).
    """

    def nstring(name: bytes) -> bytes | None:
        return _last(fields, name) or None

    def addresses(name: bytes) -> tuple[Address, ...] | None:
        found: list[Address] = []
        for value in _values(fields, name):
            found.extend(parse_address_list(value))
        return tuple(found) or None

    subject = _last(fields, b"Subject")
    from_ = addresses(b"From")
    return Envelope(
        date=nstring(b"Date"),
        subject=collapse_whitespace(subject) or None if subject is not None else None,
        from_=from_,
        sender=addresses(b"Sender") or from_,
        reply_to=addresses(b"Reply-To") or from_,
        to=addresses(b"To"),
        cc=addresses(b"Cc"),
        bcc=addresses(b"Bcc"),
        in_reply_to=nstring(b"In-Reply-To"),
        message_id=nstring(b"Message-ID"),
    )


_LANGUAGE_SPLIT = re.compile(rb"[\s,]+")
_COMMENT = re.compile(rb"\([^)]*\)")


class _Builder:
    """Single pass over the bytes with a stack of active boundaries (RFC 2046 5.1).

    The innermost boundary is tried first, so a nested multipart that reuses its
    parent's boundary (seen in the wild) nests the way Dovecot and Cyrus read it, and a
    part whose closing delimiter is missing ends at the enclosing one.
    """

    def __init__(self, raw: bytes, max_depth: int, max_parts: int, max_fields: int) -> None:
        self.raw = raw
        self.max_depth = max_depth
        self.max_parts = max_parts
        self.max_fields = max_fields
        self.parts = 0

    def delimiter(self, pos: int, stack: tuple[bytes, ...]) -> tuple[int, int, bool] | None:
        """First delimiter line at or after line start ``pos``: (offset, depth, closing)."""
        if not stack:
            return None
        raw = self.raw
        candidate = pos if raw.startswith(b"--", pos) else raw.find(b"\n--", pos) + 1
        while candidate > 0 or (candidate == pos and raw.startswith(b"--", pos)):
            for depth in range(len(stack) - 1, -1, -1):
                boundary = stack[depth]
                if raw.startswith(boundary, candidate + 2):
                    after = candidate + 2 + len(boundary)
                    closing = raw.startswith(b"--", after)
                    rest_end = self.line_end(after)
                    rest = raw[after + 2 if closing else after : rest_end]
                    if not rest.strip(b" \t\r\n"):
                        return candidate, depth, closing
            candidate = raw.find(b"\n--", candidate + 1) + 1
            if candidate <= 0:
                return None
        return None

    def line_end(self, pos: int) -> int:
        nl = self.raw.find(b"\n", pos)
        return len(self.raw) if nl < 0 else nl + 1

    def trim(self, start: int, end: int) -> int:
        """A delimiter owns the line break before it."""
        raw = self.raw
        if end > start and raw[end - 1] == 0x0A:
            end -= 1
            if end > start and raw[end - 1] == 0x0D:
                end -= 1
        return end

    def part(
        self, start: int, stack: tuple[bytes, ...], depth: int, *, digest: bool, mime: bool
    ) -> tuple[Part, int]:
        """Parse the entity at ``start``; returns it and where it stopped (a delimiter)."""
        self.parts += 1
        if self.parts > self.max_parts:
            raise MimeLimitError("message has too many MIME parts")
        if depth > self.max_depth:
            raise MimeLimitError("MIME parts nested too deeply")
        raw = self.raw
        found = self.delimiter(start, stack)
        stop = len(raw) if found is None else found[0]
        # The line break before a delimiter is the delimiter's, even when it would
        # otherwise be the header's blank line (Dovecot and RFC 2046 5.1.1 agree).
        limit = stop if found is None else self.trim(start, stop)
        body_start = split_header(raw, start, limit)
        if body_start == limit and limit < stop and raw[limit - 1 : limit] != b"\n":
            body_start = stop  # a header line cut by the delimiter keeps its line break
        fields = parse_fields(raw, start, body_start, max_fields=self.max_fields)
        node = self._describe(start, body_start, stop, fields, digest=digest, mime=mime)
        ltype, lsub = node.media_type.lower(), node.subtype.lower()
        if ltype == b"multipart":
            stop = self._multipart(node, stack, depth, digest=lsub == b"digest")
        elif ltype == b"message" and lsub in (b"rfc822", b"global"):
            node.media_type, node.subtype = b"message", lsub
            inner, stop = self.part(body_start, stack, depth + 1, digest=False, mime=False)
            node.message = inner
            node.end = inner.end
        else:
            node.end = max(body_start, limit)
        if ltype == b"text" or node.message is not None:
            node.lines = raw.count(b"\n", node.body_start, node.end)
        return node, stop

    def _multipart(self, node: Part, stack: tuple[bytes, ...], depth: int, *, digest: bool) -> int:
        raw = self.raw
        boundary = {k.lower(): v for k, v in (node.params or ())}.get(b"boundary")
        children: list[Part] = []
        own = len(stack)
        inner_stack = (*stack, boundary) if boundary else stack
        found = self.delimiter(node.body_start, inner_stack)
        while found is not None and found[1] == own and boundary and not found[2]:
            child, child_stop = self.part(
                self.line_end(found[0]), inner_stack, depth + 1, digest=digest, mime=True
            )
            children.append(child)
            found = self.delimiter(child_stop, inner_stack) if child_stop < len(raw) else None
        closed = found is not None and found[1] == own and bool(boundary)
        epilogue = node.body_start
        if closed:
            # closing delimiter: the epilogue runs to the enclosing delimiter
            assert found is not None
            epilogue = self.line_end(found[0])
            found = self.delimiter(epilogue, stack)
        stop = len(raw) if found is None else found[0]
        if not closed and children:
            node.end = children[-1].end  # cut short by an enclosing delimiter
        else:
            node.end = self.trim(epilogue, stop) if found is not None else stop
        if not children:
            # Without usable parts, report one empty text part so BODYSTRUCTURE stays
            # well-formed (``1*body``), as Dovecot does.
            empty = Part(node.end, node.end, node.end, b"text", b"plain",
                         ((b"charset", b"us-ascii"),), [])
            children.append(empty)
        node.children = tuple(children)
        return stop

    def _describe(
        self,
        start: int,
        body_start: int,
        end: int,
        fields: list[HeaderField],
        *,
        digest: bool,
        mime: bool,
    ) -> Part:
        media_type, subtype = (b"message", b"rfc822") if digest else (b"text", b"plain")
        params: tuple[tuple[bytes, bytes], ...] | None = None
        ctype = _first(fields, b"Content-Type")
        if ctype:
            head, plist = parse_parameterised(ctype)
            slash = head.find(b"/")
            if slash >= 0:
                media_type, subtype = head[:slash], head[slash + 1 :]
                params = tuple(plist) or None
            elif b";" in ctype:
                # "text; charset=x": unparseable, reported empty (as Dovecot does)
                media_type, subtype = b"", b""
            else:
                media_type, subtype = head, b""
        if media_type.lower() == b"text" and not any(
            k.lower() == b"charset" for k, _ in params or ()
        ):
            params = (*(params or ()), (b"charset", b"us-ascii"))
        node = Part(start, body_start, end, media_type, subtype, params, fields)
        # Content-* fields other than Content-Type count only in a MIME entity.
        if not (mime or ctype is not None or _values(fields, b"MIME-Version")):
            return node
        encoding = _first(fields, b"Content-Transfer-Encoding")
        if encoding:
            node.encoding = _COMMENT.sub(b"", encoding).strip() or b"7bit"
        node.content_id = _first(fields, b"Content-ID") or None
        node.description = _first(fields, b"Content-Description") or None
        node.md5 = _first(fields, b"Content-MD5") or None
        node.location = _first(fields, b"Content-Location") or None
        disposition = _last(fields, b"Content-Disposition")
        if disposition:
            disp_head, disp_params = parse_parameterised(disposition)
            if disp_head:
                node.disposition = (disp_head, tuple(disp_params) or None)
        language = _first(fields, b"Content-Language")
        if language:
            tags = tuple(t for t in _LANGUAGE_SPLIT.split(_COMMENT.sub(b" ", language)) if t)
            node.language = tags or None
        return node


def parse_message(
    raw: bytes,
    *,
    max_depth: int = MAX_DEPTH,
    max_parts: int = MAX_PARTS,
    max_fields: int = MAX_FIELDS,
) -> Part:
    """The MIME tree of a whole message; its ENVELOPE is ``envelope_of(root.fields)``.

    Raises :class:`MimeLimitError` when a limit is exceeded; the server then answers the
    FETCH of structure with ``NO`` while BODY[] stays available.
    """
    builder = _Builder(raw, max_depth, max_parts, max_fields)
    root, _ = builder.part(0, (), 0, digest=False, mime=False)
    return root


# --- sections -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SectionContent:
    """The bytes of a BODY[section]: byte ranges of the raw message, then ``suffix``."""

    ranges: tuple[tuple[int, int], ...]
    suffix: bytes = b""

    @property
    def size(self) -> int:
        return sum(e - s for s, e in self.ranges) + len(self.suffix)

    def iter_bytes(self, raw: bytes, chunk: int = 1 << 16) -> Iterator[bytes]:
        """Stream the content in bounded chunks (``raw`` may be an mmap)."""
        for start, end in self.ranges:
            for pos in range(start, end, chunk):
                yield bytes(raw[pos : min(end, pos + chunk)])
        if self.suffix:
            yield self.suffix

    def read(self, raw: bytes) -> bytes:
        return b"".join(self.iter_bytes(raw))

    def slice(self, offset: int, length: int) -> SectionContent:
        """The ``<offset.length>`` partial of this content."""
        out: list[tuple[int, int]] = []
        skip, want = offset, length
        for start, end in self.ranges:
            span = end - start
            if skip >= span:
                skip -= span
                continue
            take = min(span - skip, want)
            if take > 0:
                out.append((start + skip, start + skip + take))
            want -= take
            skip = 0
        suffix = b""
        if want > 0:
            suffix = self.suffix[skip : skip + want]
        return SectionContent(tuple(out), suffix)


def _find_part(root: Part, path: tuple[int, ...]) -> Part | None:
    """RFC 3501 6.4.5 part numbering; numbers after a message/rfc822 address its parts."""
    entity = root
    part = root
    for index, number in enumerate(path):
        kids = entity.children if entity.is_multipart else (entity,)
        if not 1 <= number <= len(kids):
            return None
        part = kids[number - 1]
        if index < len(path) - 1:
            if part.is_multipart:
                entity = part
            elif part.message is not None:
                entity = part.message
            else:
                return None
    return part


def section_content(root: Part, section: Section) -> SectionContent | None:
    """Where the bytes of ``BODY[section]`` are; ``None`` if the section does not exist."""
    if not section.part:
        message: Part | None = root
        part = root
    else:
        found = _find_part(root, section.part)
        if found is None:
            return None
        part = found
        message = part.message
    text = section.text
    if text is None:
        if not section.part:
            return SectionContent(((root.start, root.end),))
        return SectionContent(((part.body_start, part.end),))
    if text == "MIME":
        return SectionContent(((part.start, part.body_start),))
    if message is None:
        return None
    if text == "TEXT":
        return SectionContent(((message.body_start, message.end),))
    if text == "HEADER":
        return SectionContent(((message.start, message.body_start),))
    wanted = {f.lower() for f in section.fields}
    keep = text == "HEADER.FIELDS"
    ranges = tuple(
        (f.start, f.end)
        for f in message.fields
        if (f.name.decode("latin-1").lower() in wanted) is keep
    )
    return SectionContent(ranges, b"\r\n")


def binary_content(raw: bytes, root: Part, part_path: tuple[int, ...]) -> bytes | None:
    """``BINARY[part]``: the part's content with its transfer encoding undone (RFC 3516).

    ``None`` if the part does not exist; :class:`UnknownEncoding` for an encoding we
    cannot undo.  Multiparts and messages have identity encodings by definition.
    """
    if not part_path:
        return raw[root.start : root.end]
    part = _find_part(root, part_path)
    if part is None:
        return None
    body = raw[part.body_start : part.end]
    if part.is_multipart or part.message is not None:
        return body
    encoding = part.encoding.lower()
    if encoding in (b"7bit", b"8bit", b"binary"):
        return body
    if encoding == b"base64":
        return _decode_base64(body)
    if encoding == b"quoted-printable":
        return _decode_qp(body)
    raise UnknownEncoding(f"unknown Content-Transfer-Encoding {encoding.decode('latin-1')}")


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def _decode_base64(body: bytes) -> bytes:
    """Lenient base64: junk characters ignored, a truncated tail dropped (as MUAs do)."""
    clean = _NOT_BASE64.sub(b"", body)
    clean = clean[: len(clean) - len(clean) % 4] if len(clean) % 4 == 1 else clean
    return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))


def _decode_qp(body: bytes) -> bytes:
    """Quoted-printable that keeps the original line breaks (binascii's normalises them)."""
    out = bytearray()
    for line in body.splitlines(keepends=True):
        stripped = line.rstrip(b"\r\n")
        ending = line[len(stripped) :]
        stripped = stripped.rstrip(b" \t")
        if stripped.endswith(b"="):
            out += binascii.a2b_qp(stripped[:-1])
        else:
            out += binascii.a2b_qp(stripped) + ending
    return bytes(out)
