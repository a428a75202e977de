"""The wallboard's snapshot at a fixed instant: queues, agents, alerts, charts, and its panels
rendered in English and French with customer names escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain import metrics, sql, wallboard
from app.i18n import current_language
from app.web.supervisor import render_panels
from tests.dispatch.factories import make_channel
from tests.factories import make_company, make_department, make_user

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


async def _conversation(company, channel_id, department, status, name, *, created, **columns) -> int:
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, $2, $3) RETURNING id",
        company.id,
        f"+3361{abs(hash(name)) % 10**7:07d}",
        name,
    )
    conv = await sql.fetchval(
        """INSERT INTO conversation (company_id, channel_id, contact_id, status, department_id, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        company.id,
        channel_id,
        contact,
        status,
        department.id,
        created,
    )
    for column, value in columns.items():
        await sql.execute(f"UPDATE conversation SET {column} = $2 WHERE id = $1", conv, value)
    return conv


async def test_snapshot_and_panels():
    company = await make_company("Board Co")
    support = await make_department(company, "Support", response_timeout=300)
    sales = await make_department(company, "Sales", response_timeout=600)
    anna = await make_user(company, "agent", name="Anna", departments=[support], presence="online", capacity=4)
    await make_user(company, "agent", name="Bruno", departments=[sales], presence="offline")
    channel_id = await make_channel(company)

    # Support: two waiting, the oldest for 10 minutes (past its 5-minute timeout).
    for minutes, name in ((10, "Old Wait"), (2, "New Wait")):
        at = NOW - timedelta(minutes=minutes)
        conv = await _conversation(company, channel_id, support, "queued", name, created=at, queued_at=at)
        await sql.execute(
            """INSERT INTO conversation_event (company_id, conversation_id, kind, from_status, to_status, to_department_id, at)
               VALUES ($1, $2, 'queued', 'bot', 'queued', $3, $4)""",
            company.id,
            conv,
            support.id,
            at,
        )
    # Anna holds one conversation unanswered for 400 s (past 300 s), reinjected 3 times today.
    held = await _conversation(
        company,
        channel_id,
        support,
        "assigned",
        "Held <i>Customer</i>",
        created=NOW - timedelta(hours=1),
        assigned_user_id=anna.id,
        assigned_at=NOW - timedelta(seconds=400),
        awaiting_agent_since=NOW - timedelta(seconds=400),
        reinjections=3,
    )
    await sql.execute(
        """INSERT INTO conversation_event (company_id, conversation_id, kind, from_status, to_status, from_user_id,
               to_department_id, at) VALUES ($1, $2, 'reinjected', 'assigned', 'queued', $3, $4, $5)""",
        company.id,
        held,
        anna.id,
        support.id,
        NOW - timedelta(minutes=30),
    )
    await sql.execute(
        """INSERT INTO conversation_event (company_id, conversation_id, kind, from_status, to_status, to_user_id,
               to_department_id, at) VALUES ($1, $2, 'assigned', 'queued', 'assigned', $3, $4, $5)""",
        company.id,
        held,
        anna.id,
        support.id,
        NOW - timedelta(minutes=25),
    )
    # Messages: two from the customer at 09:xx, Anna's reply at 14:50, one bot message.
    for hour, minute, author, user in (
        (9, 5, "customer", None),
        (9, 40, "customer", None),
        (14, 50, "agent", anna),
        (9, 6, "bot", None),
    ):
        await sql.execute(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, author_user_id, type, text,
                                    status, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'text', 'x', 'sent', $7)""",
            company.id,
            channel_id,
            held,
            "in" if author == "customer" else "out",
            author,
            user.id if user else None,
            NOW.replace(hour=hour, minute=minute),
        )

    snap = await wallboard.snapshot(company.id, await metrics.load_schedules(company.id), NOW)
    deps = {d["name"]: d for d in snap.departments}
    assert (deps["Support"]["waiting"], deps["Support"]["longest"], deps["Support"]["over"]) == (2, 600, True)
    assert (deps["Sales"]["waiting"], deps["Sales"]["longest"]) == (0, None)
    agents = {a["name"]: a for a in snap.agents}
    assert (agents["Anna"]["load"], agents["Anna"]["capacity"], agents["Anna"]["over"]) == (1, 4, 1)
    assert agents["Anna"]["since_reply"] == 600  # 14:50 -> 15:00
    assert agents["Bruno"]["load"] == 0 and agents["Bruno"]["since_reply"] is None
    assert snap.statuses == {"bot": 0, "queued": 2, "assigned": 1, "resolved": 0}
    assert snap.reinjections_today == 1
    assert sorted(a["kind"] for a in snap.alerts) == ["agent", "queue", "reinjected"]
    assert (snap.hours[9]["customer"], snap.hours[9]["bot"], snap.hours[14]["agent"]) == (2, 1, 1)
    # Queue, rebuilt backwards from the 2 waiting now: empty until the reinjection at 14:30 (1,
    # assigned again at 14:35), empty 14:40-14:50, then 14:50 and 14:58 make 2.
    by_minute = {q["minute"]: q["length"] for q in snap.queue}
    assert [by_minute[14 * 60 + m] for m in (20, 30, 40, 50)] == [0, 1, 0, 2]
    assert len(snap.queue) == 90  # 10-minute buckets since midnight

    token = current_language.set("en")
    try:
        panels = render_panels(snap)
    finally:
        current_language.reset(token)
    assert "Support: a customer has waited 10 min 00 s (limit 5 min 00 s)." in panels["alerts"]
    assert "Anna has 1 conversation unanswered past the response timeout." in panels["alerts"]
    assert "reinjected 3 times" in panels["alerts"]
    assert "Held &lt;i&gt;Customer&lt;/i&gt;" in panels["agents"] and "<i>Customer" not in panels["agents"]
    assert "Held &lt;i&gt;Customer&lt;/i&gt;" in panels["alerts"] and "<i>Customer" not in panels["alerts"]
    assert panels["charts"].count('class="bar bar-') == 3
    token = current_language.set("fr")
    try:
        french = render_panels(snap)
    finally:
        current_language.reset(token)
    assert "Support : un client attend depuis 10 min 00 s (limite 5 min 00 s)." in french["alerts"]
    assert "réinjectée 3 fois" in french["alerts"] and "En file d'attente" in french["statuses"]
