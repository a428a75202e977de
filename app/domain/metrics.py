"""Metrics: response and resolution times, volumes, reinjections, per agent, department,
channel or day, for a period. Plain functions over the history (``message`` and
``conversation_event``), reused by the metrics page, its CSV export, the wallboard and the API.

Definitions (also written on the metrics page and in the README):

- *Agent message*: outbound, written by a person (``author = 'agent'``: in Switchboard, or
  from the business phone). Bot and automatic messages (``author = 'bot'``) and system
  messages never count as a response and are left out of every figure except "bot messages".
- *First response*: a conversation's first agent message. It counts in the period, agent
  (its author) and department where it was sent.
  * *from assignment*: from the last time the conversation was assigned before that message
    (so an agent is measured from the moment the conversation became theirs; time lost to
    reinjections shows in the figure from creation);
  * *from creation*: from the customer's first message (bot and queue time included).
  * *within target*: first response from assignment at most the department's response
    timeout (the same timeout that triggers reinjection).
- *Resolution time*: from creation to resolution; counts in the period, agent (the holder)
  and department where the conversation was resolved.
- Every duration counts business time only (``Schedule.business_seconds``): nights,
  closed days and holidays are left out.
- *Reinjections*: conversations taken back from an agent who did not answer within the
  response timeout; counted against that agent.

Nothing here writes; every query is scoped to one company.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain import sql
from app.domain.errors import NotFound, ValidationError
from app.i18n import N_

GROUPS = ("agent", "department", "channel", "day", "total")
MAX_DAYS = 92  # the longest period one request may ask for


class Schedule(Protocol):
    """Business hours (``app.domain.business_hours``)."""

    def is_open(self, at: datetime) -> bool: ...

    def business_seconds(self, start: datetime, end: datetime) -> float: ...


class OpenTime:
    """``business_seconds`` for many intervals within ``[lo, hi]``: the schedule's open periods
    are listed once, then each call is two binary searches (a day of a busy company measures
    tens of thousands of intervals)."""

    def __init__(self, schedule: Schedule, lo: datetime, hi: datetime) -> None:
        self.schedule, self.lo, self.hi = schedule, lo, hi
        periods = getattr(schedule, "open_periods", None)
        self.starts: list[datetime] = []
        self.ends: list[datetime] = []
        self.before: list[float] = []  # open seconds before each period starts
        self.indexed = periods is not None
        if periods is not None:
            total = 0.0
            for a, b in periods(lo, hi):
                self.starts.append(a)
                self.ends.append(b)
                self.before.append(total)
                total += (b - a).total_seconds()

    def _open_before(self, t: datetime) -> float:
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0
        return self.before[i] + (min(t, self.ends[i]) - self.starts[i]).total_seconds()

    def business_seconds(self, start: datetime, end: datetime) -> float:
        if not self.indexed or start < self.lo or end > self.hi:
            return self.schedule.business_seconds(start, end)
        if end <= start:
            return 0.0
        return self._open_before(end) - self._open_before(start)


@dataclass
class Row:
    """One line of figures. Durations are business seconds; None when there is nothing to measure."""

    key: object
    label: str
    new_conversations: int | None = 0
    assigned: int = 0
    customer_messages: int | None = 0
    agent_messages: int = 0
    bot_messages: int | None = 0
    first_responses: int = 0
    frt_assign_avg: float | None = None
    frt_assign_median: float | None = None
    frt_created_avg: float | None = None
    within_target: int = 0
    within_target_pct: float | None = None
    resolved: int = 0
    resolution_avg: float | None = None
    resolution_median: float | None = None
    reinjections: int = 0
    _frt_assign: list[float] = field(default_factory=list, repr=False)
    _frt_created: list[float] = field(default_factory=list, repr=False)
    _measured: int = 0
    _resolutions: list[float] = field(default_factory=list, repr=False)

    def finish(self) -> Row:
        if self._frt_assign:
            self.frt_assign_avg = statistics.fmean(self._frt_assign)
            self.frt_assign_median = statistics.median(self._frt_assign)
            self.within_target_pct = 100.0 * self.within_target / len(self._frt_assign)
        if self._frt_created:
            self.frt_created_avg = statistics.fmean(self._frt_created)
        if self._resolutions:
            self.resolution_avg = statistics.fmean(self._resolutions)
            self.resolution_median = statistics.median(self._resolutions)
        return self


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def company_zone(company_id: int) -> ZoneInfo:
    return zone(await sql.fetchval("SELECT timezone FROM company WHERE id = $1", company_id))


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants a local calendar day starts and ends (23 or 25 hours on DST days)."""
    start = datetime.combine(day, datetime.min.time(), tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class Filters:
    department_id: int | None = None
    channel_id: int | None = None
    user_id: int | None = None


async def _labels(company_id: int, group_by: str) -> dict:
    if group_by == "agent":
        rows = await sql.fetch("SELECT id, name FROM app_user WHERE company_id = $1", company_id)
    elif group_by == "department":
        rows = await sql.fetch("SELECT id, name FROM department WHERE company_id = $1", company_id)
    elif group_by == "channel":
        rows = await sql.fetch("SELECT id, name FROM channel WHERE company_id = $1", company_id)
    else:
        return {}
    return {r["id"]: r["name"] for r in rows}


def _first_responses_sql(filters: Filters) -> tuple[str, list]:
    return (
        """WITH firsts AS (
               SELECT DISTINCT ON (m.conversation_id) m.conversation_id, m.created_at AS reply_at,
                      m.author_user_id, m.channel_id
               FROM message m
               WHERE m.company_id = $1 AND m.author = 'agent' AND m.direction = 'out'
                 AND m.created_at >= $2 AND m.created_at < $3
               ORDER BY m.conversation_id, m.created_at, m.id)
           SELECT f.conversation_id, f.reply_at, f.author_user_id, f.channel_id, c.created_at,
                  a.at AS assigned_at, coalesce(a.to_department_id, c.department_id) AS department_id,
                  d.response_timeout
           FROM firsts f JOIN conversation c ON c.id = f.conversation_id AND c.company_id = $1
           LEFT JOIN LATERAL (
               SELECT e.at, e.to_department_id FROM conversation_event e
               WHERE e.conversation_id = f.conversation_id AND e.to_status = 'assigned' AND e.at <= f.reply_at
               ORDER BY e.at DESC, e.id DESC LIMIT 1) a ON true
           LEFT JOIN department d ON d.id = coalesce(a.to_department_id, c.department_id)
           WHERE NOT EXISTS (SELECT 1 FROM message p WHERE p.conversation_id = f.conversation_id
                             AND p.author = 'agent' AND p.direction = 'out' AND p.created_at < $2)""",
        [],
    )


def _day_key(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


@sql.on_replica
async def compute(
    company_id: int,
    start: datetime,
    end: datetime,
    *,
    group_by: str = "total",
    schedule: Schedule,
    department_schedules: dict[int, Schedule] | None = None,
    filters: Filters = Filters(),
    tz: ZoneInfo | None = None,
) -> list[Row]:
    """Figures for ``[start, end)``, one Row per group (``GROUPS``), sorted by label.

    ``schedule`` decides which seconds count (the company's business hours), except for
    departments with hours of their own in ``department_schedules``; ``tz`` the calendar
    days of ``group_by="day"`` (default: the company's timezone)."""
    own = department_schedules or {}
    indexed: dict[int, OpenTime] = {}
    bounds: list[datetime] = []

    def hours(department_id: int | None) -> OpenTime:
        chosen = own.get(department_id, schedule) if department_id is not None else schedule
        if id(chosen) not in indexed:
            indexed[id(chosen)] = OpenTime(chosen, min(bounds), max(bounds))
        return indexed[id(chosen)]

    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {GROUPS}")
    tz = tz or await company_zone(company_id)
    labels = await _labels(company_id, group_by)
    rows: dict[object, Row] = {}

    def row(key: object) -> Row:
        if key not in rows:
            if group_by == "total":
                label = ""
            elif group_by == "day":
                label = key.isoformat() if isinstance(key, date) else ""
            else:
                label = labels.get(key, "") if key is not None else ""
            rows[key] = Row(key=key, label=label)
        return rows[key]

    def key_of(
        *,
        agent: int | None = None,
        department: int | None = None,
        channel: int | None = None,
        at: datetime | None = None,
    ) -> object:
        return {
            "agent": agent,
            "department": department,
            "channel": channel,
            "day": _day_key(at, tz) if at else None,
            "total": "total",
        }[group_by]

    f = filters

    def keep(*, agent: int | None = None, department: int | None = None, channel: int | None = None) -> bool:
        return (
            (f.department_id is None or department == f.department_id)
            and (f.channel_id is None or channel == f.channel_id)
            and (f.user_id is None or agent == f.user_id)
        )

    # First responses.
    query, _ = _first_responses_sql(f)
    firsts = await sql.fetch(query, company_id, start, end)
    events = await sql.fetch(
        """SELECT e.kind, e.to_status, e.at, e.from_user_id, e.to_user_id, e.to_department_id, e.from_department_id,
                  c.channel_id, c.created_at, c.department_id
           FROM conversation_event e JOIN conversation c ON c.id = e.conversation_id
           WHERE e.company_id = $1 AND e.at >= $2 AND e.at < $3
             AND (e.to_status IN ('assigned', 'resolved') OR e.kind = 'reinjected')""",
        company_id,
        start,
        end,
    )
    bounds.extend([start, end])
    bounds.extend(r["created_at"] for r in firsts)
    bounds.extend(e["created_at"] for e in events if e["to_status"] == "resolved")
    for r in firsts:
        if not keep(agent=r["author_user_id"], department=r["department_id"], channel=r["channel_id"]):
            continue
        target = row(
            key_of(agent=r["author_user_id"], department=r["department_id"], channel=r["channel_id"], at=r["reply_at"])
        )
        target.first_responses += 1
        open_time = hours(r["department_id"]).business_seconds
        target._frt_created.append(open_time(r["created_at"], r["reply_at"]))
        if r["assigned_at"] is not None:
            seconds = open_time(r["assigned_at"], r["reply_at"])
            target._frt_assign.append(seconds)
            if r["response_timeout"] is not None and seconds <= r["response_timeout"]:
                target.within_target += 1

    # Transitions: assignments, resolutions, reinjections.
    for e in events:
        department = e["to_department_id"] or e["from_department_id"] or e["department_id"]
        if e["kind"] == "reinjected":
            agent = e["from_user_id"]
        elif e["to_status"] == "resolved":
            agent = e["from_user_id"] or e["to_user_id"]
        else:
            agent = e["to_user_id"]
        if not keep(agent=agent, department=department, channel=e["channel_id"]):
            continue
        target = row(key_of(agent=agent, department=department, channel=e["channel_id"], at=e["at"]))
        if e["kind"] == "reinjected":
            target.reinjections += 1
        elif e["to_status"] == "resolved":
            target.resolved += 1
            target._resolutions.append(hours(department).business_seconds(e["created_at"], e["at"]))
        else:
            target.assigned += 1

    # Messages, by author.
    messages = await sql.fetch(
        """SELECT m.author, m.author_user_id, m.channel_id, c.department_id,
                  CASE WHEN $4 THEN (m.created_at AT TIME ZONE $5)::date END AS day, count(*) AS n
           FROM message m JOIN conversation c ON c.id = m.conversation_id
           WHERE m.company_id = $1 AND m.created_at >= $2 AND m.created_at < $3
           GROUP BY 1, 2, 3, 4, 5""",
        company_id,
        start,
        end,
        group_by == "day",
        tz.key,
    )
    per_agent = group_by == "agent" or f.user_id is not None
    for m in messages:
        agent = m["author_user_id"] if m["author"] == "agent" else None
        if per_agent and m["author"] != "agent":
            continue  # customer and bot messages belong to no agent
        if not keep(agent=agent, department=m["department_id"], channel=m["channel_id"]):
            continue
        key = (
            m["day"]
            if group_by == "day"
            else key_of(agent=agent, department=m["department_id"], channel=m["channel_id"])
        )
        target = row(key)
        if m["author"] == "agent":
            target.agent_messages += m["n"]
        elif m["author"] == "customer":
            target.customer_messages = (target.customer_messages or 0) + m["n"]
        elif m["author"] == "bot":
            target.bot_messages = (target.bot_messages or 0) + m["n"]

    # New conversations (not attributable to an agent).
    if not per_agent:
        for c in await sql.fetch(
            """SELECT id, channel_id, department_id, created_at FROM conversation
               WHERE company_id = $1 AND created_at >= $2 AND created_at < $3""",
            company_id,
            start,
            end,
        ):
            if not keep(department=c["department_id"], channel=c["channel_id"]):
                continue
            target = row(key_of(department=c["department_id"], channel=c["channel_id"], at=c["created_at"]))
            target.new_conversations = (target.new_conversations or 0) + 1

    if per_agent:
        for item in rows.values():
            item.new_conversations = item.customer_messages = item.bot_messages = None
    if group_by == "total" and not rows:
        row("total")
    result = [r.finish() for r in rows.values()]
    if group_by == "day":
        return sorted(result, key=lambda r: cast(date, r.key))  # grouped by day: every key is a date
    return sorted(result, key=lambda r: (r.key is None, r.label.lower(), str(r.key)))


async def total(
    company_id: int,
    start: datetime,
    end: datetime,
    *,
    schedule: Schedule,
    department_schedules: dict[int, Schedule] | None = None,
    tz: ZoneInfo | None = None,
) -> Row:
    """The company's figures for a period, all groups together."""
    return (
        await compute(
            company_id,
            start,
            end,
            group_by="total",
            schedule=schedule,
            department_schedules=department_schedules,
            tz=tz,
        )
    )[0]


async def load_schedules(
    company_id: int, load: Callable[[int, int | None], Awaitable[Schedule]] | None = None
) -> tuple[Schedule, dict[int, Schedule]]:
    """The company's business hours, and those of its departments that have their own. ``load``
    reads one schedule: ``business_hours.load_schedule`` by default, ``SCHEDULES.get`` (the
    bus-invalidated cache) for the wallboard's snapshots."""
    from app.domain.business_hours import load_schedule

    load = load or load_schedule
    own = await sql.fetch(
        "SELECT DISTINCT department_id FROM business_hours WHERE company_id = $1 AND department_id IS NOT NULL",
        company_id,
    )
    return await load(company_id, None), {r["department_id"]: await load(company_id, r["department_id"]) for r in own}


# Reading a request for metrics (the page, the CSV, the API) -----------------------------------


@dataclass(frozen=True)
class Query:
    start_day: date
    end_day: date  # inclusive
    group_by: str
    filters: Filters


def _parse_day(raw: object, field_name: str, errors: dict) -> date | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors[field_name] = N_("Enter a date as YYYY-MM-DD.")
        return None


def _parse_id(raw: object, field_name: str, errors: dict) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        errors[field_name] = N_("Choose one from the list.")
        return None
    return int(text)


def parse_query(params: dict, today: date) -> Query:
    """A period (local days, both included; the last 7 days by default), a grouping and
    filters from query parameters ``from``, ``to``, ``group``, ``department``, ``channel``,
    ``agent``. Raises ValidationError on malformed input; the ids are checked by ``check_ids``."""
    errors: dict[str, str] = {}
    end_day = _parse_day(params.get("to"), "to", errors) or today
    start_day = _parse_day(params.get("from"), "from", errors) or (end_day - timedelta(days=6))
    group_by = str(params.get("group") or "agent")
    if group_by not in GROUPS:
        errors["group"] = N_("Choose one from the list.")
    filters = Filters(
        department_id=_parse_id(params.get("department"), "department", errors),
        channel_id=_parse_id(params.get("channel"), "channel", errors),
        user_id=_parse_id(params.get("agent"), "agent", errors),
    )
    if not errors:
        if start_day > end_day:
            errors["from"] = N_("The start of the period must come before its end.")
        elif (end_day - start_day).days + 1 > MAX_DAYS:
            errors["to"] = N_("Choose a period of at most 92 days.")
        elif end_day > today + timedelta(days=1) or start_day.year < 2000:
            errors["to"] = N_("Choose a period between the year 2000 and today.")
    if errors:
        raise ValidationError(errors)
    return Query(start_day, end_day, group_by, filters)


async def check_ids(company_id: int, filters: Filters) -> None:
    """Each filter names a row of this company (another company's id looks like no row)."""
    checks = (
        (
            filters.department_id,
            "SELECT 1 FROM department WHERE company_id = $1 AND id = $2",
            N_("No such department."),
        ),
        (filters.channel_id, "SELECT 1 FROM channel WHERE company_id = $1 AND id = $2", N_("No such channel.")),
        (filters.user_id, "SELECT 1 FROM app_user WHERE company_id = $1 AND id = $2", N_("No such agent.")),
    )
    for value, query, message in checks:
        if value is not None and not await sql.fetchval(query, company_id, value):
            raise NotFound(message)


async def compute_query(company_id: int, query: Query, *, group_by: str | None = None) -> list[Row]:
    """``compute`` for a parsed request, with the company's timezone and business hours."""
    tz = await company_zone(company_id)
    start, _ = day_bounds(query.start_day, tz)
    _, end = day_bounds(query.end_day, tz)
    schedule, departments = await load_schedules(company_id)
    return await compute(
        company_id,
        start,
        end,
        group_by=group_by or query.group_by,
        schedule=schedule,
        department_schedules=departments,
        filters=query.filters,
        tz=tz,
    )
