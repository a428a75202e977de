"""Fixtures for running Switchboard beyond one process and one database connection (issue 21):
a PgBouncer in transaction mode in front of the test database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import free_port


def _as_user() -> list[str]:
    """PgBouncer refuses to run as root: as root, run it as the embedded server's user."""
    return ["-u", "pgserver"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def pgbouncer(database_url: str) -> Iterator[str]:
    """The test database through PgBouncer (pool_mode = transaction); its URL. Each new server
    connection names itself "pgbouncer" (connect_query), so tests can tell its backends apart."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.fail("pgbouncer is not installed: `scripts/dev test` installs it (apt-get install pgbouncer)")
    parts = urlsplit(database_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    port = parts.port or 5432
    dbname = parts.path.lstrip("/")
    user = parts.username or "postgres"
    folder = Path(tempfile.mkdtemp(prefix="switchboard-pgbouncer-"))
    folder.chmod(0o777)
    listen = free_port()
    (folder / "pgbouncer.ini").write_text(f"""[databases]
{dbname} = host={host} port={port} dbname={dbname} user={user} connect_query='SET application_name = ''pgbouncer'''

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
""")
    proc = subprocess.Popen(
        [binary, *_as_user(), str(folder / "pgbouncer.ini")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", listen), 0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (folder / "pgbouncer.log").read_text() if (folder / "pgbouncer.log").exists() else ""
                raise RuntimeError(f"pgbouncer did not start: {log[-2000:]}") from None
            time.sleep(0.1)
    yield f"postgresql://{user}@127.0.0.1:{listen}/{dbname}"
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(folder, ignore_errors=True)


def _pg_bin(name: str) -> str:
    """The embedded PostgreSQL's own tools (pgserver's wheel): a standby must run the primary's
    major version."""
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


def _run_as_server_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """PostgreSQL's programs refuse root: run them as the embedded server's user."""
    user = "pgserver" if os.geteuid() == 0 else None
    return subprocess.run(args, user=user, check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="session")
def replica(database_url: str) -> Iterator[str]:
    """A streaming standby of the test database's server (pg_basebackup -R, hot standby), on
    its own socket; the URL of the test database on it."""
    parts = urlsplit(database_url)
    host = parse_qs(parts.query).get("host", [""])[0]
    if not host:
        pytest.fail("the replica fixture needs the embedded test server (unix socket DATABASE_URL)")
    folder = Path(tempfile.mkdtemp(prefix="switchboard-replica-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "pgserver", "pgserver")
    port = free_port()
    _run_as_server_user(
        [
            _pg_bin("pg_basebackup"),
            "-D",
            str(data),
            "-h",
            host,
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ]
    )
    _run_as_server_user(
        [
            _pg_bin("pg_ctl"),
            "start",
            "-w",
            "-t",
            "30",
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-o",
            f"-p {port} -k {folder} -c listen_addresses='' -c hot_standby=on",
        ]
    )
    yield f"postgresql://{parts.username or 'postgres'}@/{parts.path.lstrip('/')}?host={folder}&port={port}"
    subprocess.run(
        [_pg_bin("pg_ctl"), "stop", "-m", "immediate", "-D", str(data)],
        user="pgserver" if os.geteuid() == 0 else None,
        capture_output=True,
        check=False,
    )
    shutil.rmtree(folder, ignore_errors=True)


def stop_replica(url: str) -> None:
    """Stop the standby at ``url`` at once (the app must fall back to the primary)."""
    folder = parse_qs(urlsplit(url).query)["host"][0]
    _run_as_server_user([_pg_bin("pg_ctl"), "stop", "-m", "immediate", "-D", str(Path(folder) / "data")])
