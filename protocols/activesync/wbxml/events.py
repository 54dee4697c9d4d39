"""Events the streaming decoder produces and the event encoder consumes.

A tag without the content bit still yields a :class:`StartElement` followed at once by
its :class:`EndElement`, so consumers handle ``<Tag/>`` and ``<Tag>...</Tag>`` alike.
Opaque data arrives as one or more :class:`Opaque` chunks whose boundaries depend only
on the decoder's chunk size, never on how the input was split when it was fed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codepages import Tag


@dataclass(frozen=True, slots=True)
class Header:
    """The WBXML document header (WBXML 1.3 section 5.4); not an event, see ``decoder.header``."""

    version: int
    public_id: int
    charset: int
    string_table_length: int


@dataclass(frozen=True, slots=True)
class StartElement:
    """An element starts; ``tag`` knows its code page, token, name and namespace."""

    tag: Tag


@dataclass(frozen=True, slots=True)
class EndElement:
    """The innermost open element ends."""

    tag: Tag


@dataclass(frozen=True, slots=True)
class Text:
    """Character data: one inline string (STR_I), string-table reference or entity."""

    text: str


@dataclass(frozen=True, slots=True)
class Opaque:
    """A chunk of one OPAQUE value: ``data`` sits at ``offset`` within ``total`` bytes.

    Small values arrive as a single chunk with ``offset == 0`` and ``final`` true; large
    ones (attachments, MIME) as a run of chunks a consumer can stream to a blob.
    """

    data: bytes
    offset: int
    total: int

    @property
    def final(self) -> bool:
        """True on the chunk that completes the value."""
        return self.offset + len(self.data) == self.total


Event = StartElement | EndElement | Text | Opaque
