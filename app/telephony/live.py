"""Publishing the AMI leader's live state, and reading it from any process.

The leader applies AMI events in memory (``app.telephony.state``) and, at most every
``AMI_FLUSH_INTERVAL`` seconds when something changed (and every 2 s regardless, for the
counters), writes each company's snapshot to ``pbx_live`` and emits ``PbxLiveChanged``
(company id + version, a few bytes) in the same transaction. Every process's hub then renders
the console fragments from that one row. Thousands of AMI events per second thus become a
handful of small NOTIFYs, and a page load reads the same row as the stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from app.domain import sql
from app.domain.events import Event, emit
from app.realtime.tasks import stop_task
from app.settings import Settings
from app.telephony.state import LiveState

log = logging.getLogger(__name__)

HEARTBEAT = 2.0  # seconds: the seed's "stats every 2-3 s"


@dataclass(frozen=True)
class PbxLiveChanged(Event):
    """A company's live PBX view (calls, endpoints, queues, counters, status) changed."""

    name: ClassVar[str] = "pbx-live-changed"
    version: int


def account_code(company_id: int) -> str:
    """The accountcode our endpoints carry: Asterisk copies it into channels and CDRs."""
    return f"sb{company_id}"


async def set_status(state: str, detail: str, leader: str) -> None:
    async with sql.transaction():
        await sql.execute(
            """INSERT INTO pbx_status (id, state, detail, leader, updated_at) VALUES (1, $1, $2, $3, now())
               ON CONFLICT (id) DO UPDATE SET state = $1, detail = $2, leader = $3, updated_at = now()""",
            state,
            detail[:1000],
            leader,
        )


async def get_status() -> dict | None:
    row = await sql.fetchrow("SELECT state, detail, leader, updated_at FROM pbx_status WHERE id = 1")
    return dict(row) if row else None


EMPTY = {
    "calls": [],
    "endpoints": {},
    "queues": {},
    "stats": {"active_calls": 0, "registered_extensions": 0, "registered_trunks": 0},
}


async def get_live(company_id: int) -> dict:
    """The company's last published snapshot (empty when nothing was published yet)."""
    row = await sql.fetchrow("SELECT snapshot, version FROM pbx_live WHERE company_id = $1", company_id)
    if row is None:
        return {**EMPTY, "version": 0}
    snap = json.loads(row["snapshot"]) if isinstance(row["snapshot"], str) else row["snapshot"]
    return {**EMPTY, **snap, "version": row["version"]}


class LivePublisher:
    """Turns the in-memory state into per-company rows + events, coalescing bursts."""

    flush_interval = 0.2  # seconds: at most five snapshots a second per company

    def __init__(self, state: LiveState, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.owners: dict[str, tuple[int, str]] = {}
        self.queue_owners: dict[str, int] = {}
        self.accounts: dict[str, int] = {}
        self.companies: list[int] = []
        self._last: dict[int, str] = {}
        self._flushed_changes = -1
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._owners_loaded = 0.0
        self._owners_sig: tuple = ()
        self.status: tuple[str, str, str] | None = None
        self.flushes = 0
        # Called when our PBX objects changed (the AMI listener re-reads the queues from Asterisk).
        self.on_owners_changed: Callable[[], Awaitable[None]] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="pbx-live-publisher")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None

    def touch(self) -> None:
        self._wake.set()

    async def load_owners(self) -> None:
        rows = await sql.fetch("SELECT company_id, kind, name FROM pbx_object")
        self.owners = {r["name"]: (r["company_id"], r["kind"]) for r in rows if r["kind"] != "queue"}
        # Queue names live in their own namespace in Asterisk: kept apart from endpoints.
        self.queue_owners = {r["name"]: r["company_id"] for r in rows if r["kind"] == "queue"}
        self.companies = [r["id"] for r in await sql.fetch("SELECT id FROM company ORDER BY id")]
        self.accounts = {account_code(c): c for c in self.companies}
        regs = await sql.fetch("SELECT id, client_uri, server_uri FROM ps_registrations")
        self.state.registrations = {
            ((r["client_uri"] or "").replace("^3B", ";"), (r["server_uri"] or "").replace("^3B", ";")): r["id"]
            for r in regs
        }
        self._owners_loaded = time.monotonic()

    async def reload_owners_if_changed(self) -> None:
        """Cheap check (one small query) so that new extensions and companies show at once."""
        sig = tuple(
            await sql.fetchrow(
                "SELECT count(*), max(updated_at), max(id), (SELECT max(id) FROM company) FROM pbx_object"
            )
        )
        if sig != self._owners_sig:
            first = not self._owners_sig
            self._owners_sig = sig
            await self.load_owners()
            self.state.changes += 1
            if not first and self.on_owners_changed is not None:
                await self.on_owners_changed()

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), HEARTBEAT)
                force = False
            except TimeoutError:
                force = True
            self._wake.clear()
            try:
                await self.reload_owners_if_changed()
                await self.flush(force=force)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep publishing after a database hiccup
                log.exception("could not publish the live PBX state")
                await asyncio.sleep(1)
            await asyncio.sleep(self.flush_interval)

    def snapshots(self) -> dict[int, str]:
        calls = self.state.calls(self.owners, self.accounts)
        result = {}
        for company in self.companies:
            snap = self.state.snapshot(company, self.owners, self.queue_owners, calls.get(company, []))
            result[company] = json.dumps(snap, separators=(",", ":"), sort_keys=True)
        return result

    async def flush(self, *, force: bool = False) -> int:
        """Write changed snapshots and emit their events; returns how many were written."""
        if not self.companies and not self._owners_loaded:
            await self.load_owners()
        if force and self.status is not None:
            # Re-assert the connection status with the heartbeat (fresh updated_at).
            await set_status(*self.status)
        if not force and self.state.changes == self._flushed_changes:
            return 0
        self._flushed_changes = self.state.changes
        snaps = self.snapshots()
        changed = {c: s for c, s in snaps.items() if force or self._last.get(c) != s}
        if not changed:
            return 0
        async with sql.transaction():
            for company, snap in changed.items():
                version = await sql.fetchval(
                    """INSERT INTO pbx_live (company_id, version, snapshot, updated_at)
                       SELECT $1, 1, $2::jsonb, now() WHERE EXISTS (SELECT 1 FROM company WHERE id = $1)
                       ON CONFLICT (company_id) DO UPDATE
                       SET version = pbx_live.version + 1, snapshot = excluded.snapshot, updated_at = now()
                       RETURNING version""",
                    company,
                    snap,
                )
                if version is not None:
                    await emit(PbxLiveChanged(company_id=company, version=version))
        self._last.update(changed)
        self.flushes += 1
        return len(changed)
