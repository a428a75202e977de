"""The routing guarantees (README, "Routing guarantees"), checked against the database.

``check()`` reads the database only and returns the violations it finds, each a short
sentence naming the conversation or agent; an empty list means every guarantee holds. The
tests (tests/dispatch/test_routing_model.py, after every step of a random run) and the chaos
benchmark (tests/benchmarks/bench_chaos.py) use it. ``settled=True`` adds the guarantees that
hold once the dispatcher has caught up (after a sweep): nobody waits while an eligible agent
has room, nothing is with an offline agent, no step is overdue.
"""

from __future__ import annotations

from app.dispatch.assignment import AUTO_REPEAT_WINDOW, CANDIDATES_SQL
from app.dispatch.timers import DUE_SQL
from app.domain import sql

# Always true, whatever the dispatcher has done yet.
_STATE = """
SELECT c.id, c.status, c.bot_state, c.department_id, c.assigned_user_id FROM conversation c
WHERE c.status <> 'resolved' AND ($1::int IS NULL OR c.company_id = $1) AND NOT (
    (c.status = 'bot' AND (c.bot_state IN ('', 'menu', 'returning', 'order')))
 OR (c.status = 'queued' AND c.department_id IS NOT NULL AND c.assigned_user_id IS NULL)
 OR (c.status = 'assigned' AND c.assigned_user_id IS NOT NULL))
"""

_OVER_CAPACITY = """
SELECT u.id, u.capacity, count(c.id) AS load FROM app_user u JOIN conversation c
  ON c.assigned_user_id = u.id AND c.status = 'assigned'
WHERE ($1::int IS NULL OR u.company_id = $1)
GROUP BY u.id HAVING count(c.id) > u.capacity
"""

_RESOLVED_TEXT = """
SELECT c.id FROM conversation c JOIN message m ON m.conversation_id = c.id
WHERE c.status = 'resolved' AND m.author = 'bot' AND m.created_at > c.resolved_at + interval '1 second'
  AND ($1::int IS NULL OR c.company_id = $1) LIMIT 20
"""

_REPEATED_TEXT = """
SELECT a.conversation_id AS id, left(a.text, 40) AS text FROM message a JOIN message b
  ON b.conversation_id = a.conversation_id AND b.author = 'bot' AND b.text = a.text AND b.id > a.id
 AND b.created_at < a.created_at + make_interval(secs => $2)
WHERE a.author = 'bot' AND ($1::int IS NULL OR a.company_id = $1) LIMIT 20
"""

# Settled: a queued conversation while an eligible agent of its department has room, except
# by the department's 'wait' rule for the agent it timed out on.
_WAITING_BESIDE_ROOM = """
SELECT c.id, c.company_id, c.department_id, c.timed_out_user_id, d.reinjection_policy FROM conversation c
JOIN department d ON d.id = c.department_id
WHERE c.status = 'queued' AND ($1::int IS NULL OR c.company_id = $1)
"""

_OFFLINE_HOLDER = """
SELECT c.id, u.id AS user_id FROM conversation c JOIN app_user u ON u.id = c.assigned_user_id
LEFT JOIN department d ON d.id = c.department_id
WHERE c.status = 'assigned' AND (u.presence = 'offline' OR NOT u.active)
  AND NOT (coalesce(d.offline_policy, 'requeue') = 'keep_answered' AND c.awaiting_agent_since IS NULL)
  AND ($1::int IS NULL OR c.company_id = $1)
"""


async def check(company_id: int | None = None, *, settled: bool = False, late_seconds: float = 0.0) -> list[str]:
    """The violated guarantees, in words (empty: all hold). ``late_seconds``: how late a
    pending step may be (settled only)."""
    out: list[str] = []
    for r in await sql.fetch(_STATE, company_id):
        out.append(
            f"conversation {r['id']} is in no valid state: {r['status']} / '{r['bot_state']}' / "
            f"department {r['department_id']} / agent {r['assigned_user_id']}"
        )
    for r in await sql.fetch(_OVER_CAPACITY, company_id):
        out.append(f"agent {r['id']} holds {r['load']} conversations, over their capacity {r['capacity']}")
    for r in await sql.fetch(_RESOLVED_TEXT, company_id):
        out.append(f"conversation {r['id']} got an automatic text after it was resolved")
    for r in await sql.fetch(_REPEATED_TEXT, company_id, float(AUTO_REPEAT_WINDOW)):
        out.append(f"conversation {r['id']} got the same automatic text twice within the window: {r['text']!r}")
    if not settled:
        return out
    for r in await sql.fetch(_OFFLINE_HOLDER, company_id):
        out.append(f"conversation {r['id']} is with agent {r['user_id']}, who is offline")
    rooms: dict[tuple[int, int], set[int]] = {}
    for r in await sql.fetch(_WAITING_BESIDE_ROOM, company_id):
        key = (r["company_id"], r["department_id"])
        if key not in rooms:
            rooms[key] = {c["id"] for c in await sql.fetch(CANDIDATES_SQL, *key) if c["open"] < c["capacity"]}
        free = rooms[key]
        if r["reinjection_policy"] == "wait" and free <= {r["timed_out_user_id"]}:
            continue  # the department's rule: wait for someone else
        if free:
            out.append(
                f"conversation {r['id']} waits in department {r['department_id']} "
                f"while agent(s) {sorted(free)} have room"
            )
    tail = " AND s.due_at < now() - make_interval(secs => $1::float8)"
    if company_id is not None:
        tail += f" AND c.company_id = {int(company_id)}"
    for r in await sql.fetch(DUE_SQL + tail, float(late_seconds)):
        out.append(f"conversation {r['id']}: its {r['kind']} step was due at {r['due_at']:%H:%M:%S} and is overdue")
    return out


async def worst_lateness(company_id: int | None = None) -> float:
    """Seconds the most overdue pending step is late (0 when none is): the benchmark's overdue_s."""
    tail = " AND s.due_at < now()" + (f" AND c.company_id = {int(company_id)}" if company_id is not None else "")
    value = await sql.fetchval(f"SELECT coalesce(max(extract(epoch FROM now() - due_at)), 0) FROM ({DUE_SQL + tail}) x")
    return float(value or 0)
