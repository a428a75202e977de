"""The sweeper: time-based jobs, run every few seconds by one leader process.

Event-driven work (assigning a conversation when it arrives) happens at once in the action
that caused it; the sweeper catches what only the passing of time causes: agents whose
heartbeats stopped.
"""

from __future__ import annotations

import asyncio
import logging

from app.domain.presence import expire_stale_presence
from app.settings import Settings

log = logging.getLogger(__name__)


async def sweep_once(settings: Settings) -> None:
    expired = await expire_stale_presence(settings.presence_grace)
    if expired:
        log.info("set %d silent agent(s) offline", len(expired))


async def run_sweeps(settings: Settings) -> None:
    while True:
        try:
            await sweep_once(settings)
        except Exception:  # noqa: BLE001 - one failed sweep must not stop the next
            log.exception("sweep failed")
        await asyncio.sleep(settings.sweep_interval)
