"""Metrics on a scripted day, checked against figures computed by hand.

The company is in Europe/Paris (UTC+1 in March), open Monday to Friday 09:00-12:00 and
13:00-18:00. Tuesday 10 March 2026, local times; every row is inserted with its time.

Support (response timeout 300 s), Sales (600 s); agents Anna and Bruno (Support), Carla
(Sales, whose name starts with "=": CSV formula injection). Channels A and B.

conv1 (A, Support)  09:00:00 customer "hi"; 09:00:05 bot welcome; 09:01 queued; 09:02 assigned
                    to Anna; 09:02:10 automatic take-over message (bot: must NOT count as the
                    response, else 10 s); 09:04 Anna replies; 09:10 customer; 09:11 Anna;
                    09:30 resolved by Anna.
                    first response: from assignment 120 s, from creation 240 s; resolution 1800 s.
conv2 (A, Support)  11:50 customer; 11:55 queued; 11:58 assigned to Bruno; 13:03 Bruno replies.
                    Lunch (12:00-13:00) is closed: from assignment 2 min + 3 min = 300 s
                    (wall clock 65 min), within the 300 s target; from creation 10 + 3 min = 780 s.
conv3 (B, Support)  14:00 customer; 14:00:30 queued; 14:01 assigned to Anna; 14:06:30
                    reinjected (Anna) and assigned to Bruno; 14:07:30 Bruno replies; 14:20
                    resolved by Bruno. From (the last) assignment 60 s; from creation 450 s;
                    resolution 1200 s; one reinjection against Anna.
conv4 (B, Sales)    Monday 9 March 19:00 customer (closed since 18:00), 19:00:10 bot, 19:01
                    queued; Tuesday 08:59 assigned to Carla (still closed); 09:05 Carla replies;
                    09:20 resolved. From assignment 300 s (09:00-09:05), from creation 300 s
                    (the night is closed), resolution 1200 s (09:00-09:20).
conv5 (A, none)     16:00 customer, 16:00:02 bot; still with the bot: no response.
Another company has a conversation and a reply the same day: it must appear nowhere.

By hand, for Tuesday:
  Anna   assignments 2 (conv1, conv3), agent messages 2, first responses 1: 120 s / 240 s,
         1 within target; resolved 1 (1800 s); reinjections 1.
  Bruno  assignments 2 (conv2, conv3), messages 2, first responses 2: 300 and 60 -> avg 180,
         median 180; from creation 780, 450 -> 615; 2 within target; resolved 1 (1200 s).
  Carla  assignments 1, messages 1, first responses 1: 300 / 300, within (600 s); resolved 1 (1200 s).
  Support new 3, customer messages 4 (conv1 2, conv2 1, conv3 1), bot 2, agent 4; first
         responses 3: 120, 300, 60 -> avg 160, median 120; creation 240, 780, 450 -> 490;
         3 within; assignments 4; resolved 2 (1800, 1200 -> 1500); reinjections 1.
  Sales  new 0 (conv4 opened Monday), customer 0, bot 0, agent 1; first responses 1: 300 /
         300; assignments 1; resolved 1 (1200).
  Total  new 4, customer 5, bot 3, agent 5; first responses 4: 120, 300, 60, 300 -> avg 195,
         median 210; creation 240, 780, 450, 300 -> 442.5; 4 within; assignments 5;
         resolved 3: 1800, 1200, 1200 -> avg 1400, median 1200; reinjections 1.
  Channel A: new 3, customer 4, bot 3, agent 3; first responses 120, 300 -> 210; creation 240,
         780 -> 510; assignments 2; resolved 1 (1800).
  Channel B: new 1, customer 1, bot 0, agent 2; first responses 60, 300 -> 180; creation 450,
         300 -> 375; assignments 3; resolved 2 (1200, 1200); reinjections 1.
Monday 9 March alone: new 1 (conv4), customer 1, bot 1, nothing else.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.domain import metrics, sql
from app.domain.business_hours import load_schedule
from tests.dispatch.factories import make_channel
from tests.factories import make_company, make_department, make_user
from tests.helpers import login

PARIS = ZoneInfo("Europe/Paris")


def at(hms: str, day: int = 10) -> datetime:
    h, m, *s = (int(x) for x in hms.split(":"))
    return datetime(2026, 3, day, h, m, s[0] if s else 0, tzinfo=PARIS)


class Day:
    """Inserts rows with chosen times."""

    def __init__(self, company) -> None:
        self.company = company

    async def conversation(self, channel_id: int, department, created: datetime, status: str, name: str) -> int:
        contact = await sql.fetchval(
            "INSERT INTO contact (company_id, phone, name) VALUES ($1, $2, $3) RETURNING id",
            self.company.id,
            f"+33600{abs(hash(name)) % 10**6:06d}",
            name,
        )
        return await sql.fetchval(
            """INSERT INTO conversation (company_id, channel_id, contact_id, status, department_id, created_at, last_message_at)
               VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id""",
            self.company.id,
            channel_id,
            contact,
            status,
            department.id if department else None,
            created,
        )

    async def message(self, conv: int, when: datetime, author: str, user=None) -> None:
        channel_id = await sql.fetchval("SELECT channel_id FROM conversation WHERE id = $1", conv)
        await sql.execute(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, author_user_id, type, text,
                                    status, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'text', 'x', $7, $8)""",
            self.company.id,
            channel_id,
            conv,
            "in" if author == "customer" else "out",
            author,
            user.id if user else None,
            "received" if author == "customer" else "sent",
            when,
        )

    async def event(
        self, conv: int, when: datetime, kind: str, from_status, to_status, dep, *, from_user=None, to_user=None
    ):
        await sql.execute(
            """INSERT INTO conversation_event (company_id, conversation_id, kind, from_status, to_status, from_user_id,
                   to_user_id, from_department_id, to_department_id, at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)""",
            self.company.id,
            conv,
            kind,
            from_status,
            to_status,
            from_user.id if from_user else None,
            to_user.id if to_user else None,
            dep.id,
            when,
        )


