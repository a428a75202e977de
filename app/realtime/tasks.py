"""Stopping the background tasks a process runs (the hub's listener, a leader's job, the PBX
publisher): cancel, then wait for the task to finish its clean-up."""

from __future__ import annotations

import asyncio


async def stop_task(task: asyncio.Task | None) -> None:
    """Cancel ``task`` and wait for it; whatever it raises on the way out is its own business
    (it has logged what matters), so stopping never fails."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):  # noqa: BLE001
        pass
