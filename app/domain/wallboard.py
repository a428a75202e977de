"""The supervisor wallboard's figures: one snapshot of a company, now and since local midnight.

A snapshot is computed at most once a second per company and process while supervisors
watch (``app.web.supervisor``); a handful of indexed queries, whatever the number of
viewers. It holds data only; the templates turn it into HTML in each viewer's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from app.domain import metrics, sql
from app.domain.call_metrics import call_queues
from app.domain.channel_health import channel_alerts
from app.domain.events import Event
from app.domain.phone import phones_of

QUEUE_BUCKET_MINUTES = 10  # the queue chart's resolution: the longest queue in each 10 minutes


@dataclass(frozen=True)
class WallboardChanged(Event):
    """A new wallboard snapshot of the company is ready in this process (published locally by
    ``app.web.supervisor``, never sent with NOTIFY: each process computes its own)."""

    name: ClassVar[str] = "wallboard-changed"
    version: int


@dataclass
class Snapshot:
    company_id: int
    now: datetime
    tz: ZoneInfo
    day_start: datetime
    departments: list[dict] = field(default_factory=list)
    with_bot: int = 0
    agents: list[dict] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    today: metrics.Row | None = None
    reinjections_today: int = 0
    alerts: list[dict] = field(default_factory=list)
    hours: list[dict] = field(default_factory=list)  # 24 local hours: {hour, customer, agent, bot}
    queue: list[dict] = field(default_factory=list)  # buckets since midnight: {minute, length}
    calls: list[dict] = field(default_factory=list)  # call queues (app.domain.call_metrics), issue 17
    phones: dict[int, dict] = field(default_factory=dict)  # user id -> agent_phone row, issue 17


async def _departments(company_id: int, now: datetime) -> list[dict]:
    rows = await sql.fetch(
        """SELECT d.id, d.name, d.colour, d.response_timeout, d.reinjection_alert,
                  count(c.id) AS waiting, min(c.queued_at) AS oldest
           FROM department d LEFT JOIN conversation c
             ON c.department_id = d.id AND c.company_id = d.company_id AND c.status = 'queued'
           WHERE d.company_id = $1 GROUP BY d.id ORDER BY d.menu_position, lower(d.name)""",
        company_id,
    )
    out = []
    for r in rows:
        longest = (now - r["oldest"]).total_seconds() if r["oldest"] else None
        out.append(
            {
                "id": r["id"],
                "name": r["name"],
                "colour": r["colour"],
                "timeout": r["response_timeout"],
                "waiting": r["waiting"],
                "longest": longest,
                "over": longest is not None and longest > r["response_timeout"],
            }
        )
    return out


async def _agents(company_id: int, now: datetime) -> list[dict]:
    rows = await sql.fetch(
        """SELECT u.id, u.name, u.presence, u.capacity, u.presence_changed_at,
                  (SELECT max(m.created_at) FROM message m WHERE m.author_user_id = u.id AND m.author = 'agent') AS last_reply,
                  coalesce((SELECT json_agg(json_build_object(
                                'id', c.id, 'name', coalesce(nullif(ct.name, ''), ct.phone, ''),
                                'waiting', extract(epoch FROM $2 - c.awaiting_agent_since),
                                'timeout', d.response_timeout) ORDER BY c.assigned_at)
                            FROM conversation c JOIN contact ct ON ct.id = c.contact_id
                            LEFT JOIN department d ON d.id = c.department_id
                            WHERE c.assigned_user_id = u.id AND c.status = 'assigned'), '[]') AS conversations
           FROM app_user u
           WHERE u.company_id = $1 AND u.active
             AND (u.role = 'agent' OR u.presence <> 'offline'
                  OR EXISTS (SELECT 1 FROM conversation c WHERE c.assigned_user_id = u.id AND c.status = 'assigned'))
           ORDER BY CASE u.presence WHEN 'online' THEN 0 WHEN 'busy' THEN 1 ELSE 2 END, lower(u.name)""",
        company_id,
        now,
    )
    import json

    out = []
    for r in rows:
        conversations = json.loads(r["conversations"]) if isinstance(r["conversations"], str) else r["conversations"]
        over = [c for c in conversations if c["waiting"] is not None and c["timeout"] and c["waiting"] > c["timeout"]]
        oldest = max((c["waiting"] for c in conversations if c["waiting"] is not None), default=None)
        out.append(
            {
                "id": r["id"],
                "name": r["name"],
                "presence": r["presence"],
                "capacity": r["capacity"],
                "load": len(conversations),
                "conversations": conversations,
                "last_reply": r["last_reply"],
                "since_reply": (now - r["last_reply"]).total_seconds() if r["last_reply"] else None,
                "oldest_waiting": oldest,
                "over": len(over),
            }
        )
    return out


async def _statuses(company_id: int, day_start: datetime) -> dict[str, int]:
    row = await sql.fetchone(
        """SELECT count(*) FILTER (WHERE status = 'bot') AS bot,
                  count(*) FILTER (WHERE status = 'queued') AS queued,
                  count(*) FILTER (WHERE status = 'assigned') AS assigned,
                  (SELECT count(*) FROM conversation_event e WHERE e.company_id = $1 AND e.at >= $2
                     AND e.to_status = 'resolved') AS resolved
           FROM conversation WHERE company_id = $1 AND status <> 'resolved'""",
        company_id,
        day_start,
    )
    return dict(row)


@sql.on_replica  # the day's figures: history, never what a write depends on
async def _hours(company_id: int, day_start: datetime, tz: ZoneInfo) -> list[dict]:
    rows = await sql.fetch(
        """SELECT extract(hour FROM m.created_at AT TIME ZONE $3)::int AS hour, m.author, count(*) AS n
           FROM message m WHERE m.company_id = $1 AND m.created_at >= $2 GROUP BY 1, 2""",
        company_id,
        day_start,
        tz.key,
    )
    hours = [{"hour": h, "customer": 0, "agent": 0, "bot": 0} for h in range(24)]
    for r in rows:
        if r["author"] in ("customer", "agent", "bot"):
            hours[r["hour"]][r["author"]] += r["n"]
    return hours


@sql.on_replica
async def _queue(company_id: int, day_start: datetime, now: datetime) -> list[dict]:
    """The queue's length through the day, rebuilt from today's transitions backwards from
    the current length: each transition into ``queued`` added one, each out of it removed one."""
    current = await sql.fetchval(
        "SELECT count(*) FROM conversation WHERE company_id = $1 AND status = 'queued'", company_id
    )
    events = await sql.fetch(
        """SELECT at, CASE WHEN to_status = 'queued' THEN 1 ELSE -1 END AS delta FROM conversation_event
           WHERE company_id = $1 AND at >= $2 AND (to_status = 'queued') <> (coalesce(from_status, '') = 'queued')
           ORDER BY at, id""",
        company_id,
        day_start,
    )
    length = current - sum(e["delta"] for e in events)
    bucket = timedelta(minutes=QUEUE_BUCKET_MINUTES)
    buckets = []
    i = 0
    t = day_start
    while t < now:
        end = min(t + bucket, now)
        peak = length
        while i < len(events) and events[i]["at"] < end:
            length += events[i]["delta"]
            peak = max(peak, length)
            i += 1
        buckets.append({"minute": int((t - day_start).total_seconds() // 60), "length": max(peak, 0)})
        t = end
    return buckets


async def snapshot(
    company_id: int,
    schedules: tuple[metrics.Schedule, dict[int, metrics.Schedule]],
    now: datetime | None = None,
    *,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Everything the wallboard shows. ``schedules``: the company's business hours and its
    departments' own (``metrics.load_schedules``). With ``previous`` (of the same day), the
    day's aggregates (today's times, the charts) are taken from it and only what is live now
    (queues, agents, statuses, alerts) is read again: the caller decides how often the day's
    figures are worth recomputing."""
    now = now or datetime.now(UTC)
    tz = await metrics.company_zone(company_id)
    day_start, _ = metrics.day_bounds(now.astimezone(tz).date(), tz)
    snap = Snapshot(company_id=company_id, now=now, tz=tz, day_start=day_start)
    snap.departments = await _departments(company_id, now)
    snap.agents = await _agents(company_id, now)
    snap.statuses = await _statuses(company_id, day_start)
    if previous is not None and previous.day_start == day_start and previous.today is not None:
        snap.today, snap.hours, snap.queue = previous.today, previous.hours, previous.queue
    else:
        snap.today = await metrics.total(
            company_id,
            day_start,
            now + timedelta(seconds=1),
            schedule=schedules[0],
            department_schedules=schedules[1],
            tz=tz,
        )
        snap.hours = await _hours(company_id, day_start, tz)
        snap.queue = await _queue(company_id, day_start, now)
    snap.calls = await call_queues(company_id, now, day_start)  # voice beside chat (issue 17)
    snap.phones = await phones_of(company_id)
    snap.reinjections_today = snap.today.reinjections
    snap.alerts = await _alerts(company_id, snap)
    return snap


