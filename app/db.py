"""Database lifecycle: the embedded server, the Piccolo engine's DSN, the pool, migrations.

Queries live in ``app.domain``; this module only opens, migrates and closes.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

from app.domain import sql
from app.engine import DB

log = logging.getLogger(__name__)

# pg_advisory_lock key held while migrating, so that several processes starting together
# do not race on CREATE TABLE (STACK-NOTES: DuplicateTableError otherwise).
MIGRATION_LOCK = 7_201_001


class EmbeddedPostgres:
    """A PostgreSQL bundled in the pgserver wheel, in a data folder of ours."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = Path(data_dir) / "pgdata"
        self._server = None

    def start(self) -> str:
        import pgserver

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(str(self.pgdata), cleanup_mode=None)
        return self._server.get_uri()

    def stop(self) -> None:
        """Stop the server (pgserver's own cleanup with mode None leaves it running)."""
        if self._server is None:
            return
        from pgserver._commands import pg_ctl

        server, self._server = self._server, None
        try:
            server.cleanup()
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=server.system_user)
        except Exception:  # noqa: BLE001 - stopping is best effort at exit
            log.exception("embedded postgres did not stop cleanly")


def configure(dsn: str, *, pooler: bool = False) -> None:
    """Point the Piccolo engine at ``dsn`` (must run before the first query). ``pooler``: the
    DSN is a transaction-mode PgBouncer (DATABASE_DIRECT_URL is set), where a statement
    prepared in one transaction may be gone in the next: asyncpg keeps no statement cache."""
    DB.config = {"dsn": dsn, **({"statement_cache_size": 0} if pooler else {})}


async def _keep_connection(_conn: asyncpg.Connection) -> None:
    """Reset of a pooled connection on release: nothing beyond asyncpg's own rollback.

    asyncpg's default reset runs ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``,
    a round trip on every release (two or three per request). Pooled connections here never
    hold session state: no ``SET`` (only ``SET LOCAL`` inside transactions), no ``LISTEN`` (the
    hub has its own connection), no session-level advisory lock (the leader and the migration
    lock use their own connections; dispatch uses ``pg_advisory_xact_lock``). asyncpg still
    rolls back a transaction left open and drops listeners before calling this.
    """


async def open_pool(min_size: int = 2, max_size: int = 10, *, read_dsn: str = "") -> None:
    """The request pool, and the read replica's (``read_dsn``: DATABASE_READ_URL) if any. A
    replica that cannot be reached at start-up is tried again later (``app.domain.sql``)."""
    if read_dsn:
        sql.READ.dsn = read_dsn
    # PostgreSQL's default plan cache mode stays: forcing generic plans (tried for the live
    # inbox's row query, 0.7 -> 0.3 ms) made the CDR search's prefix queries 300 times slower
    # (tests/benchmarks/bench_ami.py: 2.4 ms -> 743 ms median), whose best plan depends on the value.
    await DB.start_connection_pool(min_size=min_size, max_size=max_size, reset=_keep_connection)


async def wait_for_database(dsn: str, seconds: float) -> None:
    """Wait until PostgreSQL accepts a connection at ``dsn``, for at most ``seconds`` (then the
    last error is raised). A process started while the database restarts or recovers waits for
    it instead of failing its start: uvicorn stops the parent and every worker when one worker
    fails to start (found by tests/benchmarks/bench_chaos.py)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    delay, told = 0.2, False
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
        except sql.UNREACHABLE as exc:
            if loop.time() + delay > deadline:
                raise
            if not told:
                log.warning("database not reachable yet (%s); waiting up to %.0f s", exc, seconds)
                told = True
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)
        else:
            await conn.close()
            return


async def close_pool(timeout: float = 5.0) -> None:
    """Close the pool; connections still busy after ``timeout`` seconds are cut."""
    await sql.READ.close()
    pool, DB.pool = DB.pool, None
    if pool is None:
        return
    try:
        await asyncio.wait_for(pool.close(), timeout)
    except TimeoutError:
        log.warning("database connections still busy at shutdown; closing them")
        pool.terminate()


async def migrate(dsn: str) -> None:
    """Apply every migration in ``piccolo_migrations/`` under an advisory lock."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    configure(dsn)
    lock_conn = await asyncpg.connect(dsn)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        result = await run_forwards("all")
        if not result.success:
            raise RuntimeError(f"migrations failed: {result.message}")
    finally:
        await lock_conn.close()
