"""Plain SQL through the Piccolo engine's pool and transactions.

Piccolo's query builder serves simple reads and writes; statements it cannot express
(``ON CONFLICT``, ``FOR UPDATE SKIP LOCKED`` with joins, ``pg_notify``) go through these
helpers with asyncpg's ``$1`` placeholders. Inside ``transaction()`` (or Piccolo's own
``DB.transaction()``) they use that transaction's connection.

Reads of functions marked ``@on_replica`` (metrics, the wallboard's day totals, the CDR search
and export) go to the read replica (``DATABASE_READ_URL``, a streaming standby) when one is
configured and reachable, and to the primary otherwise: a replica that fails is left alone
for ``Replica.retry_seconds`` and the read is answered by the primary. Writes (``execute``) and
reads inside a transaction always use the primary.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.engine import DB

log = logging.getLogger(__name__)
T = TypeVar("T")
# Failures that mean "the replica is not there", as opposed to a bad query.
_UNREACHABLE = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    TimeoutError,
)
UNREACHABLE = _UNREACHABLE  # the database is not there (down, restarting, recovering): app.db waits for it


class Replica:
    """The read replica's pool, opened on first use and set aside for a while when it fails."""

    def __init__(self) -> None:
        self.dsn = ""
        self.pool: asyncpg.Pool | None = None
        self.down_until = 0.0
        self.retry_seconds = 30.0
        self.reads = 0  # reads the replica answered (tests, benchmarks)

    def usable(self) -> bool:
        return bool(self.dsn) and time.monotonic() >= self.down_until

    async def get_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=5, timeout=3)
        return self.pool

    def failed(self, exc: BaseException) -> None:
        log.warning("read replica unreachable (%r): reading from the primary for %.0f s", exc, self.retry_seconds)
        self.down_until = time.monotonic() + self.retry_seconds
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.terminate()

    async def close(self) -> None:
        self.dsn, self.down_until = "", 0.0
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()


READ = Replica()
_on_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("on_replica", default=False)


def on_replica(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Mark a function whose reads may be served by the read replica (slightly behind the
    primary: for figures and history, never for what a write depends on)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        token = _on_replica.set(True)
        try:
            return await fn(*args, **kwargs)
        finally:
            _on_replica.reset(token)

    return wrapper


async def _read(method: str, query: str, args: tuple) -> Any:
    if _on_replica.get() and DB.current_transaction.get() is None and READ.usable():
        try:
            async with (await READ.get_pool()).acquire() as conn:
                result = await getattr(conn, method)(query, *args)
            READ.reads += 1
            return result
        except _UNREACHABLE as exc:
            READ.failed(exc)
    async with _connection() as conn:
        return await getattr(conn, method)(query, *args)


@asynccontextmanager
async def _connection() -> AsyncIterator[asyncpg.Connection | PoolConnectionProxy]:
    tx = DB.current_transaction.get()
    if tx is not None:
        yield tx.connection
    elif DB.pool is not None:
        async with DB.pool.acquire() as conn:
            yield conn
    else:  # CLI commands that run before a pool exists
        new = await DB.get_new_connection()
        try:
            yield new
        finally:
            await new.close()


async def fetch(query: str, *args: Any) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await _read("fetch", query, args)
    return rows


async def fetchrow(query: str, *args: Any) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await _read("fetchrow", query, args)
    return row


async def fetchone(query: str, *args: Any) -> asyncpg.Record:
    """The row of a statement that always returns exactly one (``INSERT … RETURNING``, an
    aggregate without ``GROUP BY``, a ``SELECT`` of scalar subqueries)."""
    row = await fetchrow(query, *args)
    if row is None:
        raise LookupError("the statement returned no row")
    return row


async def fetchval(query: str, *args: Any) -> Any:
    return await _read("fetchval", query, args)


async def execute(query: str, *args: Any) -> str:
    async with _connection() as conn:
        return await conn.execute(query, *args)


def transaction() -> Any:
    """One transaction (nested calls join the outer one): ``async with sql.transaction():``."""
    return DB.transaction()


def like(text: str) -> str:
    """A ``LIKE``/``ILIKE`` pattern matching ``text`` anywhere, its own ``%``, ``_`` and ``\\``
    taken literally (PostgreSQL's default escape character is the backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def page_count(total: int, per_page: int) -> int:
    """Pages needed for ``total`` rows, at least one (an empty list still has its page)."""
    return max(1, -(-total // per_page))
