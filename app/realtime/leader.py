"""Leader election: run a singleton job in exactly one process, using an advisory lock.

Each process runs a :class:`Leadership` per job; the one whose dedicated connection holds
``pg_try_advisory_lock(key)`` runs the job, the others retry every few seconds. If the
leader's connection dies, PostgreSQL releases the lock and another process takes over; the
old leader cancels its job as soon as its health check fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from app.realtime.tasks import stop_task

log = logging.getLogger(__name__)

# Advisory lock keys of the singleton jobs (one place, so two jobs never share a key).
SWEEPER = 7_201_101


class Leadership:
    def __init__(
        self,
        dsn: str,
        key: int,
        name: str,
        job: Callable[[], Awaitable[None]],
        *,
        retry_seconds: float = 5.0,
        health_seconds: float = 5.0,
    ) -> None:
        self.dsn, self.key, self.name, self.job = dsn, key, name, job
        self.retry_seconds, self.health_seconds = retry_seconds, health_seconds
        self.is_leader = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"leader-{self.name}")

    async def close(self) -> None:
        await stop_task(self._task)

    async def _run(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self.dsn)
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                    await asyncio.sleep(self.retry_seconds)
                self.is_leader = True
                log.info("this process now runs %s", self.name)
                job = asyncio.create_task(self.job(), name=self.name)
                try:
                    while not job.done():
                        await asyncio.wait({job}, timeout=self.health_seconds)
                        if not job.done():
                            await asyncio.wait_for(conn.fetchval("SELECT 1"), self.health_seconds)
                    job.result()  # a job that ends by itself is restarted after a pause
                finally:
                    job.cancel()
                    await asyncio.gather(job, return_exceptions=True)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - lost connection or failed job: try again
                log.exception("%s stopped; retrying", self.name)
            finally:
                self.is_leader = False
                if conn is not None:
                    conn.terminate()  # releases the advisory lock at once
            await asyncio.sleep(self.retry_seconds)
