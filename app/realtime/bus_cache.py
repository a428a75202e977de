"""A per-process cache that stays true by following the event bus.

Correct only while the process hears every change: database triggers send an event for each
change of the cached rows (whatever wrote them, plain SQL included), the hub passes it to
``on_bus``, and any gap in the bus (disconnected, reconnected) empties the cache and turns it
off until the bus is back. The process's own writes ``forget`` at once, before their trigger's
NOTIFY arrives. A read that raced a change is not kept (``_generation``).

Subclasses say which keys an event makes stale (``stale_keys``); the webhooks' channels
(``app.domain.channels``) and the schedules of the dispatcher and the wallboard
(``app.domain.business_hours``) use it. Every cache of the app, with its invalidation rule, is
listed in ARCHITECTURE.md ("Caches").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BusCache(Generic[K, V]):
    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: dict[K, V] = {}
        self._generation = 0
        self.live = False  # the bus is connected: changes will be heard
        self.hits = 0

    def stale_keys(self, event: Any) -> Iterable[K] | None:
        """The keys ``event`` makes stale: [] when it concerns none, None when it may concern all."""
        return []

    def on_bus(self, item: object) -> None:
        from app.domain.events import Event

        if isinstance(item, Event):
            keys = self.stale_keys(item)
            if keys is None:
                self.forget_all()
            else:
                keys = list(keys)
                if keys:
                    self.forget(keys)
        else:  # a Resync: events may have been missed
            self.forget_all()
            self.live = getattr(item, "reason", "") == "connected"

    def forget(self, keys: Iterable[K]) -> None:
        self._generation += 1
        for key in keys:
            self._items.pop(key, None)

    def forget_all(self) -> None:
        self._generation += 1
        self._items.clear()

    async def get(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        if self.live and key in self._items:
            self.hits += 1
            return self._items[key]
        generation = self._generation
        value = await load()
        if value is not None and self.live and generation == self._generation:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = value
        return value
