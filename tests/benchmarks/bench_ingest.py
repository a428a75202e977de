"""Ingest figures: Switchboard against the bare pipeline, in one run, under one load generator.

Issue 21: only a ratio measured in one run compares across machines. Starts an embedded
PostgreSQL in a temporary folder with two databases and two apps side by side, with
BENCH_WORKERS server processes each, which take turns under the same load (the machine is
shared: its load changes from one minute to the next):
- bare: ``tests/benchmarks/bare_app.py``, the least code that does the inbound work (HMAC, JSON,
  one transaction with contact upsert, conversation, message and NOTIFY, an SSE push);
- switchboard: ``switchboard serve`` (BENCH_SERVER=granian: granian instead of uvicorn) with a
  Meta channel, a supervisor's inbox stream open;
the load generator is Debian's ``wrk`` (C, far cheaper than a Python client) with pre-signed
real-format Meta webhooks cycled by ``wrk_webhooks.lua``:
0. warm-up: BENCH_WARMUP_S seconds of closed loop (a history), then ANALYZE;
1. throughput: BENCH_ROUNDS rounds, each BENCH_SECONDS of closed loop with BENCH_CONCURRENCY
   connections on one app then the other (msgs_per_s: the median round; R: the median of the
   rounds' ratios);
2. latency: BENCH_SECONDS paced at half the bare pipeline's closed-loop rate (the same rate
   for both apps): POST start (wrk, CLOCK_MONOTONIC) -> the message on the stream (p50/p99);
5 % of webhooks are posted twice (provider retries): lost = sent but not stored, dup = stored
or announced twice. Prints per app ``RESULT ingest_<app> ...`` and last
``RESULT ingest_vs_bare ratio=R switchboard_msgs_per_s=A bare_msgs_per_s=B p99_ratio=P``
(R = A / B; P = Switchboard's p99 / the bare pipeline's p99 at the same paced rate), then
``cpu_ratio``: the bare pipeline's CPU per message (its server processes and PostgreSQL
backends, in the closed-loop rounds) over Switchboard's, which depends far less than throughput
on what else a shared machine runs.
Run: `.venv/bin/python tests/benchmarks/bench_ingest.py` (needs `wrk`: scripts/dev installs it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import db  # noqa: E402
from app.domain.channels import create_channel  # noqa: E402
from tests.benchmarks.bare_app import SCHEMA as BARE_SCHEMA  # noqa: E402
from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.conftest import NO_FLOOD_LIMITS, LiveServer, _with_database, free_port  # noqa: E402  # noqa: E402
from tests.factories import PASSWORD, make_company, make_user  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "providers" / "meta" / "webhook_message_text.json"
SECRET = "bench-app-secret"
# Server processes: one per core of this 2-core machine, as README recommends (WORKERS).
WORKERS = int(os.environ.get("BENCH_WORKERS", 2))
WARMUP_S = int(os.environ.get("BENCH_WARMUP_S", 3))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", 48))
SECONDS = int(os.environ.get("BENCH_SECONDS", 5))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 2))
# The page the watching supervisor has open: the inbox (its thread bubbles carry the text).
TOPICS = os.environ.get("BENCH_TOPICS", "inbox")
LUA = Path(__file__).with_name("wrk_webhooks.lua")
# The ASGI server of the Switchboard hosts: uvicorn (what `switchboard serve` runs) or granian
# (issue 21 asks for the comparison: BENCH_SERVER=granian, needs `pip install granian`).
SERVER = os.environ.get("BENCH_SERVER", "uvicorn")
CONTACTS = 300
MARK = re.compile(r"bench-(\d+)x")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


TEMPLATE = json.loads(FIX.read_text())


def body(i: int) -> bytes:
    data = json.loads(json.dumps(TEMPLATE))
    value = data["entry"][0]["changes"][0]["value"]
    phone = f"9725{i % CONTACTS:08d}"
    value["contacts"][0]["wa_id"] = phone
    m = value["messages"][0]
    m.update({"from": phone, "id": f"wamid.bench{i:09d}", "timestamp": str(int(time.time()))})
    m["text"]["body"] = f"bench-{i}x"
    return json.dumps(data).encode()


def headers(raw: bytes) -> dict:
    return {
        "content-type": "application/json",
        "x-hub-signature-256": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
    }


class Watcher:
    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.dups = 0
        self.resyncs = 0

    async def run(self, client: httpx.AsyncClient, ready, stop) -> None:
        async with client.stream("GET", f"/events?topics={TOPICS}", timeout=None) as stream:
            event = ""
            async for line in stream.aiter_lines():
                if stop.is_set():  # checked at least every keep-alive (SSE_KEEPALIVE=1 s)
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                    if event == "ready":
                        ready.set()
                    elif event == "resync":
                        self.resyncs += 1
                elif line.startswith("data:") and (event.startswith(("message-new-", "thread-")) or event == "message"):
                    m = MARK.search(line)
                    if m:
                        i = int(m.group(1))
                        if i in self.seen:
                            self.dups += 1
                        else:
                            self.seen[i] = time.perf_counter()


def watch(url: str, cookies: dict, ready, stop, results) -> None:
    """The supervisor's browser tab, in a process of its own as a browser would be (sharing the
    poster's event loop would add the poster's own queueing to the figures). perf_counter is
    CLOCK_MONOTONIC on Linux, one clock for both processes."""
    watcher = Watcher()

    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, cookies=cookies) as client:
            await watcher.run(client, ready, stop)

    asyncio.run(run())
    results.put((watcher.seen, watcher.dups, watcher.resyncs))


class Marks:
    """Hands out message numbers (``bench-<n>x``, ``wamid.bench<n>``) unique across the run."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, n: int) -> range:
        r = range(self.next, self.next + n)
        self.next += n
        return r


