"""Test fixtures: one real PostgreSQL per session, a clean database per test, the ASGI app.

The database is the server named by ``TEST_DATABASE_URL`` (or ``DATABASE_URL``) if set,
else an embedded PostgreSQL (pgserver) in a temporary folder. Each session creates its own
database in it, migrates it once, and empties every table before each test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from litestar import Litestar

from app import db, netpolicy
from app.main import create_app
from app.settings import ROOT, Settings

TEST_SECRET = "test-secret-key-for-switchboard-tests"


def run_sync(coro):
    """Run a coroutine to completion from synchronous code, even where a loop is running
    in this thread (Playwright's sync API keeps one): it gets a thread of its own."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    server = None
    if not base:
        import pgserver

        # Not under pytest's basetemp: that tree is private to root (mode 700), and another
        # pytest run on the machine may tidy it away; the server runs as user "pgserver".
        server = pgserver.get_server(tempfile.mkdtemp(prefix="switchboard-test-pg-"), cleanup_mode="delete")
        base = server.get_uri()
    name = f"switchboard_test_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(base)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(base)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()

    asyncio.run(create())
    url = _with_database(base, name)
    asyncio.run(db.migrate(url))
    yield url
    asyncio.run(drop())
    if server is not None:
        server.cleanup()


# The server's WAL position just after the last emptying, per database. While it has not
# moved, nothing was written since (a write to a logged table, and the commit of a transaction
# that wrote to an unlogged one, both move it): the tables are still empty, and a test that
# wrote nothing (a pure function, a read, a refused request) costs the next one no TRUNCATE.
_emptied_at: dict[str, str] = {}


async def _position(conn: asyncpg.Connection) -> str | None:
    """The WAL position, or None while an unlogged table holds rows. Read after the catalog
    query, whose first run after a TRUNCATE prunes catalog pages (and writes WAL for it)."""
    unlogged = await conn.fetch(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relpersistence = 'u'"""
    )
    checks = " AND ".join(f'NOT EXISTS (SELECT 1 FROM "{t["relname"]}")' for t in unlogged) or "true"
    row = await conn.fetchrow(f"SELECT pg_current_wal_insert_lsn()::text AS at, {checks} AS unlogged_empty")
    return row["at"] if row["unlogged_empty"] else None


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        if url in _emptied_at and await _position(conn) == _emptied_at[url]:
            return  # nothing written since the last emptying
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'"
        )
        if not tables:
            return
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        for attempt in range(10):
            # Live server processes (browser tests) may hold row locks in a sweep: TRUNCATE
            # can then lose a deadlock or wait; both pass in a moment, so try again.
            try:
                await conn.execute("SET lock_timeout = '2s'")
                # Ids keep counting across tests, as in production where an id is never reused:
                # the live servers' hubs replay recent events (app.realtime.hub), and an event
                # of an earlier test must not look like one of this test's rows.
                await conn.execute(f"TRUNCATE {names} CASCADE")
                at = await _position(conn)
                if at is not None:
                    _emptied_at[url] = at
                else:
                    _emptied_at.pop(url, None)
                return
            except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError):
                await asyncio.sleep(0.1 * (attempt + 1))
        raise RuntimeError("could not empty the test database")
    finally:
        await conn.close()


LIVE_FIXTURES = {"live_server", "second_live_server", "new_page", "browser"}


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Run the tests that need real server processes last.

    Those processes run the dispatcher and the sweeper (leader election picks one of them),
    which would otherwise act on the data of in-process tests running beside them.
    """
    items.sort(key=lambda item: bool(LIVE_FIXTURES & set(getattr(item, "fixturenames", ()))))


# The test install is a private-network install: its fake providers listen on 127.0.0.1 over
# plain http. Tests of the address policy itself (tests/security) use the strict default.
TEST_PRIVATE_NETWORKS = "127.0.0.0/8"
# Benchmarks measure the pipeline, not the flood guards (app.web.ratelimit): 0 turns them off.
NO_FLOOD_LIMITS = {"WEBHOOK_RATE_LIMIT": "0", "PAGE_RATE_LIMIT": "0"}


@pytest.fixture(autouse=True)
def clean_database(request: pytest.FixtureRequest) -> None:
    """Every table emptied before each test, except for tests marked ``nodb`` (pure functions:
    parsers, policies, templates), which then need no database server at all."""
    if request.node.get_closest_marker("nodb"):
        return
    database_url = request.getfixturevalue("database_url")
    run_sync(_truncate(database_url))
    db.configure(database_url)
    netpolicy.configure(netpolicy.Policy.from_settings(TEST_PRIVATE_NETWORKS, allow_http=True))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        sse_keepalive=1,
        private_networks=TEST_PRIVATE_NETWORKS,
        allow_http=True,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Litestar]:
    """The app with its lifespan running on the test's own event loop (pool, hub)."""
    # No dispatcher here: tests drive dispatch step by step (react(), sweep_once()).
    app = create_app(settings, migrate=False, dispatcher=False)
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        # The lifespan's task group must be entered and left by one task.
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    await asyncio.wait([task, asyncio.ensure_future(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    yield app
    stop.set()
    await task


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """Real HTTP requests through the ASGI app, on the same loop as the test and its data."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


# Real server processes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``switchboard serve`` in a subprocess, on the test database."""

    def __init__(self, database_url: str, data_dir: Path, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET,
            "DATA_DIR": str(data_dir),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WORKERS": str(workers),
            "LOG_LEVEL": "WARNING",
            "SSE_KEEPALIVE": "1",
            "PRIVATE_NETWORKS": TEST_PRIVATE_NETWORKS,
            "ALLOW_HTTP": "1",
            **(env or {}),
        }
        self.log = open(data_dir / f"server-{self.port}.log", "w")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.log.name}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become healthy in 30 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(database_url, tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def second_live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(database_url, tmp_path_factory.mktemp("live2"))
    yield server
    server.stop()
