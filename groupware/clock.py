"""The injectable clock: all timers and "now" go through it.

Code never calls ``time.time()`` or ``reactor.callLater`` directly, so tests can drive
time (Twisted's ``task.Clock`` satisfies :class:`Scheduler`) and long-polls, throttles,
token expiry and retry back-offs are deterministic under test.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any, Protocol


class DelayedCall(Protocol):
    def cancel(self) -> None: ...
    def active(self) -> bool: ...


class Scheduler(Protocol):
    """The part of Twisted's IReactorTime we use (``reactor`` or ``task.Clock``)."""

    def callLater(self, delay: float, f: Callable[..., Any], *a: Any, **kw: Any) -> Any: ...
    def seconds(self) -> float: ...


class Clock:
    """Wall time, monotonic time and timers, backed by a scheduler."""

    def __init__(self, scheduler: Scheduler | None = None) -> None:
        self._scheduler = scheduler

    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""
        if self._scheduler is not None and not _is_real_reactor(self._scheduler):
            return self._scheduler.seconds()
        return time.time()

    def now(self) -> datetime.datetime:
        """Aware UTC datetime of :meth:`time`."""
        return datetime.datetime.fromtimestamp(self.time(), datetime.UTC)

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and timeouts)."""
        if self._scheduler is not None:
            return self._scheduler.seconds() if not _is_real_reactor(self._scheduler) \
                else time.monotonic()
        return time.monotonic()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> DelayedCall:
        """Run ``fn(*args)`` on the reactor after ``delay`` seconds."""
        if self._scheduler is None:
            raise RuntimeError("this clock has no scheduler (CLI context)")
        call: DelayedCall = self._scheduler.callLater(delay, fn, *args)
        return call


def _is_real_reactor(scheduler: Scheduler) -> bool:
    # The real reactor's seconds() is time.time(); a task.Clock starts at 0.
    return hasattr(scheduler, "run")