def write_requests(path: Path, marks: range) -> None:
    """The Lua file wrk cycles through: each entry is (mark, signature, body); 5 % of the
    webhooks come twice in a row, as a provider's retry would."""
    rows = []
    for i in marks:
        raw = body(i)
        signature = headers(raw)["x-hub-signature-256"]
        row = f'{{{i},"{signature}",[==[{raw.decode()}]==]}}'
        rows.append(row)
        if random.random() < 0.05:
            rows.append(row)
    path.write_text("return {\n" + ",\n".join(rows) + "\n}\n")


def run_wrk(
    tmp: Path, base: str, path: str, marks: range, seconds: int, rate: float = 0
) -> tuple[dict[int, float], dict]:
    """One wrk run; returns {mark: first POST start (monotonic s)} and wrk's summary, with
    ``unanswered``: requests begun but not answered when wrk stopped (at most one per connection;
    wrk cannot say which, so a message missing from the database is lost only beyond those)."""
    requests, out = tmp / "requests.lua", tmp / "wrk.out"
    write_requests(requests, marks)
    env = {**os.environ, "WRK_REQUESTS": str(requests), "WRK_PATH": path, "WRK_RATE": str(rate), "WRK_OUT": str(out)}
    subprocess.run(
        ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), base],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    starts: dict[int, float] = {}
    summary: dict = {}
    issued = 0
    for line in out.read_text().splitlines():
        if line.startswith("summary "):
            summary = {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
        else:
            mark, start = line.split()
            starts.setdefault(int(mark), float(start))
            issued += 1
    summary["unanswered"] = issued - summary["requests"]
    if summary["requests"] > len(marks):
        print(f"warning: wrk sent {summary['requests']} requests for {len(marks)} prepared ones (repeats)")
    return starts, summary


class Target:
    """One app under test: its address, webhook path, database and the tab watching its stream."""

    def __init__(self, name: str, base: str, path: str, dsn: str, table: str, key: str, cookies: dict) -> None:
        self.name, self.base, self.path, self.dsn, self.table, self.key = name, base, path, dsn, table, key
        self.cookies = cookies
        self.sent: dict[int, float] = {}
        self.paced: dict[int, float] = {}
        self.errors = self.unanswered = 0
        self.rates: list[float] = []
        self.result: dict = {}
        self.server_pid = 0  # set by main(): the server's process tree is measured
        self.cpu = {"app": 0.0, "pg": 0.0}  # CPU seconds spent in the closed-loop rounds
        self.cpu_msgs = 0

    async def _cpu(self) -> dict[str, float]:
        """CPU seconds so far of the server processes and of this app's PostgreSQL backends.
        CPU per message depends far less on what else the shared machine runs than throughput."""
        conn = await asyncpg.connect(self.dsn)
        pids = [
            r["pid"]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        await conn.close()
        root = psutil.Process(self.server_pid)
        app = [root, *root.children(recursive=True)]

        def total(processes) -> float:
            seconds = 0.0
            for proc in processes:
                try:
                    times = proc.cpu_times()
                    seconds += times.user + times.system
                except psutil.Error:
                    pass
            return seconds

        return {"app": total(app), "pg": total(psutil.Process(pid) for pid in pids if psutil.pid_exists(pid))}

    async def closed_round(self, tmp: Path, marks: range) -> None:
        before = await self._cpu()
        summary = await self.load(tmp, marks, SECONDS)
        after = await self._cpu()
        for key in self.cpu:
            self.cpu[key] += after[key] - before[key]
        self.cpu_msgs += summary["requests"]
        self.rates.append(summary["rate"])

    async def open_tab(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.ready, self.stop, self.results = ctx.Event(), ctx.Event(), ctx.Queue()
        self.tab = ctx.Process(
            target=watch, args=(self.base, self.cookies, self.ready, self.stop, self.results), daemon=True
        )
        self.tab.start()
        if not await asyncio.to_thread(self.ready.wait, 20):
            raise RuntimeError(f"{self.name}: the watching tab did not get its stream")

    async def load(self, tmp: Path, marks: range, seconds: int, rate: float = 0) -> dict:
        starts, summary = await asyncio.to_thread(run_wrk, tmp, self.base, self.path, marks, seconds, rate)
        self.sent.update(starts)
        if rate:
            self.paced.update(starts)
        self.errors += summary["errors"]
        self.unanswered += summary["unanswered"]
        summary["rate"] = summary["requests"] / (summary["duration_us"] / 1e6)
        return summary

    async def finish(self) -> dict:
        self.stop.set()
        seen, dups, resyncs = await asyncio.to_thread(self.results.get, True, 30)
        self.tab.join(10)
        conn = await asyncpg.connect(self.dsn)
        rows = await conn.fetch(f"SELECT {self.key} AS id, count(*) AS n FROM {self.table} GROUP BY {self.key}")
        await conn.close()
        stored = {int(r["id"].removeprefix("wamid.bench")): r["n"] for r in rows if r["id"].startswith("wamid.bench")}
        missing = set(self.sent) - set(stored)
        latencies = [(seen[i] - t) * 1000 for i, t in self.paced.items() if i in seen]
        self.result.update(
            msgs_per_s=statistics.median(self.rates),
            app_cpu_ms_per_msg=self.cpu["app"] * 1000 / max(1, self.cpu_msgs),
            pg_cpu_ms_per_msg=self.cpu["pg"] * 1000 / max(1, self.cpu_msgs),
            p50_ms=pct(latencies, 0.5),
            p99_ms=pct(latencies, 0.99),
            lost=max(0, len(missing) - self.unanswered),
            dup=sum(n - 1 for n in stored.values()) + dups,
            errors=self.errors,
            sse_missed=len(set(self.sent) - set(seen)),
            resyncs=resyncs,
        )
        print(
            f"{self.name}: sent={len(self.sent)} stored={len(stored)} announced={len(seen)} errors={self.errors} "
            f"resyncs={resyncs} unanswered_at_wrk_stop={self.unanswered} missing={len(missing)} "
            f"closed-loop rounds: {', '.join(f'{r:.0f}' for r in self.rates)} msgs/s"
        )

        def show(key: str, value: object) -> str:
            if isinstance(value, float):
                return f"{key}={value:.2f}" if key.endswith("per_msg") else f"{key}={value:.1f}"
            return f"{key}={value}"

        print(f"RESULT ingest_{self.name} " + " ".join(show(k, v) for k, v in self.result.items()), flush=True)
        return self.result


class GranianServer:
    """Switchboard's app factory under granian instead of `switchboard serve` (uvicorn)."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        from tests.conftest import TEST_SECRET

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / "granian.log", "w")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET,
            "DATA_DIR": str(tmp),
            "LOG_LEVEL": "WARNING",
            "SSE_KEEPALIVE": "1",
            **NO_FLOOD_LIMITS,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "app.main:app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(WORKERS),
                "--loop",
                "uvloop",
                "--log-level",
                "warning",
            ],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("granian did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class BareServer:
    """The bare pipeline under uvicorn, as many processes as Switchboard gets."""

    def __init__(self, dsn: str, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / "bare.log", "w")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "BARE_DATABASE_URL": dsn, "BARE_SECRET": SECRET}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.benchmarks.bare_app:app",
                "--port",
                str(self.port),
                "--workers",
                str(WORKERS),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the bare app did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


async def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (scripts/dev test installs it)")
    tmp, server, url = await embedded_database("sb-bench-ingest-")
    marks = Marks()
    servers: list = []
    try:
        conn = await asyncpg.connect(server.get_uri())
        await conn.execute("CREATE DATABASE bare")
        await conn.close()
        bare_url = _with_database(server.get_uri(), "bare")
        conn = await asyncpg.connect(bare_url)
        await conn.execute(BARE_SCHEMA)
        await conn.close()
        company = await make_company("Bench Co")
        supervisor = await make_user(company, "supervisor")
        channel = await create_channel(
            company.id,
            {
                "name": "Meta",
                "provider": "meta",
                "cred_phone_number_id": "1",
                "cred_access_token": "t",
                "cred_app_secret": SECRET,
            },
        )
        # Both apps run side by side and take turns: the machine's load (shared) changes from
        # one minute to the next, so each round measures one right after the other.
        servers.append(BareServer(bare_url, tmp))
        servers.append(
            GranianServer(url, tmp)
            if SERVER == "granian"
            else LiveServer(url, tmp, workers=WORKERS, env=NO_FLOOD_LIMITS)
        )
        bare_server, live = servers
        async with httpx.AsyncClient(base_url=live.url) as client:
            await client.get("/login")
            r = await client.post(
                "/login",
                data={"email": supervisor.email, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]},
            )
            assert r.status_code == 303
            cookies = dict(client.cookies)
        bare = Target("bare", bare_server.url, "/webhooks/meta/1", bare_url, "bare_message", "provider_id", {})
        sb = Target(
            "switchboard", live.url, f"/webhooks/meta/{channel.id}", url, "message", "provider_message_id", cookies
        )
        bare.server_pid, sb.server_pid = bare_server.proc.pid, live.proc.pid
        targets = [bare, sb]
        for target in targets:
            await target.open_tab()
        # 0. warm-up, then ANALYZE as autovacuum would within its first minute of such traffic
        for target in targets:
            await target.load(tmp, marks.take(WARMUP_S * 5000), WARMUP_S)
            conn = await asyncpg.connect(target.dsn)
            await conn.execute("ANALYZE")
            await conn.close()
        # 1. throughput, closed loop, ROUNDS rounds taking turns
        for _ in range(ROUNDS):
            for target in targets:
                await asyncio.sleep(1.0)
                await target.closed_round(tmp, marks.take(SECONDS * 5000))
        # 2. latency at half the bare pipeline's closed-loop rate (its median round), the same for both
        rate = statistics.median(bare.rates) / 2
        for target in targets:
            await asyncio.sleep(1.0)
            summary = await target.load(tmp, marks.take(int(rate * SECONDS * 1.2) + 10), SECONDS, rate)
            target.result.update(achieved=summary["rate"], http_p99_ms=summary["p99_us"] / 1000)
        await asyncio.sleep(3)  # the last events reach the tabs
        for target in targets:
            await target.finish()
    finally:
        for s in servers:
            s.stop()
        await db.close_pool()
        server.cleanup()
    # Each round's two figures were measured a few seconds apart: the median of their ratios is
    # steadier than the ratio of the medians when the shared machine's load swings.
    ratios = [a / b for a, b in zip(sb.rates, bare.rates)]
    ratio = statistics.median(ratios)
    cost = {t.name: t.result["app_cpu_ms_per_msg"] + t.result["pg_cpu_ms_per_msg"] for t in targets}
    cpu_ratio = cost["bare"] / cost["switchboard"]
    p99_ratio = sb.result["p99_ms"] / bare.result["p99_ms"]
    print(
        f"server processes: {WORKERS} each (Switchboard under {SERVER}); ratio per round: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; paced phase at {rate:.0f}/s (half the bare closed-loop "
        f"rate); load: {os.getloadavg()[0]:.2f}"
    )
    print(
        f"RESULT ingest_vs_bare ratio={ratio:.2f} switchboard_msgs_per_s={sb.result['msgs_per_s']:.0f} "
        f"bare_msgs_per_s={bare.result['msgs_per_s']:.0f} p99_ratio={p99_ratio:.2f} "
        f"lost={sb.result['lost'] + bare.result['lost']} dup={sb.result['dup'] + bare.result['dup']} "
        f"cpu_ratio={cpu_ratio:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
