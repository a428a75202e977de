"""Reads the integrators' API serves (``/api/v1``): keyset pages of contacts, conversations and
messages, departments with their queues, users with presence, a metrics summary.

Every query is scoped to one company; ids of another company simply find nothing (404).
Pages are newest first and carry ``next_cursor`` (the last id of the page) while more remain.
Nothing here writes; the screens have their own reads (``app.dispatch.reads``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.domain import contacts, conversations, sql
from app.domain.errors import NotFound
from app.i18n import N_


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def contact_out(r) -> dict:
    return {"id": r["id"], "phone": r["phone"], "name": r["name"], "created_at": _iso(r["created_at"])}


async def list_contacts(
    company_id: int, *, query: str, before: int | None, limit: int
) -> tuple[list[dict], int | None]:
    rows = await sql.fetch(
        """SELECT id, phone, name, created_at FROM contact
           WHERE company_id = $1 AND deleted_at IS NULL AND ($2::int IS NULL OR id < $2)
             AND ($3 = '' OR name ILIKE $3 OR phone LIKE $3)
           ORDER BY id DESC LIMIT $4""",
        company_id,
        before,
        sql.like(query) if query else "",
        limit + 1,
    )
    items = [contact_out(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


async def get_contact(company_id: int, contact_id: int) -> dict:
    return contact_out(await contacts.get_contact(company_id, contact_id))


def conversation_out(r) -> dict:
    return {
        "id": r["id"],
        "status": r["status"],
        "channel_id": r["channel_id"],
        "contact": {"id": r["contact_id"], "phone": r["phone"], "name": r["contact_name"]},
        "department_id": r["department_id"],
        "assigned_user_id": r["assigned_user_id"],
        "created_at": _iso(r["created_at"]),
        "last_message_at": _iso(r["last_message_at"]),
        "last_inbound_at": _iso(r["last_inbound_at"]),
        "resolved_at": _iso(r["resolved_at"]),
        # Seed 002's "durée": from the first message to resolution (resolved conversations only).
        "duration_seconds": round((r["resolved_at"] - r["created_at"]).total_seconds())
        if r["resolved_at"] and r["created_at"]
        else None,
    }


async def _with_labels(items: list[dict]) -> list[dict]:
    """Each conversation's label names (app.domain.labels), read for the page in one query."""
    rows = await sql.fetch(
        """SELECT cl.conversation_id, array_agg(l.name ORDER BY lower(l.name)) AS names
           FROM conversation_label cl JOIN label l ON l.id = cl.label_id
           WHERE cl.conversation_id = ANY($1::int[]) GROUP BY 1""",
        [item["id"] for item in items],
    )
    names = {r["conversation_id"]: list(r["names"]) for r in rows}
    for item in items:
        item["labels"] = names.get(item["id"], [])
    return items


async def list_conversations(
    company_id: int,
    *,
    status: str = "",
    department_id: int | None = None,
    assigned_user_id: int | None = None,
    contact_id: int | None = None,
    channel_id: int | None = None,
    before: int | None = None,
    limit: int = 50,
    label: str = "",
) -> tuple[list[dict], int | None]:
    rows = await sql.fetch(
        conversations.CONVERSATION_SQL
        + """ WHERE c.company_id = $1 AND ($2 = '' OR c.status = $2)
             AND ($3::int IS NULL OR c.department_id = $3) AND ($4::int IS NULL OR c.assigned_user_id = $4)
             AND ($5::int IS NULL OR c.contact_id = $5) AND ($6::int IS NULL OR c.channel_id = $6)
             AND ($7::int IS NULL OR c.id < $7)
             AND ($9 = '' OR EXISTS (SELECT 1 FROM conversation_label cl JOIN label l ON l.id = cl.label_id
                                     WHERE cl.conversation_id = c.id AND lower(l.name) = lower($9)))
           ORDER BY c.id DESC LIMIT $8""",
        company_id,
        status,
        department_id,
        assigned_user_id,
        contact_id,
        channel_id,
        before,
        limit + 1,
        label,
    )
    items = await _with_labels([conversation_out(r) for r in rows[:limit]])
    return items, (items[-1]["id"] if len(rows) > limit else None)


async def get_conversation(company_id: int, conversation_id: int) -> dict:
    return (await _with_labels([conversation_out(await conversations.get_conversation(company_id, conversation_id))]))[
        0
    ]


