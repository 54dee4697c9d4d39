"""The notifier over Redis pub/sub, for several nodes sharing one database.

Publishing sends the event to Redis; every node (this one included) receives it on a
listener thread and dispatches it to local subscribers on the reactor thread, so the
local behaviour is exactly that of :class:`InProcessNotifier`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from groupware.clock import Clock
from groupware.errors import Unavailable
from groupware.notifier import Event, InProcessNotifier

logger = logging.getLogger(__name__)

PREFIX = "groupware:"


class RedisNotifier(InProcessNotifier):
    """Local subscribers as in-process; publication goes through Redis."""

    def __init__(self, url: str, clock: Clock,
                 call_from_thread: Callable[..., None] | None = None) -> None:
        super().__init__(clock, call_from_thread)
        try:
            import redis
        except ImportError:  # pragma: no cover - the extra is part of `make install`
            raise Unavailable("notifier backend redis needs the 'redis' extra") from None
        self._redis: Any = redis.Redis.from_url(url)
        self._pubsub: Any = self._redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub.psubscribe(PREFIX + "*")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="redis-notifier",
                                        daemon=True)
        self._thread.start()

    def publish(self, channel: str, event: Event) -> None:
        self.published += 1
        payload = json.dumps({
            "kind": event.kind, "store": event.store, "folder": event.folder,
            "ids": list(event.ids), "cn": event.change_number, "data": event.data,
        })
        try:
            self._redis.publish(PREFIX + channel, payload)
        except Exception as exc:
            # Delivery to long-polls is best effort; the change itself is in the database.
            logger.error("redis publish on %s failed: %s", channel, exc)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._pubsub.get_message(timeout=0.5)
            except Exception as exc:
                logger.error("redis notifier connection lost: %s", exc)
                self._stop.wait(1.0)
                continue
            if not message or message.get("type") != "pmessage":
                continue
            channel = message["channel"].decode()[len(PREFIX):]
            data = json.loads(message["data"])
            event = Event(data["kind"], data["store"], data["folder"], tuple(data["ids"]),
                          data["cn"], data["data"])
            if self._call_from_thread is not None:
                self._call_from_thread(self._dispatch, channel, event)
            else:
                self._dispatch(channel, event)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        try:
            self._pubsub.close()
            self._redis.close()
        except Exception as exc:  # closing during shutdown; nothing left to protect
            logger.debug("closing redis: %s", exc)
        super().close()
