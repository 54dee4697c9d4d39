"""Header-section primitives over raw message bytes (RFC 5322 2.2, RFC 2045 5.1).

Everything works on offsets into the original bytes: a header is never re-serialised,
so repeated fields, their order and the case of their names stay exactly as received
(IMAP's BODY[HEADER.FIELDS ...] must return the bytes the client would see in BODY[]).
Encoded words (RFC 2047) are deliberately left encoded: ENVELOPE carries them raw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Address",
    "HeaderField",
    "MimeLimitError",
    "collapse_whitespace",
    "parse_address_list",
    "parse_fields",
    "parse_parameterised",
    "split_header",
    "unfold",
]


class MimeLimitError(ValueError):
    """A message exceeds a structural limit (nesting depth, part or field count)."""


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One field: its name, its raw value (after the colon, folding kept) and its bytes."""

    name: bytes
    value: bytes
    start: int
    end: int


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def split_header(raw: bytes, start: int, end: int) -> int:
    """Offset where the body starts: just after the blank line ending the header.

    A part that starts with a blank line has an empty header; one with no blank line
    at all is all header (and its body is empty), as RFC 2045 parsers treat it.
    """
    if raw.startswith(b"\r\n", start) and start + 2 <= end:
        return start + 2
    if raw.startswith(b"\n", start) and start + 1 <= end:
        return start + 1
    match = _BLANK_LINE.search(raw, start, end)
    return end if match is None else match.end()


def parse_fields(raw: bytes, start: int, end: int, *, max_fields: int) -> list[HeaderField]:
    """Fields of the header occupying ``raw[start:end]``, continuation lines folded in.

    Lines without a colon are not fields (they stay in the header bytes but have no
    name); a line starting with whitespace continues the previous field.
    """
    fields: list[HeaderField] = []
    pos = start
    current: tuple[int, int] | None = None  # (start, colon)

    def close(line_start: int) -> None:
        if current is not None:
            fstart, colon = current
            name = raw[fstart:colon].rstrip(b" \t")
            fields.append(HeaderField(name, raw[colon + 1 : line_start], fstart, line_start))
            if len(fields) > max_fields:
                raise MimeLimitError("too many header fields")

    while pos < end:
        nl = raw.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        first = raw[pos]
        if first in b" \t" and current is not None:
            pos = line_end
            continue
        close(pos)
        current = None
        if first not in b"\r\n":
            colon = raw.find(b":", pos, line_end)
            if colon > pos:
                current = (pos, colon)
        pos = line_end
    close(pos)
    return fields


_LINE_END = re.compile(rb"[\r\n]+")
_WSP_RUN = re.compile(rb"[ \t\r\n]+")


def unfold(value: bytes) -> bytes:
    """Field value as ENVELOPE/BODYSTRUCTURE report it.

    Leading whitespace is dropped, then line breaks are removed (RFC 5322 unfolding);
    inner and trailing whitespace is kept as it was, like Dovecot does.
    """
    return _LINE_END.sub(b"", value.lstrip(b" \t"))


def collapse_whitespace(value: bytes) -> bytes:
    """Runs of whitespace (folding included) as one space, trimmed: how Subject is shown."""
    return _WSP_RUN.sub(b" ", value).strip(b" ")


# --- RFC 5322 lexical tokens -----------------------------------------------------------

_SPECIALS = b'()<>@,;:\\".[]'


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "atom", "quoted", "literal" (domain literal), "special", "comment"
    value: bytes


