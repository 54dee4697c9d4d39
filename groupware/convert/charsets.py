"""Charset names, Windows code pages and decoding that never raises.

Mail lies about its charset: unknown names, aliases only Windows knows, labels
that do not match the bytes. :func:`decode_text` always returns text — it tries
the declared charset (through an alias table), then UTF-8, then Windows-1252 with
replacement — so one bad part never loses a message. PidTagInternetCodepage
(MS-OXCMAIL 2.2.3.1.?) carries the code page; :func:`codepage_for` and
:func:`charset_for_codepage` translate both ways.
"""

from __future__ import annotations

import codecs
import functools

_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "cp1252",
    "unknown-8bit": "cp1252",
    "x-user-defined": "cp1252",
    "us-ascii": "cp1252",  # 8-bit bytes in "ASCII" mail are nearly always Windows-1252
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",  # WHATWG: the label means Windows-1252
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "default": "cp1252",
    "utf8": "utf-8",
}

_CODEPAGES = {
    "utf-8": 65001,
    "cp1252": 1252,
    "cp1250": 1250,
    "cp1251": 1251,
    "cp1253": 1253,
    "cp1254": 1254,
    "cp1255": 1255,
    "cp1256": 1256,
    "cp1257": 1257,
    "cp1258": 1258,
    "iso8859-1": 28591,
    "iso8859-2": 28592,
    "iso8859-3": 28593,
    "iso8859-4": 28594,
    "iso8859-5": 28595,
    "iso8859-6": 28596,
    "iso8859-7": 28597,
    "iso8859-8": 28598,
    "iso8859-9": 28599,
    "iso8859-13": 28603,
    "iso8859-15": 28605,
    "koi8-r": 20866,
    "koi8-u": 21866,
    "shift_jis": 932,
    "cp932": 932,
    "euc_jp": 51932,
    "iso2022_jp": 50220,
    "cp949": 949,
    "gb18030": 54936,
    "big5": 950,
    "cp874": 874,
    "utf-16-le": 1200,
    "utf-16-be": 1201,
    "utf-7": 65000,
    "mac-roman": 10000,
}
_BY_CODEPAGE = {cp: name for name, cp in _CODEPAGES.items()} | {20127: "cp1252"}
# The MIME names to write for a code page (IANA names, not Python's).
_MIME_NAMES = {
    65001: "utf-8",
    20127: "us-ascii",
    1252: "windows-1252",
    28591: "iso-8859-1",
    28605: "iso-8859-15",
    932: "shift_jis",
    50220: "iso-2022-jp",
    51932: "euc-jp",
    949: "ks_c_5601-1987",
    54936: "gb18030",
    950: "big5",
    20866: "koi8-r",
    21866: "koi8-u",
}


@functools.lru_cache(maxsize=256)
def python_codec(charset: str | None) -> str | None:
    """The Python codec name for a MIME charset label, or ``None`` if unknown."""
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    # Python's "mbcs"/"oem" exist only on Windows and rot13 & co. are not text codecs.
    return name if name not in {"rot-13", "rot13"} else None


def decode_text(data: bytes | memoryview, charset: str | None) -> str:
    """Bytes in a declared charset -> text. Never raises; falls back as documented."""
    raw = bytes(data)
    codec = python_codec(charset)
    if codec is not None:
        try:
            text = raw.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
        else:
            if codec.startswith(("utf-7", "utf-16", "utf-32")):
                # These can produce lone surrogates, which no store can encode.
                text = text.encode("utf-8", "replace").decode("utf-8")
            return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return raw.decode(codec or "cp1252", errors="replace")


_LABEL_CODEPAGES = {"us-ascii": 20127, "ascii": 20127, "iso-8859-1": 28591, "latin1": 28591}


def codepage_for(charset: str | None) -> int | None:
    """Windows code page for a charset label (PidTagInternetCodepage), if known."""
    label = (charset or "").strip().strip('"').lower()
    if label in _LABEL_CODEPAGES:
        return _LABEL_CODEPAGES[label]
    codec = python_codec(charset)
    return _CODEPAGES.get(codec) if codec else None


def charset_for_codepage(codepage: int | None) -> str:
    """The MIME charset label to write for a code page; UTF-8 when unknown."""
    if codepage is None:
        return "utf-8"
    if codepage in _MIME_NAMES:
        return _MIME_NAMES[codepage]
    name = _BY_CODEPAGE.get(codepage)
    if name is None:
        return "utf-8"
    return name.replace("iso8859", "iso-8859").replace("cp12", "windows-12")


def codec_for_codepage(codepage: int | None) -> str:
    """The Python codec of a code page; UTF-8 when unknown."""
    return _BY_CODEPAGE.get(codepage or 0, "utf-8")
