"""A tolerant, bounded MIME entity splitter that keeps byte offsets (RFC 5322, 2045, 2046).

Why not :mod:`email.parser`: it rebuilds parts instead of pointing into the original
bytes, so a signed part (RFC 1847) could not be kept byte-exact, and it is several
times slower than this splitter, which only finds header blocks and boundaries and
decodes nothing until asked. Every entity records where it lives in its ``source``
so the original bytes of any subtree (a multipart/signed body, an embedded message)
are one slice away.

Bad input never raises: a missing boundary parameter turns a multipart into a
text part, a missing closing delimiter ends the part at the end of the data, lines
that are not headers end the header block. Limits (depth, number of parts, header
count) stop descending instead of failing: what is past them stays one leaf part.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

_HEADER_NAME = re.compile(rb"[!-9;-~]+")
_PARAM = re.compile(
    r"""\s*;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)""", re.DOTALL
)


@dataclass(frozen=True)
class MimeLimits:
    """Bounds for :func:`parse_mime`; beyond them content stays unsplit."""

    max_depth: int = 32
    max_parts: int = 5000
    max_headers: int = 2000
    max_header_line: int = 1 << 20


DEFAULT_LIMITS = MimeLimits()


@dataclass(eq=False)
class Entity:
    """One MIME entity: header fields, body offsets into ``source``, child entities.

    ``headers`` hold (name, raw value) with the value's folding and bytes untouched;
    ``start`` is where the header block begins, ``body_start``/``end`` bound the body.
    For message/rfc822 the single child is the encapsulated message.
    """

    source: bytes
    start: int
    body_start: int
    end: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    children: list[Entity] = field(default_factory=list)
    preamble: tuple[int, int] | None = None
    epilogue: tuple[int, int] | None = None
    defects: list[str] = field(default_factory=list)
    split: bool = False
    """A multipart whose delimiters were found (it may still have no parts)."""
    _ctype: tuple[str, dict[str, str]] | None = field(default=None, repr=False)

    # -- headers ------------------------------------------------------------------
    def header(self, name: str) -> bytes | None:
        """The first raw value of a header field (case-insensitive name)."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_str(self, name: str) -> str | None:
        """First value, unfolded, as text (8-bit bytes read as UTF-8 or cp1252)."""
        raw = self.header(name)
        return None if raw is None else unfold(raw)

    @property
    def content_type(self) -> str:
        """``maintype/subtype`` in lower case; text/plain when missing or malformed."""
        return self._parsed_ctype()[0]

    @property
    def params(self) -> dict[str, str]:
        """Content-Type parameters, names lower-cased, RFC 2231 continuations joined."""
        return self._parsed_ctype()[1]

    def _parsed_ctype(self) -> tuple[str, dict[str, str]]:
        if self._ctype is None:
            raw = self.header_str("content-type")
            ctype, params = parse_content_type(raw) if raw else ("", {})
            if "/" not in ctype:
                ctype = "text/plain"
            self._ctype = (ctype, params)
        return self._ctype

    @property
    def transfer_encoding(self) -> str:
        value = self.header_str("content-transfer-encoding")
        return value.strip().lower() if value else "7bit"

    @property
    def is_multipart(self) -> bool:
        return self.content_type.startswith("multipart/") and (bool(self.children) or self.split)

    # -- bytes --------------------------------------------------------------------
    def raw(self) -> memoryview:
        """The whole entity, headers and body, as in the source."""
        return memoryview(self.source)[self.start : self.end]

    def raw_body(self) -> memoryview:
        return memoryview(self.source)[self.body_start : self.end]

    def decoded(self) -> bytes:
        """The body with its Content-Transfer-Encoding undone (never raises)."""
        return decode_cte(self.raw_body(), self.transfer_encoding)

    def walk(self) -> list[Entity]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def unfold(raw: bytes) -> str:
    """Unfold a header value (RFC 5322 2.2.3) and make it text."""
    value = raw.replace(b"\r\n", b"").replace(b"\n", b"").replace(b"\r", b"").replace(b"\x00", b"")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("cp1252", errors="replace")
    return text.strip(" \t")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"':
        body = value[1:-1] if value.endswith('"') else value[1:]
        return re.sub(r"\\(.)", r"\1", body)
    return value


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """``text/plain; charset="x"`` -> ("text/plain", {"charset": "x"}); never raises.

    Also used for Content-Disposition. RFC 2231 parameters (``name*0*=``) are joined
    and their charset applied.
    """
    head, _, rest = value.partition(";")
    ctype = head.strip().lower()
    params: dict[str, str] = {}
    pieces: dict[str, dict[int, tuple[str, bool]]] = {}
    for match in _PARAM.finditer(";" + rest):
        name = match.group(1).lower()
        raw_value = match.group(2).strip()
        if "*" in name:
            base, _, tail = name.partition("*")
            extended = tail.endswith("*") or tail == ""
            number_text = tail.rstrip("*")
            number = int(number_text) if number_text.isdigit() else 0
            pieces.setdefault(base, {})[number] = (_unquote(raw_value), extended)
        elif name not in params:
            params[name] = _unquote(raw_value)
    for base, parts in pieces.items():
        params[base] = _join_rfc2231(parts)
    return ctype, params


