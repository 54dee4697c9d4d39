"""PidTagRtfCompressed (MS-OXRTFCP) from the body (filled later)."""

from __future__ import annotations

from groupware.convert.model import Message


def body_to_rtf_compressed(msg: Message) -> bytes | None:
    return None
