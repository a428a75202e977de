"""Plain SQL through the Piccolo engine's pool and transactions.

Piccolo's query builder serves simple reads and writes; statements it cannot express
(``ON CONFLICT``, ``FOR UPDATE SKIP LOCKED`` with joins, ``pg_notify``) go through these
helpers with asyncpg's ``$1`` placeholders. Inside ``transaction()`` (or Piccolo's own
``DB.transaction()``) they use that transaction's connection.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.engine import DB


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
    async with _connection() as conn:
        return await conn.fetch(query, *args)


async def fetchrow(query: str, *args: Any) -> asyncpg.Record | None:
    async with _connection() as conn:
        return await conn.fetchrow(query, *args)


async def fetchone(query: str, *args: Any) -> asyncpg.Record:
    """The row of a statement that always returns exactly one (``INSERT … RETURNING``, an
    aggregate without ``GROUP BY``, a ``SELECT`` of scalar subqueries)."""
    row = await fetchrow(query, *args)
    if row is None:
        raise LookupError("the statement returned no row")
    return row


async def fetchval(query: str, *args: Any) -> Any:
    async with _connection() as conn:
        return await conn.fetchval(query, *args)


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
