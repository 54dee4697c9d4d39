"""SMTP replies (RFC 5321 4.2) with RFC 3463 enhanced status codes (RFC 2034)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    """One (possibly multi-line) reply. ``status`` is the enhanced code, e.g. ``2.1.0``."""

    code: int
    status: str | None
    text: str | tuple[str, ...]
    close: bool = False
    """Close the connection after sending (421, QUIT)."""

    @property
    def lines(self) -> tuple[str, ...]:
        return self.text if isinstance(self.text, tuple) else (self.text,)

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500

    def encode(self, enhanced: bool = True) -> bytes:
        lines = self.lines or ("",)
        prefix = f"{self.status} " if enhanced and self.status else ""
        out = []
        for i, line in enumerate(lines):
            sep = "-" if i < len(lines) - 1 else " "
            # A reply line never contains CR or LF (text comes from errors, addresses).
            clean = line.replace("\r", " ").replace("\n", " ")
            out.append(f"{self.code}{sep}{prefix}{clean}\r\n")
        return "".join(out).encode("utf-8", errors="replace")

    def __str__(self) -> str:
        return f"{self.code} {self.status or ''} {' / '.join(self.lines)}".replace("  ", " ")


OK = Reply(250, "2.0.0", "OK")
