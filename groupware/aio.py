"""Bridges between Twisted Deferreds and asyncio coroutines.

The asyncio reactor runs both on one loop. Our code is ``async def`` and runs as asyncio
tasks (so it can await the database's executor futures); Twisted APIs hand back
Deferreds, which such a task awaits through :func:`wait`. Twisted callers of our
coroutines get a Deferred from :func:`as_deferred`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from twisted.internet.defer import Deferred

T = TypeVar("T")


def as_deferred(coro: Coroutine[Any, Any, T]) -> Deferred[T]:
    """Run ``coro`` as an asyncio task and return a Deferred of its result."""
    return Deferred.fromFuture(asyncio.ensure_future(coro))


async def wait(d: Deferred[T]) -> T:
    """Await a Deferred from inside an asyncio task."""
    return await d.asFuture(asyncio.get_running_loop())


async def sleep(seconds: float) -> None:
    """``asyncio.sleep`` (the reactor's loop), named for symmetry with the clock."""
    await asyncio.sleep(seconds)
