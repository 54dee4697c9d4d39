"""FETCH data items (RFC 9051 6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ).

Shared by the parser (what the client asked for) and the encoder (how the answer is
named: ``BODY.PEEK[HEADER]<0.100>`` is answered as ``BODY[HEADER]<0>``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MACROS",
    "SECTION_TEXTS",
    "SIMPLE_ITEMS",
    "FetchBinary",
    "FetchBinarySize",
    "FetchBody",
    "FetchItem",
    "FetchSimple",
    "Partial",
    "Section",
]

SIMPLE_ITEMS = frozenset(
    {
        "BODY",
        "BODYSTRUCTURE",
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "MODSEQ",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "UID",
    }
)
"""Items named by a bare atom (``BODY`` alone is the non-extensible BODYSTRUCTURE)."""

SECTION_TEXTS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"})

MACROS: dict[str, tuple[str, ...]] = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
"""RFC 3501 6.4.5 macros; RFC 9051 keeps them for compatibility."""


@dataclass(frozen=True, slots=True)
class Section:
    """``section-spec``: a part path and optionally HEADER/HEADER.FIELDS[.NOT]/TEXT/MIME."""

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        """The text between the brackets, as it is echoed in the FETCH response."""
        pieces = [".".join(str(p) for p in self.part)] if self.part else []
        if self.text is not None:
            spec = self.text
            if self.fields:
                spec += " (" + " ".join(self.fields) + ")"
            pieces.append(spec)
        return ".".join(pieces).encode("ascii")


@dataclass(frozen=True, slots=True)
class Partial:
    """``<offset.length>`` of a body section; the response names only ``<offset>``."""

    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class FetchSimple:
    """An item named by one atom, e.g. ``FLAGS`` or ``RFC822.SIZE``."""

    name: str

    def item_name(self) -> bytes:
        return self.name.encode("ascii")

    @property
    def sets_seen(self) -> bool:
        """RFC822 and RFC822.TEXT fetch the body and so set \\Seen, like BODY[]."""
        return self.name in ("RFC822", "RFC822.TEXT")


@dataclass(frozen=True, slots=True)
class FetchBody:
    """``BODY[section]<partial>`` or ``BODY.PEEK[...]``."""

    section: Section
    partial: Partial | None = None
    peek: bool = False

    def item_name(self) -> bytes:
        name = b"BODY[" + self.section.to_bytes() + b"]"
        if self.partial is not None:
            name += b"<%d>" % self.partial.offset
        return name

    @property
    def sets_seen(self) -> bool:
        return not self.peek


@dataclass(frozen=True, slots=True)
class FetchBinary:
    """``BINARY[part]<partial>`` / ``BINARY.PEEK[...]`` (RFC 3516): the decoded content."""

    part: tuple[int, ...]
    partial: Partial | None = None
    peek: bool = False

    def item_name(self) -> bytes:
        name = b"BINARY[" + ".".join(str(p) for p in self.part).encode("ascii") + b"]"
        if self.partial is not None:
            name += b"<%d>" % self.partial.offset
        return name

    @property
    def sets_seen(self) -> bool:
        return not self.peek


@dataclass(frozen=True, slots=True)
class FetchBinarySize:
    """``BINARY.SIZE[part]``: the size of the decoded content."""

    part: tuple[int, ...]

    def item_name(self) -> bytes:
        return b"BINARY.SIZE[" + ".".join(str(p) for p in self.part).encode("ascii") + b"]"

    @property
    def sets_seen(self) -> bool:
        return False


FetchItem = FetchSimple | FetchBody | FetchBinary | FetchBinarySize
