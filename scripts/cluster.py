#!/usr/bin/env python3
"""Several Switchboard hosts on one machine, behind nginx, on PostgreSQL over TCP (issue 21).

Each "host" is a separate ``switchboard serve`` on its own port with its own DATA_DIR, as a
separate machine would be; nginx spreads requests over them (SSE unbuffered, long read timeout,
a dead upstream skipped); PostgreSQL is a server of its own listening on 127.0.0.1 (the embedded
PostgreSQL's binaries from the pgserver wheel, with TCP instead of its unix socket).

    python scripts/cluster.py [--hosts 3] [--dir DIR]    # runs until Ctrl+C, printing the URLs

``tests/scale/test_cluster.py`` and ``tests/benchmarks/bench_failover.py`` use :class:`Cluster`.
Needs Debian's nginx (``scripts/dev test`` installs it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "cluster-secret-key-shared-by-every-host-0123456789"

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    upstream switchboard {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 2m;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 2s;
        location /events {{
            proxy_pass http://switchboard;
            proxy_buffering off;          # each event reaches the browser at once
            proxy_cache off;
            proxy_read_timeout 1h;        # a stream stays open as long as the page
        }}
        location / {{
            proxy_pass http://switchboard;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


def _as_pg_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as the embedded server's user."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "pgserver"], check=True)
    return "pgserver"


def _wait_http(url: str, proc: subprocess.Popen | None, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {seconds:.0f} s")


class Cluster:
    """PostgreSQL on TCP, ``hosts`` app hosts and nginx in ``folder``; ``stop()`` ends them all."""

    def __init__(self, folder: Path, hosts: int = 3, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = env or {}
        self.pg_port = free_port()
        self.database_url = f"postgresql://postgres@127.0.0.1:{self.pg_port}/switchboard"
        self.host_ports = [free_port() for _ in range(hosts)]
        self.hosts: list[subprocess.Popen | None] = [None] * hosts
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.nginx: subprocess.Popen | None = None
        self._logs: list = []

    # PostgreSQL ---------------------------------------------------------------------------
    def start_postgres(self) -> None:
        data = self.folder / "pgdata"
        user = _as_pg_user()
        if user:
            shutil.chown(self.folder, user)
        self.folder.chmod(0o755)  # nginx's workers (user nobody) use temp folders in it
        subprocess.run(
            [_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            user=user,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                _pg_bin("pg_ctl"),
                "start",
                "-w",
                "-t",
                "30",
                "-D",
                str(data),
                "-l",
                str(self.folder / "pg.log"),
                "-o",
                f"-p {self.pg_port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200",
            ],
            user=user,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "switchboard"],
            check=True,
            capture_output=True,
        )

    def stop_postgres(self) -> None:
        data = self.folder / "pgdata"
        if data.exists():
            subprocess.run(
                [_pg_bin("pg_ctl"), "stop", "-m", "immediate", "-D", str(data)],
                user=_as_pg_user(),
                capture_output=True,
                check=False,
            )

    # App hosts ----------------------------------------------------------------------------
    def host_env(self, n: int) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": SECRET_KEY,
            "DATA_DIR": str(self.folder / f"host{n}"),
            "HOST": "127.0.0.1",
            "PORT": str(self.host_ports[n]),
            "WORKERS": "1",
            "LOG_LEVEL": "WARNING",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            **self.env,
        }

    def start_host(self, n: int) -> None:
        log = open(self.folder / f"host{n}.log", "a")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self.hosts[n] = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=self.host_env(n), stdout=log, stderr=subprocess.STDOUT
        )
        _wait_http(f"http://127.0.0.1:{self.host_ports[n]}/health", self.hosts[n], 60, f"host {n}")

    def kill_host(self, n: int) -> None:
        """SIGKILL: the host dies as a crashed machine would, with no chance to clean up."""
        proc = self.hosts[n]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    # nginx --------------------------------------------------------------------------------
    def start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise RuntimeError("nginx is not installed: `scripts/dev test` installs it (apt-get install nginx)")
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in self.host_ports)
        conf = self.folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.folder, servers=servers, port=self.port))
        log = open(self.folder / "nginx.out", "a")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self.nginx = subprocess.Popen(
            [nginx, "-p", str(self.folder), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        _wait_http(f"{self.url}/health", self.nginx, 20, "nginx")

    def start(self) -> Cluster:
        self.start_postgres()
        # The first host migrates; the others start at once (migrations are under an advisory lock).
        self.start_host(0)
        for n in range(1, len(self.hosts)):
            self.start_host(n)
        self.start_nginx()
        return self

    def stop(self) -> None:
        for proc in [self.nginx, *self.hosts]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [self.nginx, *self.hosts]:
            if proc is not None:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.stop_postgres()
        for log in self._logs:
            log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--dir", help="working folder (default: a new temporary one)")
    args = parser.parse_args()
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="switchboard-cluster-"))
    cluster = Cluster(folder, args.hosts)
    try:
        cluster.start()
        print(f"PostgreSQL: {cluster.database_url}")
        for n, port in enumerate(cluster.host_ports):
            print(f"host {n}: http://127.0.0.1:{port}  (log {folder / f'host{n}.log'})")
        print(f"Switchboard behind nginx: {cluster.url}   (Ctrl+C stops everything)", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
