"""The in-process notifier: delivery, isolation of failing subscribers, waits, threads."""

from __future__ import annotations

import asyncio
import threading

from twisted.internet.task import Clock as TwistedClock

from groupware.clock import Clock
from groupware.notifier import Event, InProcessNotifier, store_channel


def test_publish_reaches_only_that_channel() -> None:
    n = InProcessNotifier(Clock(TwistedClock()))
    got: list[tuple[str, Event]] = []
    n.subscribe(store_channel(1), lambda e: got.append(("a", e)))
    n.subscribe(store_channel(2), lambda e: got.append(("b", e)))
    ev = Event("new_mail", store=1, folder=5, ids=(7,), change_number=42)
    n.publish(store_channel(1), ev)
    assert got == [("a", ev)]


def test_failing_subscriber_does_not_stop_others(caplog) -> None:  # type: ignore[no-untyped-def]
    n = InProcessNotifier(Clock(TwistedClock()))
    got: list[Event] = []

    def bad(_e: Event) -> None:
        raise RuntimeError("subscriber bug")

    n.subscribe("c", bad)
    n.subscribe("c", got.append)
    n.publish("c", Event("modified"))
    assert len(got) == 1
    assert "notifier subscriber on c failed" in caplog.text


def test_close_unsubscribes() -> None:
    n = InProcessNotifier(Clock(TwistedClock()))
    got: list[Event] = []
    sub = n.subscribe("c", got.append)
    assert n.subscriber_count("c") == 1
    sub.close()
    sub.close()
    n.publish("c", Event("modified"))
    assert got == [] and n.subscriber_count() == 0


def test_wait_returns_event_or_times_out() -> None:
    fake = TwistedClock()
    n = InProcessNotifier(Clock(fake))

    async def scenario() -> tuple[Event | None, Event | None]:
        waiting = asyncio.ensure_future(n.wait(["x", "y"], timeout=30))
        await asyncio.sleep(0)
        n.publish("y", Event("new_mail", store=3))
        first = await waiting
        timing_out = asyncio.ensure_future(n.wait(["x"], timeout=30))
        await asyncio.sleep(0)
        fake.advance(29)
        assert not timing_out.done()
        fake.advance(1)
        second = await timing_out
        return first, second

    first, second = asyncio.run(scenario())
    assert first is not None and first.store == 3
    assert second is None
    assert n.subscriber_count() == 0  # waits clean up after themselves


def test_publish_from_worker_thread_is_handed_to_reactor_thread() -> None:
    handed: list[tuple[object, ...]] = []
    n = InProcessNotifier(Clock(TwistedClock()),
                          call_from_thread=lambda f, *a: handed.append((f, *a)))
    got: list[Event] = []
    n.subscribe("c", got.append)
    t = threading.Thread(target=n.publish, args=("c", Event("created")))
    t.start()
    t.join()
    assert got == [] and len(handed) == 1  # not run on the worker thread
    fn, *args = handed[0]
    fn(*args)  # type: ignore[operator]
    assert [e.kind for e in got] == ["created"]


def test_redis_notifier_crosses_nodes() -> None:
    """Two notifiers on the machine's real Redis: an event published on one reaches both."""
    import time

    from groupware.notifier_redis import RedisNotifier

    clock = Clock(TwistedClock())
    a = RedisNotifier("redis://127.0.0.1:6379/0", clock)
    b = RedisNotifier("redis://127.0.0.1:6379/0", clock)
    try:
        got_a: list[Event] = []
        got_b: list[Event] = []
        channel = f"store:{time.monotonic_ns()}"
        a.subscribe(channel, got_a.append)
        b.subscribe(channel, got_b.append)
        time.sleep(0.2)  # let both pattern subscriptions register
        a.publish(channel, Event("new_mail", store=9, folder=1, ids=(2, 3), change_number=7))
        deadline = time.monotonic() + 5
        while (not got_a or not got_b) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got_a == got_b == [Event("new_mail", 9, 1, (2, 3), 7, {})]
    finally:
        a.close()
        b.close()
