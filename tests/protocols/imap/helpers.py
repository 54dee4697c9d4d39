"""Shared helpers for the IMAP core tests."""

from __future__ import annotations

from protocols.imap.events import ParserLimits
from protocols.imap.parser import CommandParser, Event


def events(data: bytes, parser: CommandParser | None = None, **limits: int) -> list[Event]:
    """Feed ``data`` at once and drain every event."""
    p = parser or CommandParser(ParserLimits(**limits) if limits else None)  # type: ignore[arg-type]
    p.feed(data)
    out: list[Event] = []
    while (event := p.next_event()) is not None:
        out.append(event)
    return out


def events_bytewise(data: bytes, **limits: int) -> list[Event]:
    """Feed ``data`` one byte at a time, draining after each byte."""
    p = CommandParser(ParserLimits(**limits) if limits else None)  # type: ignore[arg-type]
    out: list[Event] = []
    for i in range(len(data)):
        p.feed(data[i : i + 1])
        while (event := p.next_event()) is not None:
            out.append(event)
    return out


def one(data: bytes) -> Event:
    """The single event ``data`` produces."""
    found = events(data)
    assert len(found) == 1, found
    return found[0]
