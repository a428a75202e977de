"""The benchmarks' common start: an embedded PostgreSQL of their own, migrated."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pgserver

from app import db
from tests.conftest import _with_database


async def embedded_database(prefix: str) -> tuple[Path, pgserver.PostgresServer, str]:
    """A temporary folder, an embedded PostgreSQL in it and a migrated database "bench": the
    folder (removed when the script exits), the server (call ``server.cleanup()`` when done)
    and the database's URL."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, tmp, True)  # the servers' logs and files go with the run
    server = pgserver.get_server(str(tmp / "pg"), cleanup_mode="delete")
    conn = await asyncpg.connect(server.get_uri())
    await conn.execute("CREATE DATABASE bench")
    await conn.close()
    url = _with_database(server.get_uri(), "bench")
    await db.migrate(url)
    return tmp, server, url
