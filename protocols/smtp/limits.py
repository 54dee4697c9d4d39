"""Limits shared by the mail protocols: command rate, connections per address and user.

Counts are per process and per protocol family (``smtp``, ``submission``, ``lmtp``,
``pop3``): the two submission listeners (587 and 465) share theirs. Several nodes each
count their own connections; the limits protect one process from one client.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per command."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._now = now
        self._tokens = float(burst)
        self._stamp = now()

    def take(self) -> bool:
        t = self._now()
        self._tokens = min(self.burst, self._tokens + (t - self._stamp) * self.rate)
        self._stamp = t
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class ConnectionLimiter:
    """Open connections per client address and logged-in sessions per user."""

    def __init__(self, per_address: int, per_user: int) -> None:
        self.per_address = per_address
        self.per_user = per_user
        self._addresses: Counter[str] = Counter()
        self._users: Counter[str] = Counter()

    def open_address(self, address: str) -> bool:
        """Count a new connection; False (and nothing counted) when over the limit."""
        if self._addresses[address] >= self.per_address:
            return False
        self._addresses[address] += 1
        return True

    def close_address(self, address: str) -> None:
        self._addresses[address] -= 1
        if self._addresses[address] <= 0:
            del self._addresses[address]

    def open_user(self, user: str) -> bool:
        if self._users[user] >= self.per_user:
            return False
        self._users[user] += 1
        return True

    def close_user(self, user: str) -> None:
        self._users[user] -= 1
        if self._users[user] <= 0:
            del self._users[user]

    def address_count(self, address: str) -> int:
        return self._addresses[address]

    def user_count(self, user: str) -> int:
        return self._users[user]


_limiters: weakref.WeakKeyDictionary[Any, dict[str, ConnectionLimiter]] = (
    weakref.WeakKeyDictionary())


def shared_limiter(owner: Any, family: str, per_address: int,
                   per_user: int) -> ConnectionLimiter:
    """The one limiter of ``family`` for ``owner`` (the server), made on first use."""
    table = _limiters.setdefault(owner, {})
    limiter = table.get(family)
    if limiter is None:
        limiter = table[family] = ConnectionLimiter(per_address, per_user)
    return limiter
