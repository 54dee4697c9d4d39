"""Session contexts of MAPI/HTTP (MS-OXCMAPIHTTP 3.1.5.2, 3.2.5.1).

The first request of a session (Bind, or Connect on the mailbox endpoint) creates a
session context; the server names it by an opaque *context cookie* and hands out a
*sequence cookie* that changes with every request, so a replayed or out-of-order
request is recognised (X-ResponseCode 15, Invalid Sequence). A context belongs to the
user that created it and ends after ``idle_timeout`` seconds without requests (the
client is told with ``X-ExpirationInfo``), or when the client ends it (Unbind,
Disconnect).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

CONTEXT_COOKIE = "MapiContext"
SEQUENCE_COOKIE = "MapiSequence"


@dataclass
class MapiSession:
    """One session context."""

    id: str
    endpoint: str
    user_id: str
    sequence: str
    expires: float
    state: dict[str, Any] = field(default_factory=dict)
    """What the request types keep (e.g. the NSPI session of the address book)."""
    on_close: list[Callable[[], None]] = field(default_factory=list)


class SessionTable:
    """All session contexts of the process, by context cookie value."""

    def __init__(self, clock: Callable[[], float], *, idle_timeout: float = 1800.0,
                 max_sessions: int = 20_000) -> None:
        self._clock = clock
        self.idle_timeout = idle_timeout
        self._max = max_sessions
        self._sessions: dict[str, MapiSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, endpoint: str, user_id: str) -> MapiSession:
        self.expire()
        if len(self._sessions) >= self._max:
            oldest = min(self._sessions.values(), key=lambda s: s.expires)
            self.close(oldest.id)
        session = MapiSession(secrets.token_urlsafe(24), endpoint, user_id,
                              secrets.token_urlsafe(12), self._clock() + self.idle_timeout)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, endpoint: str, user_id: str) -> MapiSession | None:
        """The live session of a context cookie for this endpoint and user, else None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires < self._clock():
            self.close(session_id)
            return None
        if session.endpoint != endpoint or session.user_id != user_id:
            return None
        return session

    def touch(self, session: MapiSession, *, rotate: bool) -> None:
        """Extend the session; with ``rotate`` a new sequence cookie value."""
        session.expires = self._clock() + self.idle_timeout
        if rotate:
            session.sequence = secrets.token_urlsafe(12)

    def close(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        for callback in session.on_close:
            try:
                callback()
            except Exception:
                logger.exception("closing MAPI/HTTP session %s failed", session_id)

    def expire(self) -> int:
        now = self._clock()
        stale = [sid for sid, s in self._sessions.items() if s.expires < now]
        for sid in stale:
            self.close(sid)
        return len(stale)


__all__ = ["CONTEXT_COOKIE", "SEQUENCE_COOKIE", "MapiSession", "SessionTable"]
