"""PidTagRtfCompressed (MS-OXRTFCP) and the RTF bodies inside it (MS-OXRTFEX).

Compression is the ``compressed-rtf`` package's. Here: building an RTF body from the
plain text (``\\fromtext`` encapsulation, so RTF readers know its origin) and
reading text or encapsulated HTML back out of an RTF body, for messages that carry
nothing else (Outlook "rich text" mail, TNEF). The RTF reader is a small tokenizer,
not a renderer: paragraphs, tabs, ``\\'hh`` and ``\\uN`` escapes, destinations skipped.
"""

from __future__ import annotations

import logging
import re

import compressed_rtf  # type: ignore[import-untyped]

from groupware.convert import _tags as t
from groupware.convert.errors import ConversionError
from groupware.convert.model import Message

log = logging.getLogger(__name__)

MAX_RTF = 64 << 20


def compress(rtf: bytes) -> bytes:
    return bytes(compressed_rtf.compress(rtf, compressed=True))


def decompress(data: bytes) -> bytes:
    """PidTagRtfCompressed -> RTF bytes; :class:`ConversionError` when corrupt."""
    if len(data) < 16:
        raise ConversionError("compressed RTF shorter than its header")
    declared = int.from_bytes(data[4:8], "little")
    if declared > MAX_RTF:
        raise ConversionError(f"compressed RTF claims {declared} bytes")
    try:
        return bytes(compressed_rtf.decompress(data))
    except Exception as exc:  # the package raises bare Exceptions on bad CRC/magic
        raise ConversionError(f"corrupt compressed RTF: {exc}") from None


def text_to_rtf(text: str) -> bytes:
    """Plain text -> RTF (``\\fromtext``, MS-OXRTFEX 2.1.3.1)."""
    out = ["{\\rtf1\\ansi\\ansicpg1252\\fromtext \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}\r\n"]
    for char in text.replace("\r\n", "\n"):
        code = ord(char)
        if char == "\n":
            out.append("\\par\r\n")
        elif char == "\t":
            out.append("\\tab ")
        elif char in "\\{}":
            out.append("\\" + char)
        elif code < 0x80:
            out.append(char)
        elif code <= 0xFFFF:
            signed = code - 0x10000 if code > 0x7FFF else code
            out.append(f"\\u{signed}?")
        else:
            for unit in char.encode("utf-16-le").hex(" ", 2).split():
                value = int(unit[2:] + unit[:2], 16)
                out.append(f"\\u{value - 0x10000 if value > 0x7FFF else value}?")
    out.append("}")
    return "".join(out).encode("ascii")


def body_to_rtf_compressed(msg: Message) -> bytes | None:
    body = msg.props.get(t.BODY)
    if not isinstance(body, str):
        return None
    return compress(text_to_rtf(body))


_TOKEN = re.compile(
    rb"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|[\r\n]+",
    re.DOTALL,
)
_SKIP = {b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"object", b"header",
         b"footer", b"listtable", b"listoverridetable", b"rsidtbl", b"generator", b"xmlnstbl"}


def rtf_to_text(rtf: bytes) -> tuple[str, bool]:
    """(text, is_html): the readable text of an RTF body, or the HTML it encapsulates."""
    is_html = b"\\fromhtml" in rtf[:400]
    out: list[str] = []
    stack: list[tuple[bool, bool, int]] = []
    skip = False
    htmlrtf = False
    uc = 1
    pending_skip = 0
    codepage = "cp1252"
    for match in _TOKEN.finditer(rtf[:MAX_RTF]):
        word, arg, hexbyte, symbol, brace, text = match.groups()
        if brace == b"{":
            stack.append((skip, htmlrtf, uc))
            continue
        if brace == b"}":
            if stack:
                skip, htmlrtf, uc = stack.pop()
            continue
        if pending_skip and (text or hexbyte):
            if text:
                drop = min(pending_skip, len(text))
                pending_skip -= drop
                text = text[drop:]
            else:
                pending_skip -= 1
                continue
        if word is not None:
            name = word
            if name in _SKIP or (symbol == b"*"):
                skip = True
            elif name == b"htmltag":
                skip = False
            elif name == b"htmlrtf":
                htmlrtf = arg != b"0"
            elif name == b"uc" and arg:
                uc = int(arg)
            elif name == b"ansicpg" and arg:
                codepage = f"cp{int(arg)}"
            elif skip:
                continue
            elif name == b"u" and arg:
                value = int(arg)
                if not htmlrtf or is_html:
                    out.append(chr(value + 0x10000 if value < 0 else value))
                pending_skip = uc
            elif not htmlrtf and name in (b"par", b"line"):
                out.append("\n")
            elif not htmlrtf and name == b"tab":
                out.append("\t")
            continue
        if symbol is not None:
            if symbol == b"*":
                skip = not _is_htmltag_next(rtf, match.end())
            elif not skip and not htmlrtf and symbol in (b"\\", b"{", b"}"):
                out.append(symbol.decode())
            elif not skip and not htmlrtf and symbol == b"~":
                out.append("\u00a0")
            continue
        if skip or htmlrtf:
            continue
        if hexbyte is not None:
            out.append(bytes([int(hexbyte, 16)]).decode(codepage, errors="replace"))
        elif text:
            out.append(text.decode(codepage, errors="replace"))
    text = "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text, is_html


def _is_htmltag_next(rtf: bytes, pos: int) -> bool:
    return rtf.startswith(b"\\htmltag", pos)
