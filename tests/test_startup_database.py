"""A process that starts while PostgreSQL is down (restarting, still in recovery) waits for it.

Found by tests/benchmarks/bench_chaos.py: uvicorn restarted a worker while PostgreSQL was
restarting; the worker's start-up failed on its first connection, and uvicorn then stops the
parent and every other worker ("Child process failed to start, stopping the parent process"):
the whole server was gone until someone started it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from urllib.parse import parse_qs, urlsplit, urlunsplit

from app import db
from app.domain import sql
from app.main import create_app
from tests.conftest import free_port


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def _upstream(database_url: str):
    """How to reach the test database: its unix socket (pgserver) or its TCP address."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    port = int((query.get("port") or [parts.port or 5432])[0])
    if "host" in query and query["host"][0].startswith("/"):
        path = f"{query['host'][0]}/.s.PGSQL.{port}"
        return lambda: asyncio.open_unix_connection(path)
    return lambda: asyncio.open_connection(parts.hostname or "127.0.0.1", port)


async def test_start_waits_for_a_database_that_comes_up_later(settings, database_url):
    # The app's database is behind 127.0.0.1:<port>, where nothing answers for the first 1.5 s
    # (connection refused, as while PostgreSQL restarts).
    port = free_port()
    parts = urlsplit(database_url)
    user = parts.username or "postgres"
    late_url = urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}", query=""))
    connect = _upstream(database_url)

    async def forward(reader, writer) -> None:
        up_reader, up_writer = await connect()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def open_later() -> asyncio.base_events.Server:
        await asyncio.sleep(1.5)
        return await asyncio.start_server(forward, "127.0.0.1", port)

    proxy = asyncio.create_task(open_later())
    app = create_app(dataclasses.replace(settings, database_url=late_url), migrate=False, dispatcher=False)
    try:
        async with app.lifespan():
            assert proxy.done()  # it really started before the database was there
            assert await sql.fetchval("SELECT 1") == 1
    finally:
        server = await proxy
        server.close()
        db.configure(database_url)
