"""Failover: three hosts behind nginx on PostgreSQL over TCP, one killed with SIGKILL under load.

``scripts/cluster.py`` starts PostgreSQL (TCP), FAILOVER_HOSTS ``switchboard serve`` hosts and
nginx. A company with a department, one online agent (room for everything) and a Meta channel
whose new conversations go to that department; FAILOVER_STREAMS supervisor streams are open
through nginx (spread over the hosts), each reconnecting as a browser's EventSource does (after
the ``retry`` the server sent). Signed webhooks arrive at FAILOVER_RATE a second; a non-200 or a
cut connection is retried, as a provider does. After FAILOVER_BEFORE_S seconds the host that
leads the dispatcher (the holder of its advisory lock, found through pg_locks and the TCP port of
its connection) is killed with SIGKILL; the load goes on FAILOVER_AFTER_S seconds, then the
cluster gets FAILOVER_SETTLE_S seconds to finish.

- leader_s: SIGKILL -> another host holds the dispatcher's lock;
- ami_leader_s: SIGKILL -> another host logged in to the (fake, 127.0.0.1) AMI, when the killed
  host held the AMI listener's lock too (the hosts start one after the other: the first usually
  takes both);
- lost: webhooks answered 200 but not stored;
- stranded: the run's conversations not assigned to the agent at the end;
- sse_reconnect_s: the longest time from a stream cut by the kill to its "ready" again through
  nginx (a browser waits ``retry`` = 2 s before reconnecting: included).
Run: `.venv/bin/python tests/benchmarks/bench_failover.py` (needs nginx). The last line is the RESULT.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from cluster import Cluster  # noqa: E402

from app import db  # noqa: E402
from app.domain.channels import create_channel  # noqa: E402
from app.realtime.leader import SWEEPER  # noqa: E402
from app.telephony.ami import LEADER_LOCK as AMI_LOCK  # noqa: E402
from tests.factories import PASSWORD, make_company, make_department, make_user  # noqa: E402
from tests.telephony.fake_ami import FakeAmi  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "providers" / "meta" / "webhook_message_text.json"
SECRET = "failover-app-secret"
HOSTS = int(os.environ.get("FAILOVER_HOSTS", "3"))
STREAMS = int(os.environ.get("FAILOVER_STREAMS", "9"))
RATE = float(os.environ.get("FAILOVER_RATE", "40"))
BEFORE_S = float(os.environ.get("FAILOVER_BEFORE_S", "5"))
AFTER_S = float(os.environ.get("FAILOVER_AFTER_S", "12"))
SETTLE_S = float(os.environ.get("FAILOVER_SETTLE_S", "15"))
CONTACTS = 150
TEMPLATE = json.loads(FIX.read_text())


def webhook(i: int) -> tuple[bytes, dict]:
    data = json.loads(json.dumps(TEMPLATE))
    value = data["entry"][0]["changes"][0]["value"]
    phone = f"9725{i % CONTACTS:08d}"
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = phone
    value["messages"][0].update(id=f"wamid.failover{i}", timestamp=str(int(time.time())))
    value["messages"][0]["text"]["body"] = f"failover {i}"
    raw = json.dumps(data).encode()
    return raw, {
        "content-type": "application/json",
        "x-hub-signature-256": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
    }


class Stream:
    """One supervisor tab's event stream through nginx, reconnecting like EventSource."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.ready = asyncio.Event()
        self.cut_at: float | None = None
        self.reconnects: list[float] = []  # seconds from a cut to "ready" again

    async def run(self, stop: asyncio.Event) -> None:
        retry = 2.0
        while not stop.is_set():
            try:
                async with self.client.stream("GET", "/events?topics=inbox", timeout=httpx.Timeout(5, read=30)) as r:
                    if r.status_code != 200:
                        raise httpx.HTTPError(f"status {r.status_code}")
                    async for line in r.aiter_lines():
                        if line.startswith("retry:"):
                            retry = int(line[6:].strip()) / 1000
                        elif line.startswith("event: ready"):
                            if self.cut_at is not None:
                                self.reconnects.append(time.monotonic() - self.cut_at)
                                self.cut_at = None
                            self.ready.set()
                        if stop.is_set():
                            return
            except (httpx.HTTPError, OSError):
                pass
            if stop.is_set():
                return
            if self.cut_at is None:
                self.cut_at = time.monotonic()
            await asyncio.sleep(retry)


