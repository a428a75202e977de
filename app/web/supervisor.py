"""The supervisor wallboard (``/supervisor``) and how it stays live.

Cost per event does not grow with the number of supervisors watching. A committed event
that changes what the board shows only marks the company *dirty* in this process
(``Publisher.touch``, called from the SSE renderers, no query). One task per company and
process recomputes the snapshot (``app.domain.wallboard``) at most once a second, however
many events arrived meanwhile, plus every ``IDLE_REFRESH`` seconds while someone watches
(waiting times grow without events), and publishes a local ``WallboardChanged`` event. Its
fragments are rendered once per snapshot and language (``app.web.live.CACHE``) and each
stream sends only the panels whose HTML changed since it last sent them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from datetime import UTC, datetime

from litestar import Controller, Request, get
from litestar.response import ServerSentEventMessage, Template

from app.domain import metrics, wallboard
from app.domain.business_hours import SCHEDULES
from app.domain.events import (
    ConversationOpened,
    ConversationRouted,
    Event,
    MessageQueued,
    MessageReceived,
    PresenceChanged,
    ReinjectionAlert,
    UserChanged,
)
from app.domain.phone import AgentPhoneChanged
from app.domain.tables import User
from app.domain.wallboard import Snapshot, WallboardChanged
from app.telephony.live import PbxLiveChanged
from app.web.security import supervisors
from app.web.templating import render_fragment

log = logging.getLogger(__name__)

PANELS = ("queues", "calls", "agents", "statuses", "today", "alerts", "charts")
# Events after which the board may show something else.
TOUCHING = (
    ConversationOpened,
    ConversationRouted,
    MessageQueued,
    MessageReceived,
    PresenceChanged,
    ReinjectionAlert,
    UserChanged,
    AgentPhoneChanged,
    PbxLiveChanged,
)
MIN_INTERVAL = 1.0  # seconds between two snapshots of one company (bursts coalesce)
# The day's aggregates (today's times, the charts) are recomputed only when their last
# computation took at most this share of the time since: a second on a small company, every
# ten seconds or so on a very busy one (see tests/metrics/bench_wallboard.py).
DAY_FIGURES_SHARE = 0.1
REUSE_DAY_FROM = 0.2  # seconds: cheaper day figures are always computed afresh for a page load
IDLE_REFRESH = 15.0  # seconds between snapshots without events (growing waiting times)
WATCH_TIMEOUT = 45.0  # stop computing for a company nobody has rendered a board for since


async def schedules_of(company_id: int) -> tuple:
    """The business hours a snapshot uses, through the dispatcher's cache, which every change
    (here, in another process, in plain SQL) empties at once (``business_hours.SCHEDULES``)."""
    return await metrics.load_schedules(company_id, SCHEDULES.get)


async def make_snapshot(company_id: int, previous: Snapshot | None = None) -> Snapshot:
    return await wallboard.snapshot(company_id, await schedules_of(company_id), previous=previous)


def _context(snap: Snapshot) -> dict:
    return {"s": snap, "now": snap.now}


def render_panels(snap: Snapshot) -> dict[str, str]:
    context = _context(snap)
    return {panel: render_fragment(f"supervisor/_{panel}.html", **context) for panel in PANELS}


class Publisher:
    """Per process: which companies' boards are watched, their latest snapshot, the tasks."""

    def __init__(self) -> None:
        self.hub = None
        self.snapshots: dict[int, tuple[int, Snapshot]] = {}
        self._dirty: dict[int, asyncio.Event] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._watched: dict[int, float] = {}
        self._versions = itertools.count(1)
        self.computed = 0  # snapshots computed (tests and benchmarks read it)
        self.day_costs: dict[int, float] = {}  # seconds the day's figures took, per company

    def attach(self, hub) -> None:
        """Publish through this process's hub (``create_app``); forgets any earlier state."""
        for task in self._tasks.values():
            try:
                task.cancel()
            except RuntimeError:  # its event loop is gone (tests create one app per loop)
                pass
        self.__init__()  # type: ignore[misc]
        self.hub = hub

    def watch(self, company_id: int) -> None:
        """A supervisor's stream is showing this company's board."""
        self._watched[company_id] = time.monotonic()
        self.touch(company_id)

    def touch(self, company_id: int) -> None:
        """Something changed: a new snapshot within ``MIN_INTERVAL`` (cheap, call it freely)."""
        if self.hub is None or company_id not in self._watched:
            return
        self._dirty.setdefault(company_id, asyncio.Event()).set()
        task = self._tasks.get(company_id)
        if task is None or task.done():
            self._tasks[company_id] = asyncio.create_task(self._run(company_id), name=f"wallboard-{company_id}")

    def latest(self, company_id: int) -> tuple[int, Snapshot] | None:
        return self.snapshots.get(company_id)

    def reusable_day(self, company_id: int) -> Snapshot | None:
        """The latest snapshot, when its day figures are both costly and recent enough for a
        page load to reuse them rather than compute them again."""
        latest = self.snapshots.get(company_id)
        if latest is None or self.day_costs.get(company_id, 0.0) < REUSE_DAY_FROM:
            return None
        age = (datetime.now(UTC) - latest[1].now).total_seconds()
        return latest[1] if age < self.day_costs[company_id] / DAY_FIGURES_SHARE + MIN_INTERVAL else None

    async def _run(self, company_id: int) -> None:
        dirty, hub = self._dirty[company_id], self.hub
        day_at, day_cost = 0.0, 0.0
        try:
            while (
                time.monotonic() - self._watched.get(company_id, 0) < WATCH_TIMEOUT
                and self.hub is hub
                and not getattr(hub, "_closing", False)
            ):
                try:
                    await asyncio.wait_for(dirty.wait(), IDLE_REFRESH)
                except TimeoutError:
                    pass
                dirty.clear()
                latest = self.snapshots.get(company_id)
                whole = latest is None or time.monotonic() - day_at >= day_cost / DAY_FIGURES_SHARE
                started = time.monotonic()
                try:
                    snap = await make_snapshot(company_id, None if whole else latest[1])
                except Exception:  # noqa: BLE001 - the next change tries again
                    log.exception("wallboard snapshot of company %s failed", company_id)
                    await asyncio.sleep(MIN_INTERVAL)
                    continue
                if whole:
                    day_at, day_cost = started, time.monotonic() - started
                    self.day_costs[company_id] = day_cost
                self.computed += 1
                version = next(self._versions)
                self.snapshots[company_id] = (version, snap)
                if self.hub is not None:
                    self.hub.publish_local(WallboardChanged(company_id=company_id, version=version))
                await asyncio.sleep(MIN_INTERVAL)
        finally:
            if self.hub is hub:
                self._watched.pop(company_id, None)
                self.snapshots.pop(company_id, None)
                self._tasks.pop(company_id, None)