def _join_rfc2231(parts: dict[int, tuple[str, bool]]) -> str:
    from urllib.parse import unquote_to_bytes

    from groupware.convert.charsets import decode_text

    charset: str | None = None
    chunks: list[bytes] = []
    for index in sorted(parts)[:256]:
        text, extended = parts[index]
        if extended:
            if index == 0 and text.count("'") >= 2:
                charset, _lang, text = text.split("'", 2)
            chunks.append(unquote_to_bytes(text))
        else:
            chunks.append(text.encode("utf-8"))
    return decode_text(b"".join(chunks), charset or "utf-8")


def decode_cte(data: bytes | memoryview, encoding: str) -> bytes:
    """Undo base64 / quoted-printable / x-uuencode; other encodings are identity."""
    try:
        if encoding == "base64":
            return _decode_base64(data)
        if encoding == "quoted-printable":
            return binascii.a2b_qp(data)
        if encoding in {"x-uuencode", "uuencode", "x-uue"}:
            return _decode_uu(bytes(data))
    except (binascii.Error, ValueError):
        pass
    return bytes(data)


def _decode_base64(data: bytes | memoryview) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        # Bad padding or length: keep the valid alphabet and pad it out.
        clean = re.sub(rb"[^A-Za-z0-9+/]", b"", bytes(data))
        clean = clean[: len(clean) - len(clean) % 4 if len(clean) % 4 == 1 else len(clean)]
        clean += b"=" * (-len(clean) % 4)
        try:
            return binascii.a2b_base64(clean)
        except binascii.Error:
            return b""


def _decode_uu(data: bytes) -> bytes:
    out: list[bytes] = []
    started = False
    for line in data.splitlines():
        if not started:
            started = line.startswith(b"begin ")
            continue
        if line.strip() in {b"end", b"`"}:
            break
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            continue
    return b"".join(out)


# --- splitting ------------------------------------------------------------------------


class _Budget:
    def __init__(self, limits: MimeLimits) -> None:
        self.limits = limits
        self.parts = 0


def parse_mime(data: bytes, limits: MimeLimits = DEFAULT_LIMITS) -> Entity:
    """Split ``data`` into its entity tree. Never raises for any ``bytes``."""
    return _parse_entity(data, 0, len(data), 0, _Budget(limits), top=True)


def _line_end(data: bytes, pos: int, end: int) -> int:
    """Index just past the next LF (or ``end``)."""
    nl = data.find(b"\n", pos, end)
    return end if nl < 0 else nl + 1


def _parse_headers(
    data: bytes, start: int, end: int, budget: _Budget, top: bool
) -> tuple[list[tuple[str, bytes]], int, list[str]]:
    """Header fields from ``start``; returns them and where the body starts."""
    headers: list[tuple[str, bytes]] = []
    defects: list[str] = []
    pos = start
    if top and data.startswith(b"From ", pos):  # mbox separator line
        pos = _line_end(data, pos, end)
    limit = budget.limits
    while pos < end:
        nxt = _line_end(data, pos, end)
        line = data[pos:nxt]
        if line in (b"\r\n", b"\n", b"\r"):
            if headers:
                headers[-1] = (headers[-1][0], _strip_eol(headers[-1][1]))
            return headers, nxt, defects
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            if len(value) + len(line) <= limit.max_header_line:
                headers[-1] = (name, value + line)
            pos = nxt
            continue
        if headers:
            headers[-1] = (headers[-1][0], _strip_eol(headers[-1][1]))
        colon = line.find(b":")
        if colon <= 0 or not _HEADER_NAME.fullmatch(line[:colon].rstrip(b" \t")):
            # Not a header: the body starts here without the blank line.
            defects.append("missing blank line after headers")
            if headers:
                headers[-1] = (headers[-1][0], _strip_eol(headers[-1][1]))
            return headers, pos, defects
        if len(headers) < limit.max_headers:
            name = line[:colon].rstrip(b" \t").decode("ascii")
            headers.append((name, line[colon + 1 :][: limit.max_header_line]))
        pos = nxt
    if headers:
        headers[-1] = (headers[-1][0], _strip_eol(headers[-1][1]))
    return headers, end, defects


