"""Results shared by the streams that ask for them at once (one query or rendering for a
thousand streams), least recently used dropped, entries older than ``ttl`` made again.

The first caller makes the value *inline*: a value that needs no I/O (a fragment rendered
from prefetched rows) costs no trip through the event loop. Handing ``make`` to a task of its
own, as this did before, queued every rendering behind every other ready task: under a burst
of webhooks that was most of the time from an event's arrival to its write on the stream.
Callers arriving while it is being made wait for that same result.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any


class _MakerGone(Exception):
    """The caller making a shared value was cancelled (its stream closed): waiters make it."""


class SharedResults:
    def __init__(self, size: int = 256, ttl: float = 60.0) -> None:
        self.size, self.ttl = size, ttl
        self._items: OrderedDict = OrderedDict()

    async def get(self, key: Any, make: Callable[[], Awaitable[Any]]) -> Any:
        while True:
            entry = self._items.get(key)
            if entry is not None and time.monotonic() - entry[0] <= self.ttl:
                self._items.move_to_end(key)
                future = entry[1]
                if not future.done():
                    try:
                        return await asyncio.shield(future)
                    except _MakerGone:
                        continue  # make it ourselves
                if not future.cancelled() and future.exception() is None:
                    return future.result()  # the common case: a thousand streams, one answer
            return await self._make(key, make)

    async def _make(self, key: Any, make: Callable[[], Awaitable[Any]]) -> Any:
        future = asyncio.get_running_loop().create_future()
        entry = (time.monotonic(), future)
        self._items[key] = entry
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        try:
            value = await make()
        except BaseException as exc:
            if self._items.get(key) is entry:
                del self._items[key]  # not kept: the next caller tries again
            future.set_exception(_MakerGone() if isinstance(exc, asyncio.CancelledError) else exc)
            future.exception()  # waiters get it; nobody else need be told it went unread
            raise
        future.set_result(value)
        return value

    def forget(self, key: Any) -> None:
        self._items.pop(key, None)

    def fresh(self, key: Any) -> bool:
        """Whether ``key`` has a value (or one on its way) young enough to be served."""
        entry = self._items.get(key)
        return entry is not None and time.monotonic() - entry[0] <= self.ttl

    def put(self, key: Any, value: Any) -> None:
        """Store a value fetched elsewhere (a batch), as if ``get`` had made it."""
        future = asyncio.get_running_loop().create_future()
        future.set_result(value)
        self._items[key] = (time.monotonic(), future)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
