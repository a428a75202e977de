"""Group commit: concurrent writes of one kind share one transaction and one commit.

Why: every stored message NOTIFYs, and PostgreSQL serialises the commits of NOTIFYing
transactions: ``PreCommit_Notify`` takes a database-wide lock and holds it until the commit
record is flushed, so that queue entries appear in commit order. With one transaction per
webhook, commits cannot share a WAL flush and backends queue on that lock ("SELECT waiting");
measured on the 2-core machine, the ingest statement alone (no HTTP) ran 1,900-2,000 a second
at 0.52 ms of PostgreSQL CPU each, and 3,700 a second at 0.24 ms when concurrent ones shared
a transaction (about 13 per commit). Their NOTIFYs are still delivered at that commit. A
status webhook (lock, then one statement) went from 0.29-0.36 to 0.18-0.19 ms.

A call is one or more statements (``(query, args)`` steps, e.g. a lock then the write) whose
last one's first value is the caller's result. How: a caller queues its call. If no batch is being written, it writes one itself at once
(its own call and whatever waits, at most ``max_batch``): the statements one after another in
one transaction, each caller handed its own result only after the commit. Calls that arrive
meanwhile wait; a writer task then takes them as the next batch, and so on until none waits.
Under light load a batch is one call, run by its caller (a one-statement call in its own
implicit transaction: one round trip), exactly as without this class; batches grow only when calls arrive while a commit is under
way, so no call waits for a timer.

Safety:
- *Nothing reported before commit*: results are handed out after ``COMMIT`` returns.
- *One bad item does not sink the others*: if the batch fails (any error, a deadlock
  included), its transaction is rolled back and every item runs again alone, each caller
  getting its own result or error. Calls must therefore be idempotent (ingest: its unique key
  makes a second run a duplicate; a status never moves backwards).
- *No deadlocks between batches*: a batch runs in the order of each call's ``order`` key (a
  stable sort, so calls with equal keys keep their arrival order). Callers pass the key of the
  rows the call locks (ingest: company, phone, channel; a status: channel, provider id), so two
  batches in two processes take their locks in the same order. One instance per kind of call.
- Inside a caller's transaction, or without a pool (CLI), the call runs at once on the
  caller's connection: it must belong to that transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass, field
from typing import Any

from app.domain import sql
from app.engine import DB

log = logging.getLogger(__name__)


# One statement of a call: the query and its arguments.
Step = tuple[str, tuple]


@dataclass
class _Call:
    order: tuple
    steps: tuple[Step, ...]
    future: asyncio.Future = field(repr=False)


class GroupCommit:
    """Group commit of one kind of write (one instance per kind: a batch is sorted by one kind
    of lock key)."""

    def __init__(self, *, max_batch: int = 100) -> None:
        self.max_batch = max_batch
        self._waiting: list[_Call] = []
        self._busy = False  # a caller or the writer task is running a batch
        self._loop: asyncio.AbstractEventLoop | None = None
        # Figures for benchmarks and tests: batches run, calls they carried, batches rerun one by one.
        self.batches = 0
        self.calls = 0
        self.fallbacks = 0

    async def run(self, order: tuple, *steps: Step) -> Any:
        """Run the statements (``(query, args)`` each, in that order, in one transaction with
        the batch's others) and return the last one's first value, once committed."""
        if DB.current_transaction.get() is not None or DB.pool is None:
            async with sql.transaction():
                return [await sql.fetchval(query, *args) for query, args in steps][-1]
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): nothing of the old one carries over
            self._loop, self._waiting, self._busy = loop, [], False
        future = loop.create_future()
        self._waiting.append(_Call(order, steps, future))
        if not self._busy:
            # Nobody is writing: this caller writes the batch (its own call and any waiting) in
            # its own task, without a hop through the event loop's queue; calls that arrive
            # meanwhile are written by a writer task afterwards.
            await self._lead()
        return await future

    async def _lead(self) -> None:
        self._busy = True
        batch = self._take()
        try:
            await self._write(batch)
        except asyncio.CancelledError:
            # This caller went away in the middle: the batch was rolled back (or committed, and
            # running it again stores nothing twice); a writer task writes it for the others.
            self._waiting[:0] = [call for call in batch if not call.future.done()]
            raise
        finally:
            self._busy = False
            if self._waiting:
                self._start_writer()

    def _start_writer(self) -> None:
        self._busy = True
        # An empty context: the writer serves every caller, it must not carry one's transaction
        # or request id.
        asyncio.get_running_loop().create_task(self._writer(), context=contextvars.Context())

    async def _writer(self) -> None:
        try:
            while self._waiting:
                batch = self._take()
                try:
                    await self._write(batch)
                except asyncio.CancelledError:
                    for call in batch + self._waiting:
                        if not call.future.done():
                            call.future.set_exception(RuntimeError("the database writer stopped"))
                    raise
        finally:
            self._busy = False

    def _take(self) -> list[_Call]:
        batch = self._waiting[: self.max_batch]
        del self._waiting[: self.max_batch]
        batch.sort(key=lambda call: call.order)
        self.batches += 1
        self.calls += len(batch)
        return batch

    async def _write(self, batch: list[_Call]) -> None:
        """Run a batch and hand each caller its result, after the commit; if the batch fails,
        run each call alone."""
        try:
            results = await self._run(batch)
        except Exception as exc:  # noqa: BLE001 - every item is retried alone just below
            if len(batch) > 1:
                self.fallbacks += 1
                log.warning("a batch of %d writes failed (%r); running each alone", len(batch), exc)
                await self._one_by_one(batch)
            elif not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        for call, result in zip(batch, results):
            if not call.future.done():
                call.future.set_result(result)

    async def _run(self, batch: list[_Call]) -> list[Any]:
        assert DB.pool is not None
        async with DB.pool.acquire() as conn:
            if len(batch) == 1 and len(batch[0].steps) == 1:  # its own implicit transaction: one round trip
                query, args = batch[0].steps[0]
                return [await conn.fetchval(query, *args)]
            results = []
            async with conn.transaction():
                for call in batch:
                    for query, args in call.steps:
                        result = await conn.fetchval(query, *args)
                    results.append(result)
            return results

    async def _one_by_one(self, batch: list[_Call]) -> None:
        for call in batch:
            try:
                result = await self._run([call])
            except Exception as exc:  # noqa: BLE001 - handed to that caller
                if not call.future.done():
                    call.future.set_exception(exc)
            else:
                if not call.future.done():
                    call.future.set_result(result[0])