def _leader_pid(rows: list, hosts: list) -> int | None:
    """The host process holding the dispatcher's lock: its backend's client port, owned by which host."""
    ports = {r["client_port"] for r in rows if r["client_port"]}
    alive = {h.pid: n for n, h in enumerate(hosts) if h is not None and h.poll() is None}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port in ports and conn.pid in alive:
            return alive[conn.pid]
    return None


async def _leader(pg: asyncpg.Connection, cluster: Cluster, key: int = SWEEPER) -> int | None:
    rows = await pg.fetch(
        """SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.objid = $1 AND l.granted""",
        key,
    )
    return _leader_pid(rows, cluster.hosts)


async def run(
    folder: Path,
    *,
    hosts: int = HOSTS,
    streams_n: int = STREAMS,
    rate: float = RATE,
    before_s: float = BEFORE_S,
    after_s: float = AFTER_S,
    settle_s: float = SETTLE_S,
) -> dict:
    # An AMI for the hosts to connect to: only the holder of the AMI listener's lock logs in.
    ami = await FakeAmi().start()
    cluster = Cluster(
        folder,
        hosts,
        env={
            "SWEEP_INTERVAL": "2",
            "AMI_HOST": "127.0.0.1",
            "AMI_PORT": str(ami.port),
            "AMI_USERNAME": ami.username,
            "AMI_SECRET": ami.secret,
        },
    )
    stop = asyncio.Event()
    try:
        await asyncio.to_thread(cluster.start)
        db.configure(cluster.database_url)
        company = await make_company("Failover Co")
        department = await make_department(company, "Support")
        await make_user(company, "agent", presence="online", capacity=1000, departments=[department])
        supervisor = await make_user(company, "supervisor")
        channel = await create_channel(
            company.id,
            {
                "name": "Meta",
                "provider": "meta",
                "cred_phone_number_id": "1",
                "cred_access_token": "t",
                "cred_app_secret": SECRET,
                "default_department_id": str(department.id),
            },
        )
        pg = await asyncpg.connect(cluster.database_url)
        async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as tab:
            await tab.get("/login")
            r = await tab.post(
                "/login",
                data={"email": supervisor.email, "password": PASSWORD, "_csrf_token": tab.cookies["csrftoken"]},
            )
            assert r.status_code == 303, r.text
            cookies = dict(tab.cookies)
        clients = [httpx.AsyncClient(base_url=cluster.url, cookies=cookies) for _ in range(streams_n)]
        streams = [Stream(c) for c in clients]
        tasks = [asyncio.create_task(s.run(stop)) for s in streams]
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), 30)
        deadline = time.monotonic() + 30
        leader = await _leader(pg, cluster)
        while leader is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            leader = await _leader(pg, cluster)
        if leader is None:
            raise RuntimeError("no host leads the dispatcher")
        ami_leader = await _leader(pg, cluster, AMI_LOCK)
        ami_logins = len(ami.logins)

        acked: set[int] = set()
        retried = 0
        poster = httpx.AsyncClient(
            base_url=cluster.url, timeout=10, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        )

        async def deliver(i: int) -> None:
            nonlocal retried
            raw, headers = webhook(i)
            for _attempt in range(60):
                try:
                    if (
                        await poster.post(f"/webhooks/meta/{channel.id}", content=raw, headers=headers)
                    ).status_code == 200:
                        acked.add(i)
                        return
                except httpx.HTTPError:
                    pass
                retried += 1
                await asyncio.sleep(0.5)

        sends: list[asyncio.Task] = []
        t0 = time.monotonic()
        total = int(rate * (before_s + after_s))
        killed_at = leader_s = ami_leader_s = None
        new_leader = None
        for i in range(total):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            sends.append(asyncio.create_task(deliver(i)))
            if killed_at is None and time.monotonic() - t0 >= before_s:
                cluster.kill_host(leader)
                killed_at = time.monotonic()
            if killed_at is not None and leader_s is None and i % 4 == 0:
                new_leader = await _leader(pg, cluster)
                if new_leader is not None:
                    leader_s = time.monotonic() - killed_at
            if killed_at is not None and ami_leader_s is None and len(ami.logins) > ami_logins:
                ami_leader_s = time.monotonic() - killed_at
        await asyncio.gather(*sends)
        while leader_s is None and time.monotonic() - killed_at < settle_s:
            await asyncio.sleep(0.1)
            new_leader = await _leader(pg, cluster)
            if new_leader is not None:
                leader_s = time.monotonic() - killed_at
        while ami_leader == leader and ami_leader_s is None and time.monotonic() - killed_at < settle_s:
            await asyncio.sleep(0.1)
            if len(ami.logins) > ami_logins:
                ami_leader_s = time.monotonic() - killed_at
        await asyncio.sleep(settle_s)  # the dispatcher's sweeps finish what the kill interrupted
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in [*clients, poster]:
            await c.aclose()

        stored = {
            r["provider_message_id"]
            for r in await pg.fetch(
                "SELECT provider_message_id FROM message WHERE channel_id = $1 AND direction = 'in'", channel.id
            )
        }
        lost = sum(1 for i in acked if f"wamid.failover{i}" not in stored)
        stranded_rows = await pg.fetch(
            "SELECT id, status, department_id FROM conversation WHERE company_id = $1 AND status <> 'assigned'",
            company.id,
        )
        conversations = await pg.fetchval("SELECT count(*) FROM conversation WHERE company_id = $1", company.id)
        if stranded_rows:  # what the hosts said, for the report
            for n in range(hosts):
                log = (folder / f"host{n}.log").read_text(errors="replace").splitlines()
                print(
                    f"--- host {n} log (last warnings):",
                    *[line for line in log if "WARNING" in line or "ERROR" in line or "Error" in line][-15:],
                    sep="\n",
                )
            print(
                "created:",
                await pg.fetch(
                    "SELECT id, created_at, now() - created_at AS age FROM conversation WHERE status = 'bot'"
                ),
            )
        await pg.close()
        reconnects = [s for stream in streams for s in stream.reconnects]
        return {
            "leader_s": leader_s if leader_s is not None else math.nan,
            "new_leader": new_leader,
            "killed": leader,
            "ami_leader": ami_leader,
            "ami_leader_s": ami_leader_s if ami_leader_s is not None else math.nan,
            "lost": lost,
            "stranded": len(stranded_rows),
            "stranded_rows": [dict(r) for r in stranded_rows],
            "conversations": conversations,
            "sse_reconnect_s": max(reconnects) if reconnects else math.nan,
            "streams_cut": len(reconnects),
            "still_cut": sum(1 for s in streams if s.cut_at is not None),
            "sent": total,
            "acked": len(acked),
            "retried": retried,
            "hosts": hosts,
            "streams": streams_n,
            "rate": rate,
        }
    finally:
        stop.set()
        await asyncio.to_thread(cluster.stop)
        await ami.stop()
        await db.close_pool()


