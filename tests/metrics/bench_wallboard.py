"""Wallboard and metrics on a busy company: 200 agents in 10 departments, 20,000 conversations
and 200,000 messages today, their assignments, resolutions and reinjections.

Times one wallboard snapshot (the queries, done at most once a second per company and process
however many supervisors watch), rendering its panels (once per snapshot and language), and
the metrics page's computation for the day per agent. Run:
`.venv/bin/python tests/metrics/bench_wallboard.py`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import db  # noqa: E402
from app.domain import metrics, sql, wallboard  # noqa: E402
from app.web.supervisor import render_panels  # noqa: E402
from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.dispatch.factories import make_channel  # noqa: E402
from tests.factories import make_company, make_department, make_user  # noqa: E402

AGENTS, DEPARTMENTS, CONVERSATIONS, MESSAGES = 200, 10, 20_000, 200_000


async def timed(make, runs: int = 5) -> tuple[float, object]:
    times, value = [], None
    for _ in range(runs):
        started = time.perf_counter()
        value = await make()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, value


async def main() -> None:
    _, server, url = await embedded_database("sb-bench-wallboard-")
    await db.open_pool(min_size=2, max_size=10)
    try:
        company = await make_company("Bench")
        deps = [await make_department(company) for _ in range(DEPARTMENTS)]
        channel = await make_channel(company)
        agents = [
            await make_user(company, capacity=1000, presence="online", departments=[deps[n % DEPARTMENTS]])
            for n in range(AGENTS)
        ]
        now = datetime.now(UTC)
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        span = max((now - start).total_seconds() - 60, 60)
        dep_ids, agent_ids = [d.id for d in deps], [a.id for a in agents]
        # Conversations spread over the day: 70 % assigned, 20 % resolved, 5 % queued, 5 % bot.
        await sql.execute(
            """WITH contacts AS (
                   INSERT INTO contact (company_id, phone, name)
                   SELECT $1, '+4930' || lpad(n::text, 8, '0'), 'Customer ' || n FROM generate_series(1, $2) n RETURNING id)
               INSERT INTO conversation (company_id, channel_id, contact_id, status, department_id, assigned_user_id,
                                         created_at, assigned_at, queued_at, awaiting_agent_since, resolved_at, reinjections)
               SELECT $1, $3, id, s, ($4::int[])[1 + id % $5],
                      CASE WHEN s IN ('assigned', 'resolved') THEN ($6::int[])[1 + id % $7] END,
                      t, t + interval '30 s', CASE WHEN s = 'queued' THEN t END,
                      CASE WHEN s = 'assigned' AND id % 3 = 0 THEN t + interval '40 s' END,
                      CASE WHEN s = 'resolved' THEN t + interval '10 min' END, CASE WHEN id % 40 = 0 THEN 3 ELSE 0 END
               FROM (SELECT id, CASE WHEN id % 20 < 14 THEN 'assigned' WHEN id % 20 < 18 THEN 'resolved'
                                     WHEN id % 20 = 18 THEN 'queued' ELSE 'bot' END AS s,
                            $8::timestamptz + make_interval(secs => (id % 997) * $9 / 997.0) AS t FROM contacts) c""",
            company.id,
            CONVERSATIONS,
            channel,
            dep_ids,
            DEPARTMENTS,
            agent_ids,
            AGENTS,
            start,
            span,
        )
        await sql.execute(
            """INSERT INTO conversation_event (company_id, conversation_id, kind, from_status, to_status, to_user_id,
                                               from_user_id, to_department_id, at)
               SELECT company_id, id, 'queued', 'bot', 'queued', NULL::int, NULL::int, department_id, created_at + interval '10 s'
               FROM conversation WHERE company_id = $1 AND status <> 'bot'
               UNION ALL
               SELECT company_id, id, 'assigned', 'queued', 'assigned', assigned_user_id, NULL::int, department_id, assigned_at
               FROM conversation WHERE company_id = $1 AND status IN ('assigned', 'resolved')
               UNION ALL
               SELECT company_id, id, 'resolved', 'assigned', 'resolved', assigned_user_id, assigned_user_id, department_id, resolved_at
               FROM conversation WHERE company_id = $1 AND status = 'resolved'
               UNION ALL
               SELECT company_id, id, 'reinjected', 'assigned', 'queued', NULL::int, assigned_user_id, department_id, assigned_at + interval '5 s'
               FROM conversation WHERE company_id = $1 AND reinjections > 0""",
            company.id,
        )
        await sql.execute(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, author_user_id, type, text,
                                    status, created_at)
               SELECT c.company_id, c.channel_id, c.id, CASE WHEN n % 10 < 5 THEN 'in' ELSE 'out' END,
                      CASE WHEN n % 10 < 5 THEN 'customer' WHEN n % 10 = 9 THEN 'bot' ELSE 'agent' END,
                      CASE WHEN n % 10 BETWEEN 5 AND 8 THEN c.assigned_user_id END, 'text', 'hello',
                      CASE WHEN n % 10 < 5 THEN 'received' ELSE 'sent' END,
                      least(c.created_at + make_interval(secs => 45 + n * 20), now())
               FROM conversation c CROSS JOIN generate_series(0, $2 - 1) n
               WHERE c.company_id = $1""",
            company.id,
            MESSAGES // CONVERSATIONS,
        )
        await sql.execute("ANALYZE")
        counted = await sql.fetchval("SELECT count(*) FROM message WHERE company_id = $1", company.id)
        schedules = await metrics.load_schedules(company.id)
        snap_ms, snap = await timed(lambda: wallboard.snapshot(company.id, schedules))

        live_ms, _ = await timed(lambda: wallboard.snapshot(company.id, schedules, previous=snap))

        async def render():
            return render_panels(snap)

        render_ms, panels = await timed(render)
        size = sum(len(p) for p in panels.values())
        day_ms, rows = await timed(
            lambda: metrics.compute(
                company.id, start, now + timedelta(seconds=1), group_by="agent", schedule=schedules[0]
            ),
            runs=3,
        )
        print(f"{AGENTS} agents, {CONVERSATIONS} conversations, {counted} messages today")
        print(
            f"wallboard snapshot: {snap_ms:.0f} ms with the day's figures, {live_ms:.0f} ms live part only (medians of 5)"
        )
        print(f"render every panel: {render_ms:.0f} ms, {size / 1024:.0f} KB")
        print(f"metrics for the day per agent: {day_ms:.0f} ms ({len(rows)} rows)")
        print(
            f"RESULT wallboard snapshot {snap_ms:.0f} ms (live part {live_ms:.0f} ms), render {render_ms:.0f} ms, "
            f"metrics day/agent {day_ms:.0f} ms"
        )
    finally:
        await db.close_pool()
        server.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
