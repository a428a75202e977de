"""Agent workspace figures: the inbox page with 500 conversations, a conversation of 5,000
messages, and 1,000 concurrent event streams on one server process.

Starts an embedded PostgreSQL in a temporary folder and one `switchboard serve` process
(WORKERS=1) on it, then measures over real HTTP:
- inbox: GET /inbox for an agent holding 500 conversations (first page of the list, tab
  counts, the title's unread counts);
- conversation: GET /inbox/<id> (the whole page) for a conversation of 5,000 messages;
- SSE: 1,000 clients open /events?topics=inbox as the inbox page does (half the agent, half a
  supervisor), then a customer
  message is announced (NOTIFY, as the ingestion action does) several times; every client must
  receive its inbox row within 1 s. The server process's resident memory (VmRSS, with any
  child process) is read from /proc once all streams are open and after the broadcasts.
Run: `scripts/dev bench` or `.venv/bin/python tests/benchmarks/bench_pages.py`. The last line is the RESULT.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import db  # noqa: E402
from app.domain import sql  # noqa: E402
from app.domain.events import CHANNEL, MessageReceived  # noqa: E402
from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.conftest import NO_FLOOD_LIMITS, LiveServer  # noqa: E402
from tests.dispatch.factories import make_channel  # noqa: E402
from tests.factories import PASSWORD, make_company, make_department, make_user  # noqa: E402

CONVERSATIONS = 500
BIG = 5_000
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1000"))
BROADCASTS = 5


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def seed() -> tuple[int, int, int, str, str]:
    company = await make_company("Bench")
    sales = await make_department(company, "Sales")
    channel = await make_channel(company, department=sales)
    agent = await make_user(company, "agent", capacity=1000, departments=[sales])
    boss = await make_user(company, "supervisor")
    await sql.execute(
        """WITH contacts AS (
               INSERT INTO contact (company_id, phone, name)
               SELECT $1, '+4930' || lpad(n::text, 8, '0'), 'Customer ' || n FROM generate_series(1, $2) n RETURNING id),
           convs AS (
               INSERT INTO conversation (company_id, channel_id, contact_id, status, department_id, assigned_user_id,
                                         assigned_at, last_message_at, last_inbound_at)
               SELECT $1, $3, id, 'assigned', $4, $5, now(), now() - (id || ' seconds')::interval, now() FROM contacts
               RETURNING id)
           INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status, provider_message_id)
           SELECT $1, $3, convs.id, CASE WHEN k % 2 = 0 THEN 'in' ELSE 'out' END, CASE WHEN k % 2 = 0 THEN 'customer' ELSE 'agent' END,
                  'text', 'Message ' || k || ' of conversation ' || convs.id, CASE WHEN k % 2 = 0 THEN 'received' ELSE 'read' END,
                  'p-' || convs.id || '-' || k
           FROM convs, generate_series(1, 4) k""",
        company.id,
        CONVERSATIONS,
        channel,
        sales.id,
        agent.id,
    )
    big = await sql.fetchval(
        "SELECT id FROM conversation WHERE company_id = $1 ORDER BY last_message_at DESC LIMIT 1", company.id
    )
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, author_user_id, type, text,
                                status, provider_message_id, created_at)
           SELECT $1, $2, $3, CASE WHEN k % 3 = 0 THEN 'out' ELSE 'in' END, CASE WHEN k % 3 = 0 THEN 'agent' ELSE 'customer' END,
                  CASE WHEN k % 3 = 0 THEN $4::int END, 'text', repeat('Line of the long conversation ', 1 + k % 5) || k,
                  CASE WHEN k % 3 = 0 THEN 'delivered' ELSE 'received' END, 'big-' || k,
                  now() - make_interval(secs => $5 - k)
           FROM generate_series(1, $5) k""",
        company.id,
        channel,
        big,
        agent.id,
        BIG,
    )
    # Labels (issue 18): ten of them, two on every other conversation (the rows show them).
    await sql.execute(
        """WITH labels AS (
               INSERT INTO label (company_id, name, colour)
               SELECT $1, 'Label ' || n, '#4f46e5' FROM generate_series(1, 10) n RETURNING id)
           INSERT INTO conversation_label (company_id, conversation_id, label_id)
           SELECT $1, c.id, l.id FROM conversation c, labels l
           WHERE c.company_id = $1 AND c.id % 2 = 0 AND (c.id + l.id) % 5 IN (0, 1)""",
        company.id,
    )
    await sql.execute("ANALYZE")
    return company.id, big, channel, agent.email, boss.email


async def logged_in(base: str, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=CLIENTS + 50))
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]}
    )
    assert response.status_code == 303, response.text
    return client


async def timed_gets(client: httpx.AsyncClient, url: str, n: int) -> list[float]:
    for _ in range(10):  # warm up (templates, plans, pool)
        assert (await client.get(url)).status_code == 200
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


