"""What the command parser hands to the session, besides commands, and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "IdleDone",
    "NeedContinuation",
    "ParserLimits",
    "ProtocolViolation",
    "SaslResponse",
]


class NeedContinuation(NamedTuple):
    """The client announced a synchronising literal of ``size`` bytes and waits for ``+``."""

    size: int


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """Input the parser refused; the server answers ``tag BAD``/``NO`` or ``* BAD``.

    ``tag`` is ``None`` when no tag could be read (answer untagged).  ``status`` is
    ``"BAD"`` for syntax errors and ``"NO"`` for a refused literal size (``code`` is then
    ``"TOOBIG"``, RFC 9051 7.1 / RFC 7889).  ``fatal`` means the connection cannot be
    resynchronised: send ``* BYE`` with the message and close.
    """

    tag: bytes | None
    message: str
    fatal: bool = False
    status: str = "BAD"
    code: str | None = None


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """One client line during AUTHENTICATE: base64-decoded data, or the ``*`` cancel."""

    tag: bytes
    data: bytes
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class IdleDone:
    """The ``DONE`` that ends IDLE (RFC 2177); ``tag`` is the IDLE command's tag."""

    tag: bytes


@dataclass(frozen=True, slots=True)
class ParserLimits:
    """Bounds on everything a client controls; defaults follow common server practice.

    ``max_nonsync_literal`` is ``None`` for LITERAL+ (any size up to ``max_literal``) and
    4096 for LITERAL- (RFC 7888 5).  ``close_on_oversize_nonsync`` picks RFC 7888 4's
    second choice (BYE and close) over reading and discarding the unwanted bytes.
    """

    max_line: int = 65536
    max_literal: int = 64 << 20
    max_string_literal: int = 65536
    max_nonsync_literal: int | None = None
    max_command_size: int = 256 << 20
    max_command_literals: int = 1000
    max_depth: int = 64
    max_args: int = 16384
    close_on_oversize_nonsync: bool = False

    def __post_init__(self) -> None:
        if self.max_line < 64:
            raise ValueError("max_line must leave room for a tag and a command (>= 64)")
        for name in ("max_literal", "max_string_literal", "max_command_size", "max_depth",
                     "max_args", "max_command_literals"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