PUBLISHER = Publisher()


async def render_live(event: Event, viewer: User) -> list[ServerSentEventMessage]:
    """SSE: for supervisors, the board's panels that changed; other events only mark it dirty."""
    if viewer.role not in ("admin", "supervisor"):
        return []
    if not isinstance(event, WallboardChanged):
        if isinstance(event, TOUCHING):
            # Any supervisor's stream counts as watching: the stream does not know which page
            # it serves, and the page and its stream may be served by different processes.
            PUBLISHER.watch(event.company_id)
        return []
    PUBLISHER.watch(event.company_id)  # still watched: keep computing
    latest = PUBLISHER.latest(event.company_id)
    if latest is None or latest[0] != event.version:
        return []  # a newer snapshot follows
    from app.web.live import CACHE  # rendered once per snapshot and language

    async def make() -> str:
        return json.dumps(render_panels(latest[1]))

    panels = json.loads(await CACHE.get((event, "wallboard"), make))
    seen: dict = viewer.__dict__.setdefault("_wallboard_panels", {})
    messages = []
    for panel in PANELS:
        if seen.get(panel) != panels[panel]:
            seen[panel] = panels[panel]
            messages.append(ServerSentEventMessage(event=f"wallboard-{panel}", data=panels[panel]))
    return messages


class SupervisorController(Controller):
    path = "/supervisor"
    guards = [supervisors]

    @get("/")
    async def board(self, request: Request) -> Template:
        company_id = request.user.company_id
        PUBLISHER.watch(company_id)  # the page's stream will get the following snapshots
        # A busy company's day figures are costly: reuse the publisher's, read the live part again.
        snap = await make_snapshot(company_id, PUBLISHER.reusable_day(company_id))
        return Template("supervisor/page.html", context={**_context(snap), "panels": PANELS})

    @get("/panels")
    async def panels(self, request: Request) -> Template:
        """Every panel at once (the page's fallback refresh when its stream reconnects)."""
        snap = await make_snapshot(request.user.company_id)
        return Template("supervisor/_panels.html", context={**_context(snap), "panels": PANELS})