class Stream:
    """One browser tab's event stream over a plain socket (a light client, so that the figures
    are the server's): records when each inbox row arrives."""

    def __init__(self, host: str, port: int, cookie: str) -> None:
        self.host, self.port, self.cookie = host, port, cookie
        self.ready = asyncio.Event()
        self.rows: list[float] = []
        self.task: asyncio.Task | None = None

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(
            f"GET /events?topics=inbox HTTP/1.1\r\nHost: {self.host}\r\nCookie: {self.cookie}\r\n"
            f"Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        tail = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                data = tail + chunk
                if not self.ready.is_set() and b"event: ready" in data:
                    self.ready.set()
                if b"event: inbox-row" in data:
                    self.rows.append(time.perf_counter())
                tail = data[-32:]
        finally:
            writer.close()


async def main() -> None:
    tmp, server, url = await embedded_database("sb-bench-pages-")
    await db.open_pool(min_size=1, max_size=4)
    live = None
    clients: list[httpx.AsyncClient] = []
    streams: list[Stream] = []
    try:
        company_id, big, channel, agent_email, boss_email = await seed()
        os.environ["SSE_KEEPALIVE"] = "15"
        live = LiveServer(url, tmp, workers=1, env=NO_FLOOD_LIMITS)
        agent = await logged_in(live.url, agent_email)
        boss = await logged_in(live.url, boss_email)
        clients += [agent, boss]
        page = await agent.get("/inbox")
        rows = page.text.count('class="inbox-row ')
        inbox_times = await timed_gets(agent, "/inbox", REQUESTS)
        conversation_times = await timed_gets(agent, f"/inbox/{big}", REQUESTS)
        older = await agent.get(f"/inbox/{big}")
        print(
            f"inbox: {rows} rows shown of {CONVERSATIONS}; median {statistics.median(inbox_times):.1f} ms, "
            f"p95 {pct(inbox_times, 0.95):.1f} ms"
        )
        shown = older.text.count('class="msg ')
        print(
            f"conversation of {BIG} messages ({shown} shown, older ones on scroll): "
            f"median {statistics.median(conversation_times):.1f} ms, p95 {pct(conversation_times, 0.95):.1f} ms"
        )

        rss_before = rss_mb(live.proc.pid)
        # Each stream has its own connection; half are the agent's, half the supervisor's.
        cookies = ["; ".join(f"{k}={v}" for k, v in c.cookies.items()) for c in (boss, agent)]
        for n in range(0, CLIENTS, 100):
            batch = [Stream("127.0.0.1", live.port, cookies[k % 2]) for k in range(n, n + 100)]
            for s in batch:
                s.task = asyncio.create_task(s.run())
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in batch)), 60)
            streams += batch
        open_streams = sum(1 for s in streams if s.ready.is_set())
        await asyncio.sleep(1)
        rss_connected = rss_mb(live.proc.pid)
        print(
            f"{open_streams} event streams open; server RSS {rss_before:.0f} MB before, {rss_connected:.0f} MB with them"
        )

        latencies: list[float] = []
        on_time = CLIENTS
        notify = await asyncpg.connect(url)
        try:
            last = await sql.fetchval("SELECT max(id) FROM message WHERE conversation_id = $1", big)
            for k in range(BROADCASTS):
                for s in streams:
                    s.rows.clear()
                event = MessageReceived(company_id, big, last)
                sent = time.perf_counter()
                await notify.execute("SELECT pg_notify($1, $2)", CHANNEL, event.encode())
                deadline = sent + 3
                while time.perf_counter() < deadline and not all(s.rows for s in streams):
                    await asyncio.sleep(0.01)
                got = [s.rows[0] - sent for s in streams if s.rows]
                within = sum(1 for t in got if t <= 1.0)
                on_time = min(on_time, within)
                latencies += got
                print(
                    f"broadcast {k + 1}: {len(got)}/{CLIENTS} clients got the row, {within} within 1 s, "
                    f"slowest {max(got) * 1000 if got else float('nan'):.0f} ms"
                )
                await asyncio.sleep(0.5)
        finally:
            await notify.close()
        rss_after = rss_mb(live.proc.pid)
        print(
            f"server RSS after the broadcasts: {rss_after:.0f} MB; delivery p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {pct(latencies, 0.95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        print(
            f"RESULT pages inbox_p95_ms={pct(inbox_times, 0.95):.1f} conversation_p95_ms={pct(conversation_times, 0.95):.1f} "
            f"sse_clients={on_time} sse_rss_mb={max(rss_connected, rss_after):.0f}"
        )
    finally:
        for s in streams:
            if s.task:
                s.task.cancel()
        await asyncio.gather(*(s.task for s in streams if s.task), return_exceptions=True)
        for c in clients:
            await c.aclose()
        if live is not None:
            live.stop()
        await db.close_pool()
        server.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
