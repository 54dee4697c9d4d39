"""The change bus: every change event goes through here to whoever waits for it.

IMAP IDLE, ActiveSync Ping, MAPI NotificationWait and XMPP all wait on channels (for
example ``store:42``) instead of polling the database. The in-process implementation
serves one node; a Redis pub/sub implementation (same interface) lets several nodes
share events.

Callbacks always run on the reactor thread: a publish from the database thread pool is
handed over with ``call_from_thread``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from groupware.clock import Clock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """One change: what happened, where, and the change number it got."""

    kind: str
    """``created``, ``modified``, ``moved``, ``deleted``, ``new_mail``, ``presence`` ..."""
    store: int | None = None
    folder: int | None = None
    ids: tuple[int, ...] = ()
    change_number: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


Callback = Callable[[Event], None]


class Subscription(Protocol):
    def close(self) -> None: ...


class Notifier(Protocol):
    """What every implementation offers."""

    def publish(self, channel: str, event: Event) -> None: ...
    def subscribe(self, channel: str, callback: Callback) -> Subscription: ...
    async def wait(self, channels: Iterable[str], timeout: float) -> Event | None: ...
    def close(self) -> None: ...


def store_channel(store: int) -> str:
    """The channel that carries every change of one mailbox store."""
    return f"store:{store}"


class _Sub:
    def __init__(self, owner: InProcessNotifier, channel: str, callback: Callback) -> None:
        self._owner = owner
        self.channel = channel
        self.callback = callback
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._owner._remove(self)


class InProcessNotifier:
    """Channels and subscribers in a dict; zero cost when nobody listens."""

    def __init__(self, clock: Clock,
                 call_from_thread: Callable[..., None] | None = None) -> None:
        self._clock = clock
        self._subs: dict[str, list[_Sub]] = defaultdict(list)
        self._call_from_thread = call_from_thread
        self._reactor_thread = threading.get_ident()
        self.published = 0

    def bind_reactor_thread(self) -> None:
        """Record the reactor's thread (call once from it at start-up)."""
        self._reactor_thread = threading.get_ident()

    def publish(self, channel: str, event: Event) -> None:
        self.published += 1
        if self._call_from_thread is not None and threading.get_ident() != self._reactor_thread:
            self._call_from_thread(self._dispatch, channel, event)
        else:
            self._dispatch(channel, event)

    def _dispatch(self, channel: str, event: Event) -> None:
        for sub in list(self._subs.get(channel, ())):
            if sub.closed:
                continue
            try:
                sub.callback(event)
            except Exception:
                logger.exception("notifier subscriber on %s failed", channel)

    def subscribe(self, channel: str, callback: Callback) -> Subscription:
        sub = _Sub(self, channel, callback)
        self._subs[channel].append(sub)
        return sub

    def _remove(self, sub: _Sub) -> None:
        subs = self._subs.get(sub.channel)
        if subs is not None:
            subs.remove(sub)
            if not subs:
                del self._subs[sub.channel]

    def subscriber_count(self, channel: str | None = None) -> int:
        if channel is not None:
            return len(self._subs.get(channel, ()))
        return sum(len(v) for v in self._subs.values())

    async def wait(self, channels: Iterable[str], timeout: float) -> Event | None:
        """The first event on any of ``channels``, or None after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Event | None] = loop.create_future()

        def _fire(event: Event | None) -> None:
            if not fut.done():
                fut.set_result(event)

        subs = [self.subscribe(ch, _fire) for ch in channels]
        timer = self._clock.call_later(timeout, _fire, None)
        try:
            return await fut
        finally:
            if timer.active():
                timer.cancel()
            for sub in subs:
                sub.close()

    def close(self) -> None:
        self._subs.clear()
