"""Dispatch at scale: 10,000 queued conversations, 200 agents in 10 departments.

Queues the conversations while every agent is offline, then brings all agents online (their
presence actions, as at the start of a shift) and drains the queues as the dispatcher does,
timing from the first agent online to the last conversation assigned. Then checks the
invariants. Run: `scripts/dev bench` or `.venv/bin/python tests/benchmarks/bench_dispatch.py`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import db  # noqa: E402
from app.dispatch.assignment import drain_everything  # noqa: E402
from app.domain import sql  # noqa: E402
from app.domain.presence import set_presence  # noqa: E402
from app.domain.tables import User  # noqa: E402
from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.dispatch.factories import make_channel  # noqa: E402
from tests.factories import make_company, make_department, make_user  # noqa: E402

CONVERSATIONS = 10_000
AGENTS = 200
DEPARTMENTS = 10
CAPACITY = 60  # 12,000 slots for 10,000 conversations: balance is the strategy's doing


async def main() -> None:
    tmp, server, url = await embedded_database("sb-bench-dispatch-")
    await db.open_pool(min_size=2, max_size=10)
    try:
        company = await make_company("Bench")
        deps = [await make_department(company) for _ in range(DEPARTMENTS)]
        channel = await make_channel(company)
        agents = [
            await make_user(company, capacity=CAPACITY, departments=[deps[n % DEPARTMENTS]]) for n in range(AGENTS)
        ]
        started = time.perf_counter()
        await sql.execute(
            """WITH contacts AS (
                   INSERT INTO contact (company_id, phone, name)
                   SELECT $1, '+4930' || lpad(n::text, 8, '0'), 'Customer ' || n FROM generate_series(1, $2) n
                   RETURNING id)
               INSERT INTO conversation (company_id, channel_id, contact_id, status, department_id, queued_at)
               SELECT $1, $3, id, 'queued', ($4::int[])[1 + (id % $5)], clock_timestamp() FROM contacts""",
            company.id,
            CONVERSATIONS,
            channel,
            [d.id for d in deps],
            DEPARTMENTS,
        )
        queued_seconds = time.perf_counter() - started

        started = time.perf_counter()
        users = await User.objects().where(User.company_id == company.id)
        await asyncio.gather(*(set_presence(u, "online") for u in users if u.id in {a.id for a in agents}))
        assigned_now = await drain_everything()
        seconds = time.perf_counter() - started

        assigned = await sql.fetchval("SELECT count(*) FROM conversation WHERE status = 'assigned'")
        loads = [
            r["n"]
            for r in await sql.fetch(
                """SELECT u.id, count(c.id) AS n FROM app_user u
               LEFT JOIN conversation c ON c.assigned_user_id = u.id AND c.status = 'assigned'
               WHERE u.company_id = $1 AND u.role = 'agent' GROUP BY u.id""",
                company.id,
            )
        ]
        violations = sum(1 for n in loads if n > CAPACITY)
        doubles = await sql.fetchval(
            """SELECT count(*) FROM (SELECT conversation_id FROM conversation_event WHERE kind = 'assigned'
                                      GROUP BY conversation_id HAVING count(*) > 1) d"""
        )
    finally:
        await db.close_pool()
        server.cleanup()
    print(f"queued {CONVERSATIONS} conversations in {queued_seconds:.2f} s (one statement)")
    print(
        f"{AGENTS} agents online and {assigned_now} conversations assigned in {seconds:.2f} s "
        f"({assigned_now / seconds:.0f} assignments/s, conversation_event rows and NOTIFYs included)"
    )
    print(f"loads: min {min(loads)}, max {max(loads)}")
    print(
        f"RESULT dispatch assigned={assigned} seconds={seconds:.2f} max_minus_min_load={max(loads) - min(loads)} "
        f"capacity_violations={violations} double_assignments={doubles}"
    )


if __name__ == "__main__":
    asyncio.run(main())
