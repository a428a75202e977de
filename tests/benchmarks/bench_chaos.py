"""Chaos: routing and sending held through SIGKILL of the servers and a PostgreSQL restart.

Issue 14 ("Proof") with the outbound check of issue 15. An embedded PostgreSQL
(tests/benchmarks/database.py), real ``python -m app serve`` with CHAOS_WORKERS processes, a
company with two departments and CHAOS_AGENTS agents online (their heartbeats kept up as an open
tab would: ``last_seen_at``), a Meta channel whose Graph API is a fake provider on 127.0.0.1 that
counts every message it is asked to send. Signed webhooks arrive at CHAOS_RATE a second for
CHAOS_SECONDS from new and returning customers (a returning one writes again, sometimes after an
agent resolved their conversation); agents reply through the inbox (and resolve some) the whole
time. At CHAOS_KILL_AT seconds every server process is killed with SIGKILL and started again on
the same port; at CHAOS_PG_RESTART_AT PostgreSQL is restarted (``pg_ctl restart -m immediate``:
a crash, with recovery). Every webhook that got no 200 is sent again, as a provider does. Then
the run waits 2 sweep intervals and for the outbox to drain (at most CHAOS_DRAIN_S); messages a
killed process claimed then have their lease ended at once (what 120 s would do; CHAOS_LEASE_END=0:
not), so that the sender's handling of an unknown outcome shows within the run. It prints:

    RESULT chaos acked=N stored=N lost=0 dup=0 stranded=0 overdue_s=X sent_twice=0

- acked: webhooks answered 200; stored: their messages in the database;
- lost: acked but not stored; dup: a provider message id stored more than once;
- stranded: violations of ``app.dispatch.invariants.check(settled=True)`` (open conversations);
- overdue_s: ``worst_lateness()``, the most overdue pending step (target: under 2 sweeps);
- sent_twice: messages the fake provider was asked to send more often than the database holds
  them (per customer and text): duplicates to customers.
Run: `.venv/bin/python tests/benchmarks/bench_chaos.py` (about 60-70 s with the defaults on a loaded 2-core machine).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import db, netpolicy  # noqa: E402
from app.dispatch import invariants  # noqa: E402
from app.domain.channels import create_channel  # noqa: E402
from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.conftest import NO_FLOOD_LIMITS, TEST_PRIVATE_NETWORKS, TEST_SECRET, free_port  # noqa: E402
from tests.factories import PASSWORD, make_company, make_department, make_user  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "providers" / "meta" / "webhook_message_text.json"
SECRET = "chaos-app-secret"
WORKERS = int(os.environ.get("CHAOS_WORKERS", "2"))
AGENTS = int(os.environ.get("CHAOS_AGENTS", "3"))
RATE = float(os.environ.get("CHAOS_RATE", "8"))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "30"))
KILL_AT = float(os.environ.get("CHAOS_KILL_AT", "8"))
PG_RESTART_AT = float(os.environ.get("CHAOS_PG_RESTART_AT", "19"))
SWEEP = int(os.environ.get("CHAOS_SWEEP_INTERVAL", "2"))
# End the leases of claimed, unsettled outbound messages after the drain rather than wait 120 s for them.
LEASE_END = os.environ.get("CHAOS_LEASE_END", "1") not in {"0", "false", "no"}
DRAIN_S = float(os.environ.get("CHAOS_DRAIN_S", "20"))
TEMPLATE = json.loads(FIX.read_text())


def webhook(i: int, customer: int, text: str) -> tuple[bytes, dict]:
    data = json.loads(json.dumps(TEMPLATE))
    value = data["entry"][0]["changes"][0]["value"]
    phone = f"9726{customer:08d}"
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = phone
    value["messages"][0].update(id=f"wamid.chaos{i}", timestamp=str(int(time.time())))
    value["messages"][0]["text"]["body"] = text
    raw = json.dumps(data).encode()
    return raw, {
        "content-type": "application/json",
        "x-hub-signature-256": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
    }


class FakeGraph:
    """Meta's Graph API on 127.0.0.1: accepts every send, counts (to, text) pairs."""

    def __init__(self) -> None:
        self.sends: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = {}
                with fake.lock:
                    n = sum(fake.sends.values())
                    fake.sends[(str(data.get("to", "")), _text(data))] += 1
                out = json.dumps({"messaging_product": "whatsapp", "messages": [{"id": f"wamid.out{n}"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v21.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def _text(data: dict) -> str:
    """The text of a Graph API send (text, or the body of an interactive message)."""
    if isinstance(data.get("text"), dict):
        return str(data["text"].get("body", ""))
    interactive = data.get("interactive") or {}
    if isinstance(interactive.get("body"), dict):
        return str(interactive["body"].get("text", ""))
    return json.dumps(data, sort_keys=True)


class Server:
    """``python -m app serve`` with WORKERS processes on a fixed port (a restart keeps it)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": TEST_SECRET,
            "DATA_DIR": str(folder),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WORKERS": str(WORKERS),
            "LOG_LEVEL": "WARNING",
            "SSE_KEEPALIVE": "1",
            "PRIVATE_NETWORKS": TEST_PRIVATE_NETWORKS,
            "ALLOW_HTTP": "1",
            "SWEEP_INTERVAL": str(SWEEP),
            **NO_FLOOD_LIMITS,
        }
        self.log = open(folder / "server.log", "a")  # noqa: SIM115 - closed by stop()
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        async with httpx.AsyncClient(timeout=1) as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: see {self.log.name}")
                try:
                    if (await client.get(self.url + "/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not become healthy in 30 s")

    def kill(self) -> int:
        """SIGKILL the server and all its processes at once (no shutdown code runs)."""
        assert self.proc is not None
        procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        for p in procs:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        self.proc.wait()
        psutil.wait_procs(procs, timeout=5)
        return len(procs)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def restart_postgres(server) -> None:
    """A PostgreSQL crash and start (``-m immediate``: no checkpoint, recovery at start)."""
    from pgserver._commands import pg_ctl

    pg_ctl(
        ["-w", "-m", "immediate", "-l", str(server.log), "restart"],
        pgdata=server.pgdata,
        user=server.system_user,
        timeout=60,
    )


async def login(url: str, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=10)
    await client.get("/login")
    r = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]}
    )
    if r.status_code != 303:
        raise RuntimeError(f"login of {email}: {r.status_code}")
    return client


async def run() -> dict:
    folder, pg_server, url = await embedded_database("sb-bench-chaos-")
    graph = FakeGraph()
    db.configure(url)
    netpolicy.configure(netpolicy.Policy.from_settings(TEST_PRIVATE_NETWORKS, allow_http=True))
    company = await make_company("Chaos Co")
    sales = await make_department(company, "Sales", menu_position="1", menu_timeout="4")
    support = await make_department(company, "Support", menu_position="2", menu_timeout="4")
    agents = [
        await make_user(
            company, "agent", presence="online", capacity=6, departments=[sales, support] if n % 2 == 0 else [support]
        )
        for n in range(AGENTS)
    ]
    channel = await create_channel(
        company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1",
            "cred_access_token": "t",
            "cred_app_secret": SECRET,
            "cred_api_base": graph.url,
        },
    )
    await db.close_pool()
    server = Server(url, folder)
    await server.start()
    pg = await asyncpg.connect(url)
    stop = asyncio.Event()
    acked: set[int] = set()
    retried = replies = resolves = agent_errors = 0
    events: list[str] = []
    failures: Counter[str] = Counter()  # the agents' failed tries, by answer
    t0 = time.monotonic()

    async def pgq(query: str, *args):
        """A read for the harness itself, through a fresh connection when PostgreSQL restarted."""
        nonlocal pg
        for _ in range(60):
            try:
                return await pg.fetch(query, *args)
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                await asyncio.sleep(0.5)
                try:
                    pg = await asyncpg.connect(url)
                except (asyncpg.PostgresError, OSError):
                    pass
        raise RuntimeError("PostgreSQL did not come back")

    async def heartbeats() -> None:
        """What agents' open tabs do: a heartbeat every second (the app's SSE keep-alive)."""
        while not stop.is_set():
            try:
                await pgq(
                    "UPDATE app_user SET last_seen_at = now() WHERE company_id = $1 AND presence <> 'offline'",
                    company.id,
                )
            except RuntimeError:
                pass
            await asyncio.sleep(1)

    poster = httpx.AsyncClient(
        base_url=server.url, timeout=10, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
    )

    async def deliver(i: int, customer: int, text: str) -> None:
        nonlocal retried
        raw, headers = webhook(i, customer, text)
        for _attempt in range(240):
            try:
                r = await poster.post(f"/webhooks/meta/{channel.id}", content=raw, headers=headers)
                if r.status_code == 200:
                    acked.add(i)
                    return
            except httpx.HTTPError:
                pass
            retried += 1
            await asyncio.sleep(0.5)

    async def agent_loop(agent, client: httpx.AsyncClient) -> None:
        """An agent answers the oldest conversation waiting on them, and resolves one now and then."""
        nonlocal replies, resolves, agent_errors
        n = 0
        while not stop.is_set():
            await asyncio.sleep(random.uniform(0.5, 1.5))
            try:
                rows = await pg.fetch(
                    "SELECT id FROM conversation WHERE assigned_user_id = $1 AND status = 'assigned' "
                    "ORDER BY awaiting_agent_since NULLS LAST LIMIT 1",
                    agent.id,
                )
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                continue  # the harness's connection is re-made by pgq
            if not rows:
                continue
            cid = rows[0]["id"]
            n += 1
            try:
                r = await client.post(
                    f"/inbox/{cid}/messages",
                    data={"text": f"reply {agent.id}-{n}", "_csrf_token": client.cookies.get("csrftoken", "")},
                )
                if r.status_code in (200, 303):
                    replies += 1
                else:
                    agent_errors += 1
                    failures[str(r.status_code)] += 1
                if random.random() < 0.3:
                    r = await client.post(
                        f"/inbox/{cid}/resolve", data={"_csrf_token": client.cookies.get("csrftoken", "")}
                    )
                    resolves += r.status_code in (200, 303)
                    if r.status_code not in (200, 303):
                        failures[f"resolve {r.status_code}"] += 1
            except httpx.HTTPError as exc:
                agent_errors += 1  # the server is down: the agent tries again later
                failures[type(exc).__name__] += 1

    beat = asyncio.create_task(heartbeats())
    clients = [await login(server.url, a.email) for a in agents]
    workers = [asyncio.create_task(agent_loop(a, c)) for a, c in zip(agents, clients, strict=True)]
    sends: list[asyncio.Task] = []
    total = int(RATE * SECONDS)
    seen: list[int] = []
    t0 = time.monotonic()

    async def faults() -> None:
        """The kill and the database restart, on their own clock: webhooks keep coming meanwhile."""
        await asyncio.sleep(max(0.0, t0 + KILL_AT - time.monotonic()))
        n = server.kill()
        events.append(f"SIGKILL of {n} server processes at {time.monotonic() - t0:.1f} s")
        restart = time.monotonic()
        await server.start()
        events.append(f"server back in {time.monotonic() - restart:.1f} s")
        await asyncio.sleep(max(0.0, t0 + PG_RESTART_AT - time.monotonic()))
        restart = time.monotonic()
        await asyncio.to_thread(restart_postgres, pg_server)
        events.append(f"PostgreSQL restarted (immediate) at {restart - t0:.1f} s in {time.monotonic() - restart:.1f} s")

    chaos = asyncio.create_task(faults())
    for i in range(total):
        await asyncio.sleep(max(0.0, t0 + i / RATE - time.monotonic()))
        if seen and random.random() < 0.5:  # a returning customer (or one answering the menu)
            customer = random.choice(seen)
            text = random.choice(["1", "2", "yes", "no", f"again {i}"])
        else:
            customer = len(seen)
            seen.append(customer)
            text = f"hello {i}"
        sends.append(asyncio.create_task(deliver(i, customer, text)))
    await chaos
    await asyncio.gather(*sends)
    stop.set()
    await asyncio.gather(*workers, beat, return_exceptions=True)
    # 2 sweeps, then the outbox drains: until nothing the sender could claim now is left (what a
    # killed process claimed waits for its lease; what follows it in its conversation waits too).
    await asyncio.sleep(2 * SWEEP)
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline:
        rows = await pgq(
            "SELECT count(*) AS n FROM message p WHERE p.direction = 'out' AND p.status = 'pending' "
            "AND p.next_attempt_at <= now() AND NOT EXISTS (SELECT 1 FROM message q WHERE "
            "q.conversation_id = p.conversation_id AND q.status = 'pending' AND q.id < p.id)"
        )
        if not rows[0]["n"]:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)  # the last send's answer is recorded
    if LEASE_END:
        # What the sender's 120 s lease would do, without waiting for it: messages a killed process
        # (or a lost connection) claimed become due again; the sender then decides what to do with them.
        ended = await pgq(
            "WITH e AS (UPDATE message SET next_attempt_at = now() WHERE direction = 'out' "
            "AND status = 'pending' AND next_attempt_at > now() RETURNING 1) SELECT count(*) AS n FROM e"
        )
        events.append(f"leases ended at once: {ended[0]['n']} pending outbound messages due again")
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline:
            rows = await pgq(
                "SELECT count(*) AS n FROM message WHERE direction = 'out' AND status = 'pending' "
                "AND next_attempt_at <= now()"
            )
            if not rows[0]["n"]:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)
    pending = (await pgq("SELECT count(*) AS n FROM message WHERE direction = 'out' AND status = 'pending'"))[0]["n"]
    if server.proc is not None and server.proc.poll() is not None:
        events.append(f"the server exited by itself (code {server.proc.returncode}) before the end: see its log")

    rows = await pgq(
        "SELECT provider_message_id AS p, count(*) AS n FROM message "
        "WHERE channel_id = $1 AND direction = 'in' GROUP BY 1",
        channel.id,
    )
    stored_ids = {r["p"]: r["n"] for r in rows}
    lost = sum(1 for i in acked if f"wamid.chaos{i}" not in stored_ids)
    stored = sum(1 for i in acked if f"wamid.chaos{i}" in stored_ids)
    dup = sum(n - 1 for n in stored_ids.values())
    # Sent twice: the provider was asked more often than we hold the message (per customer, text).
    held = Counter(
        (r["phone"], r["text"] or "")
        for r in await pgq(
            "SELECT ct.phone, m.text FROM message m JOIN conversation c ON c.id = m.conversation_id "
            "JOIN contact ct ON ct.id = c.contact_id WHERE m.channel_id = $1 AND m.direction = 'out'",
            channel.id,
        )
    )
    with graph.lock:
        asked = dict(graph.sends)
    sent_twice = sum(
        max(0, n - held.get((to.lstrip("+"), text), 0) - held.get(("+" + to.lstrip("+"), text), 0))
        for (to, text), n in asked.items()
    )
    db.configure(url)
    stranded = await invariants.check(company.id, settled=True, late_seconds=2 * SWEEP)
    overdue = await invariants.worst_lateness(company.id)
    states = await pgq(
        "SELECT status, bot_state, count(*) AS n FROM conversation WHERE company_id = $1 GROUP BY 1, 2 ORDER BY 1, 2",
        company.id,
    )
    presence = await pgq(
        "SELECT u.id, u.presence, (SELECT count(*) FROM conversation c WHERE c.assigned_user_id = u.id "
        "AND c.status = 'assigned') AS n FROM app_user u WHERE u.company_id = $1 AND u.role = 'agent' "
        "ORDER BY u.id",
        company.id,
    )
    # Accepted by the provider yet still pending: the sender sends these again when their lease ends
    # unless it reconciles (issue 15, "Outbound after a crash").
    unsettled = sum(
        1
        for r in await pgq(
            "SELECT ct.phone, m.text FROM message m JOIN conversation c ON c.id = m.conversation_id "
            "JOIN contact ct ON ct.id = c.contact_id WHERE m.channel_id = $1 AND m.direction = 'out' "
            "AND m.status = 'pending'",
            channel.id,
        )
        if asked.get((r["phone"].lstrip("+"), r["text"] or "")) or asked.get((r["phone"], r["text"] or ""))
    )
    statuses = await pgq(
        "SELECT status || coalesce(' (' || nullif(error_code, '') || ')', '') AS status, count(*) AS n FROM message "
        "WHERE direction = 'out' GROUP BY 1 ORDER BY 1"
    )
    await db.close_pool()
    await poster.aclose()
    for c in clients:
        await c.aclose()
    await pg.close()
    server.stop()
    keep = os.environ.get("CHAOS_KEEP_LOG")
    if keep:  # the servers' log outlives the run's folder
        Path(keep).write_text(Path(server.log.name).read_text(errors="replace"))
    graph.stop()
    pg_server.cleanup()
    return {
        "acked": len(acked),
        "stored": stored,
        "lost": lost,
        "dup": dup,
        "stranded": stranded,
        "overdue_s": overdue,
        "sent_twice": sent_twice,
        "total": total,
        "retried": retried,
        "replies": replies,
        "resolves": resolves,
        "agent_errors": agent_errors,
        "failures": dict(failures),
        "events": events,
        "pending": pending,
        "unsettled": unsettled,
        "agents": ", ".join(f"{r['id']}:{r['presence']}/{r['n']}" for r in presence),
        "provider_sends": sum(asked.values()),
        "states": ", ".join(f"{r['status']}/{r['bot_state'] or '-'}={r['n']}" for r in states),
        "out": ", ".join(f"{r['status']}={r['n']}" for r in statuses),
        "log": server.log.name,
    }


def report(r: dict) -> str:
    print(*r["events"], sep="\n")
    print(
        f"{r['total']} webhooks at {RATE:g}/s over {SECONDS:g} s, {r['retried']} provider retries; "
        f"{AGENTS} agents: {r['replies']} replies, {r['resolves']} resolved, "
        f"{r['agent_errors']} failed tries {r['failures']}; "
        f"provider asked to send {r['provider_sends']}; outbound: {r['out']} (pending at the end: {r['pending']}); "
        f"conversations: {r['states']}; agents (presence/holding): {r['agents']}; "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if r["unsettled"]:
        print(
            f"unsettled={r['unsettled']}: outbound messages the provider accepted that are still pending "
            "(a killed process claimed them): sent again when their 120 s lease ends, unless reconciled"
        )
    for line in r["stranded"][:10]:
        print("stranded:", line)
    line = (
        f"RESULT chaos acked={r['acked']} stored={r['stored']} lost={r['lost']} dup={r['dup']} "
        f"stranded={len(r['stranded'])} overdue_s={r['overdue_s']:.1f} sent_twice={r['sent_twice']}"
    )
    print(line, flush=True)
    return line


if __name__ == "__main__":
    report(asyncio.run(run()))