@pytest.fixture
async def day():
    company = await make_company("Scripted Co")
    await sql.execute("UPDATE company SET timezone = 'Europe/Paris' WHERE id = $1", company.id)
    for weekday in range(5):
        for opens, closes in ((9 * 60, 12 * 60), (13 * 60, 18 * 60)):
            await sql.execute(
                "INSERT INTO business_hours (company_id, weekday, opens, closes) VALUES ($1, $2, $3, $4)",
                company.id,
                weekday,
                opens,
                closes,
            )
    support = await make_department(company, "Support", response_timeout=300)
    sales = await make_department(company, "Sales", response_timeout=600)
    anna = await make_user(company, "agent", name="Anna", departments=[support])
    bruno = await make_user(company, "agent", name="Bruno", departments=[support])
    carla = await make_user(company, "agent", name="=Carla", departments=[sales])
    a = await make_channel(company)
    b = await make_channel(company)
    await sql.execute("UPDATE channel SET name = 'Channel A' WHERE id = $1", a)
    await sql.execute("UPDATE channel SET name = 'Channel B' WHERE id = $1", b)
    d = Day(company)

    c1 = await d.conversation(a, support, at("09:00"), "resolved", "One")
    await d.message(c1, at("09:00"), "customer")
    await d.message(c1, at("09:00:05"), "bot")
    await d.event(c1, at("09:01"), "queued", "bot", "queued", support)
    await d.event(c1, at("09:02"), "assigned", "queued", "assigned", support, to_user=anna)
    await d.message(c1, at("09:02:10"), "bot")
    await d.message(c1, at("09:04"), "agent", anna)
    await d.message(c1, at("09:10"), "customer")
    await d.message(c1, at("09:11"), "agent", anna)
    await d.event(c1, at("09:30"), "resolved", "assigned", "resolved", support, from_user=anna, to_user=anna)

    c2 = await d.conversation(a, support, at("11:50"), "assigned", "Two")
    await d.message(c2, at("11:50"), "customer")
    await d.event(c2, at("11:55"), "queued", "bot", "queued", support)
    await d.event(c2, at("11:58"), "assigned", "queued", "assigned", support, to_user=bruno)
    await d.message(c2, at("13:03"), "agent", bruno)

    c3 = await d.conversation(b, support, at("14:00"), "resolved", "Three")
    await d.message(c3, at("14:00"), "customer")
    await d.event(c3, at("14:00:30"), "queued", "bot", "queued", support)
    await d.event(c3, at("14:01"), "assigned", "queued", "assigned", support, to_user=anna)
    await d.event(c3, at("14:06:30"), "reinjected", "assigned", "queued", support, from_user=anna)
    await d.event(c3, at("14:06:30"), "assigned", "queued", "assigned", support, to_user=bruno)
    await d.message(c3, at("14:07:30"), "agent", bruno)
    await d.event(c3, at("14:20"), "resolved", "assigned", "resolved", support, from_user=bruno, to_user=bruno)

    c4 = await d.conversation(b, sales, at("19:00", day=9), "resolved", "Four")
    await d.message(c4, at("19:00", day=9), "customer")
    await d.message(c4, at("19:00:10", day=9), "bot")
    await d.event(c4, at("19:01", day=9), "queued", "bot", "queued", sales)
    await d.event(c4, at("08:59"), "assigned", "queued", "assigned", sales, to_user=carla)
    await d.message(c4, at("09:05"), "agent", carla)
    await d.event(c4, at("09:20"), "resolved", "assigned", "resolved", sales, from_user=carla, to_user=carla)

    c5 = await d.conversation(a, None, at("16:00"), "bot", "Five")
    await d.message(c5, at("16:00"), "customer")
    await d.message(c5, at("16:00:02"), "bot")

    # Another company, same day: never counted.
    other = await make_company("Elsewhere")
    other_dep = await make_department(other, "Support")
    other_agent = await make_user(other, "agent", name="Zed", departments=[other_dep])
    o = Day(other)
    oc = await o.conversation(await make_channel(other), other_dep, at("10:00"), "resolved", "Other")
    await o.message(oc, at("10:00"), "customer")
    await o.event(oc, at("10:01"), "assigned", "queued", "assigned", other_dep, to_user=other_agent)
    await o.message(oc, at("10:02"), "agent", other_agent)
    await o.event(
        oc, at("10:03"), "resolved", "assigned", "resolved", other_dep, from_user=other_agent, to_user=other_agent
    )

    return company, {"anna": anna, "bruno": bruno, "carla": carla, "support": support, "sales": sales, "a": a, "b": b}