def _tokenize(value: bytes, *, specials: bytes = _SPECIALS, limit: int = 10000) -> list[_Token]:
    """Split a structured field body into atoms, quoted strings, comments and specials.

    Unbalanced quotes/parentheses end at the end of the value instead of failing:
    real mail has them and a best effort beats an error.
    """
    tokens: list[_Token] = []
    i = 0
    n = len(value)
    while i < n:
        if len(tokens) > limit:
            raise MimeLimitError("header field has too many tokens")
        c = value[i]
        if c in b" \t\r\n":
            i += 1
        elif c == 0x28:  # comment, possibly nested
            depth = 0
            out = bytearray()
            while i < n:
                c = value[i]
                if c == 0x5C and i + 1 < n:
                    out.append(value[i + 1])
                    i += 2
                    continue
                if c == 0x28:
                    depth += 1
                    if depth == 1:
                        i += 1
                        continue
                elif c == 0x29:
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                if c not in b"\r\n":
                    out.append(c)
                i += 1
            tokens.append(_Token("comment", bytes(out)))
        elif c == 0x22:
            out = bytearray()
            i += 1
            while i < n and value[i] != 0x22:
                if value[i] == 0x5C and i + 1 < n:
                    i += 1
                if value[i] not in b"\r\n":
                    out.append(value[i])
                i += 1
            i += 1
            tokens.append(_Token("quoted", bytes(out)))
        elif c == 0x5B and b"[" in specials:
            close = value.find(b"]", i)
            close = n - 1 if close < 0 else close
            tokens.append(_Token("literal", value[i : close + 1]))
            i = close + 1
        elif c in specials:
            tokens.append(_Token("special", bytes([c])))
            i += 1
        else:
            j = i
            while j < n and value[j] not in specials and value[j] not in b" \t\r\n":
                j += 1
            tokens.append(_Token("atom", value[i:j]))
            i = j
    return tokens


# --- Content-Type style values: ``token/token *(; attr=value)`` ---------------------------

_PARAM_SPECIALS = b'()<>@,;:\\"/[]?='
_RFC2231_NAME = re.compile(rb"^([^*]+)\*(?:(\d{1,3})(\*?))?$")