def report(result: dict) -> str:
    print(
        f"hosts={result['hosts']} streams={result['streams']} rate={result['rate']:.0f}/s; "
        f"killed host {result['killed']} (the dispatcher's leader), host {result['new_leader']} took over; {result['conversations']} conversations, "
        f"{result['sent']} webhooks, {result['retried']} provider retries, {result['streams_cut']} streams cut, "
        f"{result['still_cut']} still cut; load {os.getloadavg()[0]:.2f}"
    )
    if result["stranded_rows"]:
        print("stranded:", result["stranded_rows"][:10])
    print(
        f"AMI listener led by host {result['ami_leader']}"
        + (
            f", back on the AMI {result['ami_leader_s']:.1f} s after the kill (another host logged in)"
            if result["ami_leader"] == result["killed"]
            else " (not the killed host: it kept its connection)"
        )
    )
    line = (
        f"RESULT failover leader_s={result['leader_s']:.1f} lost={result['lost']} stranded={result['stranded']} "
        f"sse_reconnect_s={result['sse_reconnect_s']:.1f} ami_leader_s={result['ami_leader_s']:.1f}"
    )
    print(line, flush=True)
    return line


if __name__ == "__main__":
    report(asyncio.run(run(Path(tempfile.mkdtemp(prefix="switchboard-failover-")))))