def message_out(r) -> dict:
    data = json.loads(r["data"]) if isinstance(r["data"], str) else dict(r["data"] or {})
    media = data.get("media") or {}
    return {
        "id": r["id"],
        "conversation_id": r["conversation_id"],
        "direction": r["direction"],
        "author": r["author"],
        "type": r["type"],
        "text": r["text"],
        "status": r["status"],
        "media": {k: media[k] for k in ("mime_type", "filename", "size") if k in media} or None,
        "error_code": r["error_code"] or None,
        "error_reason": r["error_reason"] or None,
        "created_at": _iso(r["created_at"]),
        "sent_at": _iso(r["sent_at"]),
    }


async def list_messages(
    company_id: int, conversation_id: int, *, before: int | None, limit: int
) -> tuple[list[dict], int | None]:
    await conversations.get_conversation(company_id, conversation_id)
    rows = await conversations.list_messages(company_id, conversation_id, before=before, limit=limit + 1)
    rows.reverse()  # newest first
    items = [message_out(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


async def get_message(company_id: int, message_id: int) -> dict:
    row = await sql.fetchrow(
        """SELECT id, conversation_id, direction, author, type, text, status, data, error_code, error_reason,
                  created_at, sent_at FROM message WHERE company_id = $1 AND id = $2""",
        company_id,
        message_id,
    )
    if row is None:
        raise NotFound(N_("No such message."))
    return message_out(row)


async def list_departments(company_id: int) -> list[dict]:
    rows = await sql.fetch(
        """SELECT d.id, d.name, d.code, d.colour, d.menu_position,
                  (SELECT count(*) FROM user_department ud WHERE ud.department_id = d.id) AS members,
                  (SELECT count(*) FROM conversation c WHERE c.company_id = d.company_id AND c.department_id = d.id
                     AND c.status = 'queued') AS waiting,
                  (SELECT min(c.queued_at) FROM conversation c WHERE c.company_id = d.company_id
                     AND c.department_id = d.id AND c.status = 'queued') AS oldest_queued_at
           FROM department d WHERE d.company_id = $1 ORDER BY d.name, d.id""",
        company_id,
    )
    return [
        {
            **{k: r[k] for k in ("id", "name", "code", "colour", "menu_position", "members", "waiting")},
            "oldest_queued_at": _iso(r["oldest_queued_at"]),
        }
        for r in rows
    ]


async def list_users(company_id: int, *, presence: str = "", role: str = "") -> list[dict]:
    rows = await sql.fetch(
        """SELECT u.id, u.name, u.email, u.role, u.presence, u.active, u.capacity, u.presence_changed_at,
                  (SELECT count(*) FROM conversation c WHERE c.assigned_user_id = u.id AND c.status = 'assigned') AS open,
                  coalesce((SELECT array_agg(ud.department_id ORDER BY ud.department_id) FROM user_department ud
                            WHERE ud.user_id = u.id), '{}') AS department_ids
           FROM app_user u WHERE u.company_id = $1 AND ($2 = '' OR u.presence = $2) AND ($3 = '' OR u.role = $3)
           ORDER BY u.name, u.id""",
        company_id,
        presence,
        role,
    )
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "email": r["email"],
            "role": r["role"],
            "presence": r["presence"],
            "active": r["active"],
            "capacity": r["capacity"],
            "open_conversations": r["open"],
            "department_ids": list(r["department_ids"]),
            "presence_changed_at": _iso(r["presence_changed_at"]),
        }
        for r in rows
    ]


async def metrics_summary(company_id: int) -> dict:
    """Conversations by status, the queue now, and today's (UTC, business hours) first responses."""
    by_status = {
        r["status"]: r["n"]
        for r in await sql.fetch(
            "SELECT status, count(*) AS n FROM conversation WHERE company_id = $1 GROUP BY status", company_id
        )
    }
    queue = await sql.fetchone(
        """SELECT count(*) AS waiting, extract(epoch FROM now() - min(queued_at))::int AS longest
           FROM conversation WHERE company_id = $1 AND status = 'queued'""",
        company_id,
    )
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    from app.domain import metrics  # the metrics page's own definitions (business hours, bots excluded)

    schedule, departments = await metrics.load_schedules(company_id)
    today = await metrics.total(
        company_id, start, start + timedelta(days=1), schedule=schedule, department_schedules=departments
    )
    return {
        "conversations": {s: by_status.get(s, 0) for s in ("bot", "queued", "assigned", "resolved")},
        "waiting": queue["waiting"],
        "longest_wait_seconds": queue["longest"],
        "today": {
            "since": start.isoformat(),
            "new_conversations": today.new_conversations,
            "first_responses": today.first_responses,
            "first_response_avg_seconds": today.frt_assign_avg,
            "first_response_from_creation_avg_seconds": today.frt_created_avg,
            "resolved": today.resolved,
        },
    }