async def _rows(company, group_by: str, first: int = 10, last: int = 10):
    start, _ = metrics.day_bounds(datetime(2026, 3, first).date(), PARIS)
    _, end = metrics.day_bounds(datetime(2026, 3, last).date(), PARIS)
    return await metrics.compute(
        company.id, start, end, group_by=group_by, schedule=await load_schedule(company.id), tz=PARIS
    )


def _figures(row) -> dict:
    keys = (
        "new_conversations",
        "assigned",
        "customer_messages",
        "agent_messages",
        "bot_messages",
        "first_responses",
        "frt_assign_avg",
        "frt_assign_median",
        "frt_created_avg",
        "within_target",
        "resolved",
        "resolution_avg",
        "resolution_median",
        "reinjections",
    )
    return {k: getattr(row, k) for k in keys}


async def test_per_agent(day):
    company, x = day
    rows = {r.label: r for r in await _rows(company, "agent")}
    assert set(rows) == {"Anna", "Bruno", "=Carla"}
    assert _figures(rows["Anna"]) == dict(
        new_conversations=None,
        assigned=2,
        customer_messages=None,
        agent_messages=2,
        bot_messages=None,
        first_responses=1,
        frt_assign_avg=120,
        frt_assign_median=120,
        frt_created_avg=240,
        within_target=1,
        resolved=1,
        resolution_avg=1800,
        resolution_median=1800,
        reinjections=1,
    )
    assert _figures(rows["Bruno"]) == dict(
        new_conversations=None,
        assigned=2,
        customer_messages=None,
        agent_messages=2,
        bot_messages=None,
        first_responses=2,
        frt_assign_avg=180,
        frt_assign_median=180,
        frt_created_avg=615,
        within_target=2,
        resolved=1,
        resolution_avg=1200,
        resolution_median=1200,
        reinjections=0,
    )
    assert _figures(rows["=Carla"]) == dict(
        new_conversations=None,
        assigned=1,
        customer_messages=None,
        agent_messages=1,
        bot_messages=None,
        first_responses=1,
        frt_assign_avg=300,
        frt_assign_median=300,
        frt_created_avg=300,
        within_target=1,
        resolved=1,
        resolution_avg=1200,
        resolution_median=1200,
        reinjections=0,
    )


async def test_per_department_channel_and_total(day):
    company, x = day
    deps = {r.label: r for r in await _rows(company, "department")}
    assert _figures(deps["Support"]) == dict(
        new_conversations=3,
        assigned=4,
        customer_messages=4,
        agent_messages=4,
        bot_messages=2,
        first_responses=3,
        frt_assign_avg=160,
        frt_assign_median=120,
        frt_created_avg=490,
        within_target=3,
        resolved=2,
        resolution_avg=1500,
        resolution_median=1500,
        reinjections=1,
    )
    assert _figures(deps["Sales"]) == dict(
        new_conversations=0,
        assigned=1,
        customer_messages=0,
        agent_messages=1,
        bot_messages=0,
        first_responses=1,
        frt_assign_avg=300,
        frt_assign_median=300,
        frt_created_avg=300,
        within_target=1,
        resolved=1,
        resolution_avg=1200,
        resolution_median=1200,
        reinjections=0,
    )
    assert (deps[""].key, deps[""].new_conversations, deps[""].customer_messages, deps[""].bot_messages) == (
        None,
        1,
        1,
        1,
    )

    channels = {r.label: r for r in await _rows(company, "channel")}
    assert _figures(channels["Channel A"]) == dict(
        new_conversations=3,
        assigned=2,
        customer_messages=4,
        agent_messages=3,
        bot_messages=3,
        first_responses=2,
        frt_assign_avg=210,
        frt_assign_median=210,
        frt_created_avg=510,
        within_target=2,
        resolved=1,
        resolution_avg=1800,
        resolution_median=1800,
        reinjections=0,
    )
    assert _figures(channels["Channel B"]) == dict(
        new_conversations=1,
        assigned=3,
        customer_messages=1,
        agent_messages=2,
        bot_messages=0,
        first_responses=2,
        frt_assign_avg=180,
        frt_assign_median=180,
        frt_created_avg=375,
        within_target=2,
        resolved=2,
        resolution_avg=1200,
        resolution_median=1200,
        reinjections=1,
    )

    (total,) = await _rows(company, "total")
    assert _figures(total) == dict(
        new_conversations=4,
        assigned=5,
        customer_messages=5,
        agent_messages=5,
        bot_messages=3,
        first_responses=4,
        frt_assign_avg=195,
        frt_assign_median=210,
        frt_created_avg=442.5,
        within_target=4,
        resolved=3,
        resolution_avg=1400,
        resolution_median=1200,
        reinjections=1,
    )
    assert total.within_target_pct == 100