def _strip_eol(value: bytes) -> bytes:
    if value.endswith(b"\r\n"):
        return value[:-2]
    if value.endswith((b"\n", b"\r")):
        return value[:-1]
    return value


def _parse_entity(
    data: bytes, start: int, end: int, depth: int, budget: _Budget, *, top: bool = False,
    default_type: str | None = None,
) -> Entity:
    budget.parts += 1
    headers, body_start, defects = _parse_headers(data, start, end, budget, top)
    entity = Entity(data, start, body_start, end, headers, defects=defects)
    if default_type and entity.header("content-type") is None:
        entity._ctype = (default_type, {})
    if depth >= budget.limits.max_depth or budget.parts >= budget.limits.max_parts:
        return entity
    ctype = entity.content_type
    if ctype.startswith("multipart/"):
        boundary = entity.params.get("boundary")
        if boundary:
            _split_multipart(entity, boundary.encode("utf-8", "replace"), depth, budget)
        else:
            entity.defects.append("multipart without boundary")
        if not entity.children and not entity.split:
            entity._ctype = ("text/plain", {})
    elif ctype in ("message/rfc822", "message/global"):
        cte = entity.transfer_encoding
        if cte in ("base64", "quoted-printable"):
            inner = entity.decoded()
            child = _parse_entity(inner, 0, len(inner), depth + 1, budget)
        else:
            child = _parse_entity(data, body_start, end, depth + 1, budget)
        entity.children.append(child)
    return entity


def _split_multipart(entity: Entity, boundary: bytes, depth: int, budget: _Budget) -> None:
    data, pos, end = entity.source, entity.body_start, entity.end
    delimiter = b"--" + boundary
    part_start: int | None = None
    first_delimiter: int | None = None
    closed = False
    while pos < end:
        hit = data.find(delimiter, pos, end)
        if hit < 0:
            break
        if hit != entity.body_start and data[hit - 1 : hit] != b"\n":
            pos = hit + len(delimiter)
            continue
        after = hit + len(delimiter)
        line_end = _line_end(data, after, end)
        tail = data[after:line_end].rstrip(b"\r\n")
        is_close = tail.startswith(b"--")
        if (tail[2:] if is_close else tail).strip(b" \t"):
            pos = after  # a longer boundary that merely starts with ours
            continue
        # The CRLF before the delimiter belongs to the delimiter (RFC 2046 5.1.1).
        content_end = hit
        if content_end > entity.body_start and data[content_end - 1 : content_end] == b"\n":
            content_end -= 1
            if data[content_end - 1 : content_end] == b"\r":
                content_end -= 1
        if part_start is None:
            first_delimiter = hit
            entity.preamble = (entity.body_start, content_end)
        else:
            _add_part(entity, part_start, max(part_start, content_end), depth, budget)
        entity.split = True
        if is_close:
            closed = True
            entity.epilogue = (line_end, end)
            break
        part_start = line_end
        pos = line_end
        if budget.parts >= budget.limits.max_parts:
            break
    if not closed:
        if first_delimiter is None:
            entity.defects.append("boundary not found")
            return
        entity.defects.append("missing closing boundary")
        if part_start is not None and part_start < end:
            _add_part(entity, part_start, end, depth, budget)


def _add_part(entity: Entity, start: int, end: int, depth: int, budget: _Budget) -> None:
    if start >= end:
        return  # "--b" right after "--b": an empty part carries nothing
    # RFC 2046 5.1.5: in a digest, parts are messages unless they say otherwise.
    default = "message/rfc822" if entity.content_type == "multipart/digest" else None
    entity.children.append(
        _parse_entity(entity.source, start, end, depth + 1, budget, default_type=default)
    )
