"""Calls on the wallboard and in the metrics (issue 17), read from the live PBX snapshot
(``pbx_live``, written by the AMI leader) and Asterisk's CDR (``cdr``, accountcode ``sb<id>``).

Definitions (also on the pages):

* a queue call is a CDR whose last application is ``Queue``; its queue is the first argument
  (``lastdata``); answered = disposition ANSWERED, abandoned = any other; its wait is
  ``duration - billsec``; the service level is the share of answered calls waited at most the
  queue's ``servicelevel`` seconds (Asterisk's own setting; 20 s when unset).
* an agent's call is a CDR whose channel (placed) or dstchannel (received) is the agent's
  linked extension; handled = ANSWERED; missed = received and not answered; talk time =
  ``billsec``; average wait = ``duration - billsec`` over the handled received calls.
  A department's figures are the sum over its agents.

CDR times are UTC without a time zone (``timezone=UTC`` in cdr_pgsql.conf).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from app.domain import sql

DEFAULT_SERVICE_LEVEL = 20  # seconds, when the queue's servicelevel is unset


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


async def call_queues(company_id: int, now: datetime, day_start: datetime) -> list[dict]:
    """Each of the company's call queues: waiting now, longest wait, answered and abandoned
    today, service level today."""
    names = [
        r["name"]
        for r in await sql.fetch(
            "SELECT name FROM pbx_object WHERE company_id = $1 AND kind = 'queue' ORDER BY name", company_id
        )
    ]
    if not names:
        return []
    live = await sql.fetchval("SELECT snapshot FROM pbx_live WHERE company_id = $1", company_id)
    live = json.loads(live) if isinstance(live, str) else (live or {})
    rows = await sql.fetch(
        """SELECT split_part(c.lastdata, ',', 1) AS queue, count(*) FILTER (WHERE c.disposition = 'ANSWERED') AS answered,
                  count(*) FILTER (WHERE c.disposition <> 'ANSWERED') AS abandoned,
                  count(*) FILTER (WHERE c.disposition = 'ANSWERED'
                                   AND c.duration - c.billsec <= coalesce(q.servicelevel, $4)) AS within
           FROM cdr c LEFT JOIN queues q ON q.name = split_part(c.lastdata, ',', 1)
           WHERE c.accountcode = $1 AND c.start >= $2 AND c.lastapp = 'Queue' AND split_part(c.lastdata, ',', 1) = ANY($3)
           GROUP BY 1""",
        f"sb{company_id}",
        _naive(day_start),
        names,
        DEFAULT_SERVICE_LEVEL,
    )
    today = {r["queue"]: r for r in rows}
    now_s = now.timestamp()
    out = []
    for name in names:
        q = (live.get("queues") or {}).get(name) or {}
        callers = q.get("callers") or []
        members = q.get("members") or []
        t = today.get(name)
        answered = t["answered"] if t else 0
        out.append(
            {
                "name": name,
                "waiting": len(callers),
                "longest": max((now_s - c["joined"] for c in callers), default=None),
                "answered": answered,
                "abandoned": t["abandoned"] if t else 0,
                "service_level": round(100 * t["within"] / answered) if t and answered else None,
                "members": len(members),
                "paused": sum(1 for m in members if m.get("paused")),
            }
        )
    return out


async def calls_by(company_id: int, start: datetime, end: datetime, group_by: str = "agent") -> list[dict]:
    """Calls per agent (linked extension) or per department over [start, end)."""
    rows = await sql.fetch(
        """WITH ext AS (
               SELECT a.user_id, o.name FROM agent_extension a JOIN pbx_object o ON o.id = a.extension_id
               WHERE a.company_id = $1),
           calls AS (
               SELECT e.user_id, c.disposition, c.duration, c.billsec,
                      (c.dstchannel LIKE 'PJSIP/' || e.name || '-%' OR c.dstchannel LIKE 'SIP/' || e.name || '-%') AS received
               FROM cdr c JOIN ext e ON c.channel LIKE 'PJSIP/' || e.name || '-%' OR c.channel LIKE 'SIP/' || e.name || '-%'
                                     OR c.dstchannel LIKE 'PJSIP/' || e.name || '-%' OR c.dstchannel LIKE 'SIP/' || e.name || '-%'
               WHERE c.accountcode = $2 AND c.start >= $3 AND c.start < $4)
           SELECT user_id, count(*) FILTER (WHERE disposition = 'ANSWERED') AS handled,
                  count(*) FILTER (WHERE received AND disposition <> 'ANSWERED') AS missed,
                  coalesce(sum(billsec), 0) AS talk,
                  avg(duration - billsec) FILTER (WHERE received AND disposition = 'ANSWERED') AS wait
           FROM calls GROUP BY user_id""",
        company_id,
        f"sb{company_id}",
        _naive(start),
        _naive(end),
    )
    per_user = {r["user_id"]: r for r in rows}
    if group_by == "department":
        groups = await sql.fetch(
            """SELECT d.id AS key, d.name AS label, array_agg(ud.user_id) AS users FROM department d
               LEFT JOIN user_department ud ON ud.department_id = d.id WHERE d.company_id = $1
               GROUP BY d.id ORDER BY lower(d.name)""",
            company_id,
        )
    else:
        groups = await sql.fetch(
            """SELECT u.id AS key, u.name AS label, ARRAY[u.id] AS users FROM app_user u
               JOIN agent_extension a ON a.user_id = u.id WHERE u.company_id = $1 ORDER BY lower(u.name)""",
            company_id,
        )
    out = []
    for g in groups:
        mine = [per_user[u] for u in (g["users"] or []) if u in per_user]
        handled = sum(r["handled"] for r in mine)
        waits = [(r["wait"], r["handled"]) for r in mine if r["wait"] is not None]
        weight = sum(n for _, n in waits)
        out.append(
            {
                "key": g["key"],
                "label": g["label"],
                "handled": handled,
                "missed": sum(r["missed"] for r in mine),
                "talk": int(sum(r["talk"] for r in mine)),
                "avg_wait": round(sum(float(w) * n for w, n in waits) / weight, 1) if weight else None,
            }
        )
    return out