def parse_parameterised(value: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """``type/subtype; a=b`` or ``attachment; filename=x``: the head and the parameters.

    The head keeps its ``/`` (callers split it); parameter values are unquoted and
    RFC 2231 continuations are joined (see :func:`_merge_rfc2231`).  Malformed
    parameters are skipped rather than failing the whole field.
    """
    tokens = [t for t in _tokenize(value, specials=_PARAM_SPECIALS) if t.kind != "comment"]
    head = bytearray()
    i = 0
    while i < len(tokens) and not (tokens[i].kind == "special" and tokens[i].value == b";"):
        head += tokens[i].value
        i += 1
    params: list[tuple[bytes, bytes]] = []
    while i < len(tokens):
        i += 1  # the ";"
        if i + 1 < len(tokens) and tokens[i].kind == "atom" and tokens[i + 1].value == b"=":
            name = tokens[i].value
            if i + 2 < len(tokens) and tokens[i + 2].kind in ("atom", "quoted"):
                params.append((name, tokens[i + 2].value))
                i += 3
            else:
                params.append((name, b""))
                i += 2
        while i < len(tokens) and not (tokens[i].kind == "special" and tokens[i].value == b";"):
            i += 1
    return bytes(head), _merge_rfc2231(params)


def _merge_rfc2231(params: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Plain parameters in order, then RFC 2231 ones by name with continuations joined.

    ``name*0*=utf-8''a%20b; name*1=c`` becomes ``name*`` = ``utf-8''a%20bc`` (the value
    stays encoded: BODYSTRUCTURE reports it raw).  A broken continuation sequence is
    passed through piece by piece.
    """
    plain: list[tuple[bytes, bytes]] = []
    groups: dict[bytes, list[tuple[int, bool, bytes, bytes]]] = {}
    for name, val in params:
        match = _RFC2231_NAME.match(name)
        if match is None:
            plain.append((name, val))
            continue
        base, index, star = match.groups()
        extended = index is None or bool(star)
        groups.setdefault(base, []).append((int(index or 0), extended, name, val))
    merged: list[tuple[bytes, bytes]] = []
    for base in sorted(groups):
        pieces = sorted(groups[base], key=lambda p: p[0])
        if [p[0] for p in pieces] != list(range(len(pieces))):
            merged.extend((p[2], p[3]) for p in pieces)
            continue
        extended = pieces[0][1]
        merged.append((base + (b"*" if extended else b""), b"".join(p[3] for p in pieces)))
    return plain + merged


# --- address lists (ENVELOPE) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    """RFC 3501 ``address``: (name adl mailbox host); group markers have host ``None``."""

    name: bytes | None
    adl: bytes | None
    mailbox: bytes | None
    host: bytes | None


MISSING_MAILBOX = b"MISSING_MAILBOX"
MISSING_DOMAIN = b"MISSING_DOMAIN"
_MISSING = Address(None, None, MISSING_MAILBOX, MISSING_DOMAIN)


def _is(tok: _Token, chars: bytes) -> bool:
    return tok.kind == "special" and tok.value[0] in chars


class _AddressParser:
    """RFC 5322 3.4 address lists, with the fallbacks deployed servers use for junk."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.out: list[Address] = []

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def at(self, chars: bytes) -> bool:
        tok = self.peek()
        return tok is not None and _is(tok, chars)

    def parse(self) -> list[Address]:
        while self.peek() is not None:
            if self.at(b","):
                # an empty element before a comma still stands for an (invalid) address
                self.out.append(_MISSING)
                self.i += 1
                continue
            self.element(in_group=False)
            if self.at(b","):
                self.i += 1
        return self.out

    def element(self, *, in_group: bool) -> None:
        words: list[_Token] = []
        while (tok := self.peek()) is not None and not _is(tok, b",:<;" if not in_group
                                                            else b",<;"):
            words.append(tok)
            self.i += 1
        if not in_group and self.at(b":"):
            self.i += 1
            self.out.append(Address(None, None, _phrase(words) or b"", None))
            while self.peek() is not None and not self.at(b";"):
                if self.at(b","):
                    self.i += 1
                    continue
                self.element(in_group=True)
            if self.at(b";"):
                self.i += 1
            self.out.append(Address(None, None, None, None))
            return
        if self.at(b"<"):
            self.i += 1
            inner: list[_Token] = []
            while (tok := self.peek()) is not None and not _is(tok, b">"):
                inner.append(tok)
                self.i += 1
            if self.at(b">"):
                self.i += 1
            while (tok := self.peek()) is not None and tok.kind == "comment":
                self.i += 1
            adl: bytes | None = None
            colon = next((k for k, t in enumerate(inner) if _is(t, b":")), -1)
            if colon >= 0:
                adl = b"".join(t.value for t in inner[:colon] if t.kind != "comment") or None
                inner = inner[colon + 1 :]
            local, host = _addr_spec([t for t in inner if t.kind != "comment"])
            self.out.append(Address(_phrase(words), adl, local, host))
            return
        if not in_group and self.at(b";"):
            self.i += 1
        self._bare(words)

    def _bare(self, words: list[_Token]) -> None:
        comments = [t for t in words if t.kind == "comment"]
        words = [t for t in words if t.kind != "comment"]
        if not words:
            return
        if any(_is(t, b"@") for t in words) or _is_local_part(words):
            local, host = _addr_spec(words)
            name = comments[-1].value if comments else None
            self.out.append(Address(name or None, None, local, host))
        else:
            self.out.append(Address(_phrase(words), None, MISSING_MAILBOX, MISSING_DOMAIN))


def _is_local_part(words: list[_Token]) -> bool:
    """One word or dot-separated words: a local part without a domain."""
    expect_word = True
    for tok in words:
        if expect_word != (tok.kind in ("atom", "quoted")):
            return False
        expect_word = not expect_word
        if not expect_word:
            continue
        if not _is(tok, b"."):
            return False
    return not expect_word


def _phrase(words: list[_Token]) -> bytes | None:
    """Display names: words joined by single spaces, quoted strings unquoted."""
    out = bytearray()
    for tok in words:
        if tok.kind == "comment":
            continue
        if tok.kind == "special" and tok.value == b".":
            out += b"."
            continue
        if out:
            out += b" "
        out += tok.value
    return bytes(out) if out else None


def _addr_spec(tokens: list[_Token]) -> tuple[bytes, bytes]:
    at = next((k for k, t in enumerate(tokens) if _is(t, b"@")), -1)
    local_tokens = tokens if at < 0 else tokens[:at]
    host_tokens = [] if at < 0 else tokens[at + 1 :]
    local = b"".join(t.value for t in local_tokens)
    host = b"".join(t.value for t in host_tokens)
    return local or MISSING_MAILBOX, host or MISSING_DOMAIN


def parse_address_list(value: bytes, *, limit: int = 10000) -> list[Address]:
    """ENVELOPE addresses of one From/To/... field value (empty list for none)."""
    return _AddressParser(_tokenize(value, limit=limit)).parse()
