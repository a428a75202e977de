"""The bus, receiving side: one LISTEN connection per process, fanned out to subscribers.

``app.domain.events.emit`` sends with NOTIFY; here each process keeps one dedicated
connection (never a pooled one: the pool runs ``UNLISTEN *`` on release), health-checks it,
reconnects with backoff, and after any gap tells every subscriber to resync, since
notifications sent while disconnected are lost. Each subscriber has a bounded queue: a
client too slow to keep up is told to resync rather than holding memory for it.

The hub also remembers the last ``RECENT_SECONDS`` of events with the wall-clock time each
arrived, so that a page's stream can start where the page's request started: events committed
between the page's reads and the moment its stream opens (a page load, a POST-redirect-GET)
are replayed instead of lost (``subscribe(since=…)``). Replayed events may already show on
the page; every live swap is idempotent (static/js/app.js).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from app.domain.events import CHANNEL, Event, decode
from app.realtime.tasks import stop_task

log = logging.getLogger(__name__)
# Events remembered for streams that start late (see the module's docstring): how long, and at
# most how many (a busy process receives about a thousand a second at most).
RECENT_SECONDS = 60.0
RECENT_MAX = 20_000
# Clock difference tolerated between the process that served the page and the one serving its
# stream (another machine): events this much older than the page's start are replayed too.
SKEW_SECONDS = 0.5


@dataclass(frozen=True)
class Resync:
    """Events may have been missed: the subscriber should reload what it shows."""

    reason: str


class Closed:
    """The hub is shutting down: the subscriber should end."""


CLOSED = Closed()


@dataclass(eq=False)
class Subscription:
    # None: every company's events (the dispatcher); otherwise one company's.
    company_id: int | None
    accepts: Callable[[Event], bool] = lambda e: True
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=256))

    def offer(self, item: object) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Too slow: drop what is queued and ask for a full resync instead.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(Resync("overflow"))

    async def get(self) -> Event | Resync | Closed:
        return await self.queue.get()

    def drain(self, limit: int) -> list:
        """Up to ``limit`` items already waiting, without waiting for more."""
        items = []
        while len(items) < limit and not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items


class Hub:
    """Per-process fan-out of committed domain events."""

    def __init__(self, dsn: str, *, health_interval: float = 5.0) -> None:
        self.dsn = dsn
        self.health_interval = health_interval
        self.subscriptions: set[Subscription] = set()
        self.connected = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self.delivered = 0
        # (arrival time.time(), event), oldest first; and since when it is complete (None: not
        # listening; reset at every (re)connection, since events sent meanwhile were lost).
        self.recent: deque[tuple[float, Event]] = deque(maxlen=RECENT_MAX)
        self.complete_since: float | None = None
        # Called at once, in order, with every event and with Resync after any gap (caches).
        self.watchers: list[Callable[[Event | Resync], None]] = []

    async def start(self, timeout: float = 10.0) -> None:
        self._task = asyncio.create_task(self._run(), name="hub-listener")
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            log.error("event bus did not connect within %.0fs; retrying in the background", timeout)

    async def close(self) -> None:
        """End every stream and stop listening."""
        self._closing = True
        self.end_streams()
        await stop_task(self._task)
        await self._drop_connection()

    def end_streams(self) -> None:
        for sub in list(self.subscriptions):
            sub.offer(CLOSED)

    def subscribe(
        self,
        company_id: int | None,
        accepts: Callable[[Event], bool] | None = None,
        backlog: int = 256,
        since: float | None = None,
    ) -> Subscription:
        """``backlog``: events kept for a subscriber that falls behind before it is told to
        resync instead (a browser tab reloads cheaply; the dispatcher keeps a long one).
        ``since`` (a ``time.time()``): the subscriber first gets the events that arrived since
        then, or Resync if the hub cannot vouch for all of them (it was not listening the
        whole time, or they are older than it remembers)."""
        sub = Subscription(company_id=company_id, accepts=accepts or (lambda e: True), queue=asyncio.Queue(backlog))
        if self._closing:
            sub.offer(CLOSED)
        elif since is not None:
            replay = self.since(since)
            if replay is None:
                sub.offer(Resync("gap"))
            else:
                for event in replay:
                    if sub.company_id in (None, event.company_id) and sub.accepts(event):
                        sub.offer(event)
        self.subscriptions.add(sub)
        return sub

    def since(self, started: float) -> list[Event] | None:
        """The events that arrived from ``started`` on (and SKEW_SECONDS before), oldest first,
        or None when some of them may be missing."""
        if self.complete_since is None or started < self.complete_since:
            return None  # not listening all that time
        if started < time.time() - RECENT_SECONDS:
            return None  # forgotten
        if len(self.recent) == self.recent.maxlen and self.recent[0][0] > started:
            return None  # the oldest were pushed out
        start = started - SKEW_SECONDS
        newest_first = []
        for at, event in reversed(self.recent):  # a page's few events: stop at the first older one
            if at < start:
                break
            newest_first.append(event)
        return newest_first[::-1]

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscriptions.discard(sub)

    def add_watcher(self, watcher: Callable[[Event | Resync], None]) -> None:
        """``watcher`` sees every event of every company, and a Resync whenever events may have
        been missed (connection lost or re-made). It must be quick and must not raise."""
        self.watchers.append(watcher)

    def _tell_watchers(self, item: Event | Resync) -> None:
        for watcher in self.watchers:
            try:
                watcher(item)
            except Exception:  # noqa: BLE001 - a broken watcher must not stop the bus
                log.exception("event watcher failed")

    def publish_local(self, event: Event) -> None:
        now = time.time()
        self.recent.append((now, event))
        while self.recent[0][0] < now - RECENT_SECONDS:
            self.recent.popleft()
        self._tell_watchers(event)
        for sub in list(self.subscriptions):
            if sub.company_id in (None, event.company_id) and sub.accepts(event):
                sub.offer(event)
                self.delivered += 1

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        event = decode(payload)
        if event is None:
            log.warning("ignored an event this version does not know: %.200s", payload)
            return
        self.publish_local(event)

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self.connected.clear()
        self.complete_since = None
        self._tell_watchers(Resync("disconnected"))
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2)
            except Exception:  # noqa: BLE001
                conn.terminate()

    async def _run(self) -> None:
        backoff = 0.2
        first = True
        while not self._closing:
            try:
                self._conn = await asyncpg.connect(self.dsn)
                await self._conn.add_listener(CHANNEL, self._on_notify)
                self.complete_since = time.time()
                self.connected.set()
                backoff = 0.2
                self._tell_watchers(Resync("connected"))
                if not first:
                    log.warning("event bus reconnected; subscribers told to resync")
                    for sub in list(self.subscriptions):
                        sub.offer(Resync("reconnected"))
                first = False
                while not self._closing:
                    await asyncio.sleep(self.health_interval)
                    await asyncio.wait_for(self._conn.fetchval("SELECT 1"), self.health_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means reconnect
                if self._closing:
                    break
                log.warning("event bus connection lost (%s); reconnecting in %.1fs", exc, backoff)
                await self._drop_connection()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                first = False
