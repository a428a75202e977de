"""Foundation figures: login latency, and presence change → SSE event in another process.

Starts an embedded PostgreSQL in a temporary folder and two `switchboard serve` processes on
it, then measures over real HTTP. Run: `scripts/dev bench` or
`.venv/bin/python tests/benchmarks/bench_foundation.py`. The last line is the RESULT.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.conftest import NO_FLOOD_LIMITS, LiveServer  # noqa: E402
from tests.factories import PASSWORD, make_company, make_user  # noqa: E402

LOGINS = 30
TOGGLES = 100


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def login(client: httpx.AsyncClient, email: str) -> float:
    await client.get("/login")
    started = time.perf_counter()
    response = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]}
    )
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 303, response.status_code
    return elapsed


async def main() -> None:
    tmp, server, url = await embedded_database("sb-bench-")
    company = await make_company("Bench Co")
    agent = await make_user(company, "agent")
    admin = await make_user(company, "admin")
    a = LiveServer(url, tmp, env=NO_FLOOD_LIMITS)
    b = LiveServer(url, tmp, env=NO_FLOOD_LIMITS)
    try:
        async with httpx.AsyncClient(base_url=a.url) as on_a, httpx.AsyncClient(base_url=b.url) as on_b:
            login_ms = []
            for _ in range(LOGINS):
                on_a.cookies.clear()
                login_ms.append(await login(on_a, agent.email))
            await login(on_b, admin.email)
            page_ms = []
            for _ in range(50):
                started = time.perf_counter()
                assert (await on_a.get("/")).status_code == 200
                page_ms.append((time.perf_counter() - started) * 1000)

            latencies = []
            async with on_b.stream("GET", "/events", timeout=30) as stream:
                lines = stream.aiter_lines()
                wanted = f"event: presence-{agent.id}"

                async def until(marker: str) -> None:
                    async for line in lines:
                        if line == marker:
                            return

                await asyncio.wait_for(until("event: ready"), 5)
                token = on_a.cookies["csrftoken"]
                for n in range(TOGGLES):
                    presence = "online" if n % 2 == 0 else "busy"
                    started = time.perf_counter()
                    response = await on_a.post(
                        "/presence", data={"presence": presence, "_csrf_token": token}, headers={"HX-Request": "true"}
                    )
                    assert response.status_code == 200
                    await asyncio.wait_for(until(wanted), 5)
                    latencies.append((time.perf_counter() - started) * 1000)
    finally:
        a.stop()
        b.stop()
        server.cleanup()

    print(
        f"login POST (argon2id verify included), {LOGINS} logins: p50 {statistics.median(login_ms):.1f} ms, "
        f"p95 {pct(login_ms, 0.95):.1f} ms"
    )
    print(
        f"logged-in page GET /, 50 requests: p50 {statistics.median(page_ms):.1f} ms, p95 {pct(page_ms, 0.95):.1f} ms"
    )
    print(
        f"presence POST on process A -> SSE event on process B, {TOGGLES} changes: "
        f"p50 {statistics.median(latencies):.1f} ms, p95 {pct(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms"
    )
    print(
        f"RESULT foundation login_p50_ms={statistics.median(login_ms):.1f} login_p95_ms={pct(login_ms, 0.95):.1f} "
        f"page_p50_ms={statistics.median(page_ms):.1f} presence_to_sse_other_process_p50_ms={statistics.median(latencies):.1f} "
        f"presence_to_sse_other_process_p95_ms={pct(latencies, 0.95):.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