async def _alerts(company_id: int, snap: Snapshot) -> list[dict]:
    alerts: list[dict] = []
    for d in snap.departments:
        if d["over"]:
            alerts.append({"kind": "queue", "department": d["name"], "seconds": d["longest"], "limit": d["timeout"]})
    for a in snap.agents:
        if a["over"]:
            alerts.append({"kind": "agent", "agent": a["name"], "count": a["over"], "seconds": a["oldest_waiting"]})
    rows = await sql.fetch(
        """SELECT c.id, coalesce(nullif(ct.name, ''), ct.phone, '') AS who, c.reinjections, d.name AS department
           FROM conversation c JOIN department d ON d.id = c.department_id JOIN contact ct ON ct.id = c.contact_id
           WHERE c.company_id = $1 AND c.status <> 'resolved' AND c.reinjections >= d.reinjection_alert
             AND EXISTS (SELECT 1 FROM conversation_event e WHERE e.conversation_id = c.id AND e.kind = 'reinjected'
                         AND e.at >= $2)
           ORDER BY c.reinjections DESC, c.id LIMIT 20""",
        company_id,
        snap.day_start,
    )
    for r in rows:
        alerts.append(
            {
                "kind": "reinjected",
                "conversation_id": r["id"],
                "who": r["who"],
                "count": r["reinjections"],
                "department": r["department"],
            }
        )
    # Routing guarantees (issue 14): a queue nobody can staff, a conversation kept by an
    # offline holder past the department's limit, one waiting for another agent by rule.
    rows = await sql.fetch(
        """SELECT d.name, count(*) AS waiting FROM conversation c JOIN department d ON d.id = c.department_id
           WHERE c.company_id = $1 AND c.status = 'queued'
             AND NOT EXISTS (SELECT 1 FROM user_department ud JOIN app_user u ON u.id = ud.user_id
                             WHERE ud.department_id = d.id AND u.active AND u.presence IN ('online', 'busy'))
           GROUP BY d.id ORDER BY lower(d.name)""",
        company_id,
    )
    for r in rows:
        alerts.append({"kind": "unstaffed", "department": r["name"], "count": r["waiting"]})
    rows = await sql.fetch(
        """SELECT c.id, coalesce(nullif(ct.name, ''), ct.phone, '') AS who, u.name AS agent FROM conversation c
           JOIN department d ON d.id = c.department_id JOIN app_user u ON u.id = c.assigned_user_id
           JOIN contact ct ON ct.id = c.contact_id
           WHERE c.company_id = $1 AND c.status = 'assigned' AND u.presence = 'offline'
             AND u.presence_changed_at < now() - make_interval(mins => d.offline_alert_minutes)
           ORDER BY c.id LIMIT 20""",
        company_id,
    )
    for r in rows:
        alerts.append({"kind": "holder_offline", "conversation_id": r["id"], "who": r["who"], "agent": r["agent"]})
    rows = await sql.fetch(
        """SELECT c.id, coalesce(nullif(ct.name, ''), ct.phone, '') AS who FROM conversation c
           JOIN contact ct ON ct.id = c.contact_id
           WHERE c.company_id = $1 AND c.status = 'queued' AND c.unstaffed_alert_at IS NOT NULL
           ORDER BY c.id LIMIT 20""",
        company_id,
    )
    for r in rows:
        alerts.append({"kind": "waiting_other", "conversation_id": r["id"], "who": r["who"]})
    alerts.extend(await channel_alerts(company_id))  # down, needs pairing, silent (app.domain.channel_health)
    return alerts