async def test_per_day_and_filters(day):
    company, x = day
    monday, tuesday = await _rows(company, "day", first=9, last=10)
    assert (
        monday.label,
        monday.new_conversations,
        monday.customer_messages,
        monday.bot_messages,
        monday.first_responses,
        monday.assigned,
    ) == ("2026-03-09", 1, 1, 1, 0, 0)
    assert (tuesday.label, tuesday.first_responses, tuesday.frt_assign_avg, tuesday.resolved) == (
        "2026-03-10",
        4,
        195,
        3,
    )

    start, _ = metrics.day_bounds(datetime(2026, 3, 10).date(), PARIS)
    _, end = metrics.day_bounds(datetime(2026, 3, 10).date(), PARIS)
    schedule = await load_schedule(company.id)
    (bruno,) = await metrics.compute(
        company.id,
        start,
        end,
        group_by="total",
        schedule=schedule,
        tz=PARIS,
        filters=metrics.Filters(user_id=x["bruno"].id),
    )
    assert (bruno.first_responses, bruno.frt_assign_avg, bruno.agent_messages, bruno.assigned) == (2, 180, 2, 2)
    (sales,) = await metrics.compute(
        company.id,
        start,
        end,
        group_by="total",
        schedule=schedule,
        tz=PARIS,
        filters=metrics.Filters(department_id=x["sales"].id),
    )
    assert (sales.first_responses, sales.resolved, sales.agent_messages) == (1, 1, 1)


async def test_without_business_hours_the_lunch_counts(day):
    """The same day on the clock (hours deleted): conv2's first response is its 65 wall minutes."""
    company, x = day
    await sql.execute("DELETE FROM business_hours WHERE company_id = $1", company.id)
    rows = {r.label: r for r in await _rows(company, "agent")}
    assert rows["Bruno"].frt_assign_avg == (65 * 60 + 60) / 2
    assert rows["Bruno"].within_target == 1  # 65 minutes is past Support's 5


async def test_page_and_csv_show_the_same_figures(client, day):
    company, x = day
    sup = await make_user(company, "supervisor", name="Sue")
    await login(client, sup.email)
    page = await client.get("/metrics?from=2026-03-10&to=2026-03-10&group=agent")
    assert page.status_code == 200
    html = page.text
    assert "3 min 00 s" in html  # Bruno's average (180 s)
    assert "=Carla" in html and "Definitions" in html
    assert "Zed" not in html  # another company's agent: neither a row nor a filter choice

    response = await client.get("/metrics.csv?from=2026-03-10&to=2026-03-10&group=agent")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert set(rows) == {"Anna", "Bruno", "'=Carla"}  # formula injection defused
    bruno = rows["Bruno"]
    assert (
        bruno["first_responses"],
        bruno["first_response_from_assignment_avg_s"],
        bruno["first_response_from_creation_avg_s"],
        bruno["first_responses_within_target"],
        bruno["resolved"],
        bruno["resolution_avg_s"],
    ) == ("2", "180.0", "615.0", "2", "1", "1200.0")
    assert rows["Anna"]["reinjections"] == "1"

    response = await client.get("/metrics.csv?from=2026-03-10&to=2026-03-10&group=department")
    deps = {r["group"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert (
        deps["Support"]["new_conversations"],
        deps["Support"]["bot_messages"],
        deps["Support"]["first_response_from_assignment_median_s"],
    ) == ("3", "2", "120.0")
    assert deps["No department"]["new_conversations"] == "1"
