"""A tiny, independent reader of IMAP response data for tests.

It shares no code with the server so that comparing two servers' answers (or our
encoder with RFC text) goes through a parser that did not produce either of them.
NIL -> None, numbers -> int, strings (quoted or literal) -> bytes, other atoms ->
``Tok`` (a str subclass), parenthesised lists -> list.
"""

from __future__ import annotations

import re


class Tok(str):
    """A bare atom such as a flag or ``BODY[HEADER]``."""


_ATOM = re.compile(rb"[^\s()\"{]+(\[[^\]]*\](<\d+>)?)?")


def parse_values(data: bytes) -> list[object]:
    """All values in ``data``, which may contain literals."""
    values, _pos = _list(data, 0, closing=False)
    return values


def _list(data: bytes, pos: int, *, closing: bool) -> tuple[list[object], int]:
    out: list[object] = []
    while pos < len(data):
        c = data[pos : pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            inner, pos = _list(data, pos + 1, closing=True)
            out.append(inner)
        elif c == b")":
            if not closing:
                raise ValueError(f"unbalanced ) at {pos}")
            return out, pos + 1
        elif c == b'"':
            buf = bytearray()
            pos += 1
            while data[pos : pos + 1] != b'"':
                if data[pos : pos + 1] == b"\\":
                    pos += 1
                buf += data[pos : pos + 1]
                pos += 1
            out.append(bytes(buf))
            pos += 1
        elif c in (b"{", b"~"):
            m = re.compile(rb"~?\{(\d+)\}\r\n").match(data, pos)
            if m is None:
                raise ValueError(f"bad literal at {pos}")
            n = int(m.group(1))
            out.append(data[m.end() : m.end() + n])
            pos = m.end() + n
        else:
            m = _ATOM.match(data, pos)
            if m is None:
                raise ValueError(f"unexpected byte at {pos}: {data[pos:pos+20]!r}")
            word = m.group(0).decode("utf-8", "replace")
            pos = m.end()
            if word.upper() == "NIL":
                out.append(None)
            elif word.isdigit():
                out.append(int(word))
            else:
                out.append(Tok(word))
    if closing:
        raise ValueError("unterminated list")
    return out, pos


def fetch_items(response: bytes) -> dict[str, object]:
    """``* n FETCH (A x B y)`` -> ``{"A": x, "B": y}``."""
    values = parse_values(response)
    if values[:1] != [Tok("*")] or values[2:3] != [Tok("FETCH")]:
        raise ValueError(f"not a FETCH response: {response[:40]!r}")
    pairs = values[3]
    assert isinstance(pairs, list)
    return {str(pairs[i]).upper(): pairs[i + 1] for i in range(0, len(pairs), 2)}
