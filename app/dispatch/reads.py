"""Reads for the people dispatch serves: an agent's conversations and their queues."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.domain import sql
from app.domain.notes import Item

_ROW = """SELECT c.id, c.status, c.department_id, c.assigned_user_id, c.assigned_at, c.queued_at,
                 c.awaiting_agent_since, c.last_message_at, ct.phone, ct.name AS contact_name,
                 ch.name AS channel_name, d.name AS department_name, d.colour AS department_colour,
                 d.response_timeout
          FROM conversation c JOIN contact ct ON ct.id = c.contact_id JOIN channel ch ON ch.id = c.channel_id
          LEFT JOIN department d ON d.id = c.department_id"""


async def list_my_conversations(company_id: int, user_id: int) -> list[asyncpg.Record]:
    """The conversations an agent holds, the one waiting longest for an answer first."""
    return await sql.fetch(
        _ROW + """ WHERE c.company_id = $1 AND c.assigned_user_id = $2 AND c.status = 'assigned'
                  ORDER BY c.awaiting_agent_since NULLS LAST, c.last_message_at DESC""",
        company_id,
        user_id,
    )


async def list_my_queue(company_id: int, user_id: int, limit: int = 50) -> list[asyncpg.Record]:
    """Conversations waiting in the agent's departments (queued, or still with the bot), oldest first."""
    return await sql.fetch(
        _ROW + """ WHERE c.company_id = $1 AND c.status IN ('queued', 'bot')
                  AND (c.department_id IN (SELECT department_id FROM user_department WHERE user_id = $2)
                       OR c.department_id IS NULL)
                  ORDER BY coalesce(c.queued_at, c.created_at), c.id LIMIT $3""",
        company_id,
        user_id,
        limit,
    )


async def agent_may_see(agent_id: int, role: str, conversation: asyncpg.Record) -> bool:
    """Supervisors see every conversation of their company; an agent sees the ones they hold
    and the ones waiting (queued or with the bot) in their departments."""
    if role in ("admin", "supervisor"):
        return True
    if conversation["assigned_user_id"] == agent_id:
        return True
    if conversation["status"] in ("queued", "bot"):
        if conversation["department_id"] is None:
            return True
        return bool(
            await sql.fetchval(
                "SELECT 1 FROM user_department WHERE user_id = $1 AND department_id = $2",
                agent_id,
                conversation["department_id"],
            )
        )
    return False


def may_reply(user_id: int, role: str, conversation: asyncpg.Record) -> bool:
    """Only the assigned agent (or a supervisor) may write to the customer (DESIGN: security)."""
    return role in ("admin", "supervisor") or (
        conversation["status"] == "assigned" and conversation["assigned_user_id"] == user_id
    )


def may_see_with(agent_id: int, role: str, conversation, department_ids: frozenset[int] | set[int]) -> bool:
    """``agent_may_see`` without a query: for live events, with the viewer's departments known."""
    if role in ("admin", "supervisor") or conversation["assigned_user_id"] == agent_id:
        return True
    return conversation["status"] in ("queued", "bot") and (
        conversation["department_id"] is None or conversation["department_id"] in department_ids
    )


async def department_members(company_id: int) -> dict[int, frozenset[int]]:
    """Each user's departments, for a whole company in one query (live filtering)."""
    rows = await sql.fetch(
        "SELECT user_id, array_agg(department_id) AS deps FROM user_department WHERE company_id = $1 GROUP BY user_id",
        company_id,
    )
    return {r["user_id"]: frozenset(r["deps"]) for r in rows}


# The inbox ------------------------------------------------------------------------------------

INBOX_TABS = ("mine", "queue", "all")
INBOX_STATUSES = ("bot", "queued", "assigned", "resolved")
INBOX_PAGE = 40

_INBOX_ROW = """SELECT c.id, c.status, c.department_id, c.assigned_user_id, c.channel_id, c.contact_id, c.assigned_at,
       c.queued_at, c.awaiting_agent_since, c.last_message_at, c.last_inbound_at, c.created_at, c.read_message_id,
       ct.phone, ct.name AS contact_name, ch.name AS channel_name, ch.provider,
       d.name AS department_name, d.colour AS department_colour, d.response_timeout, u.name AS assigned_name,
       lm.text AS last_text, lm.type AS last_type, lm.direction AS last_direction, lm.author AS last_author,
       (SELECT array_agg(l.name || ' ' || l.colour ORDER BY lower(l.name)) FROM conversation_label cl
        JOIN label l ON l.id = cl.label_id WHERE cl.conversation_id = c.id) AS labels,
       (SELECT count(*) FROM (SELECT 1 FROM message um WHERE um.conversation_id = c.id AND um.id > c.read_message_id
                              AND um.direction = 'in' LIMIT 100) un) AS unread
FROM conversation c JOIN contact ct ON ct.id = c.contact_id JOIN channel ch ON ch.id = c.channel_id
LEFT JOIN department d ON d.id = c.department_id LEFT JOIN app_user u ON u.id = c.assigned_user_id
LEFT JOIN LATERAL (SELECT m.text, m.type, m.direction, m.author FROM message m WHERE m.conversation_id = c.id
                   ORDER BY m.id DESC LIMIT 1) lm ON true"""


async def list_inbox(company_id: int, user_id: int, tab: str, *, status: str = "", department_id: int | None = None,
                     channel_id: int | None = None, query: str = "", cursor: tuple[datetime, int] | None = None,
                     limit: int = INBOX_PAGE, every_department: bool = False, label_id: int | None = None,
                     ) -> tuple[list[asyncpg.Record], tuple[datetime, int] | None]:
    """A page of the inbox list, most recent activity first, and the cursor of the next page.

    ``mine``: the user's conversations (assigned, unless ``status`` asks otherwise); ``queue``:
    waiting in the user's departments (or in none; every department for supervisors); ``all``: the company's (open unless ``status``
    says). The caller checks who may use ``all``."""
    where = ["c.company_id = $1"]
    args: list = [company_id]

    def arg(value) -> str:
        args.append(value)
        return f"${len(args)}"

    if tab == "mine":
        where.append(f"c.assigned_user_id = {arg(user_id)} AND c.status = {arg(status or 'assigned')}")
    elif tab == "queue":
        statuses = [status] if status else ["queued", "bot"]
        where.append(f"c.status = ANY({arg(statuses)}::varchar[]) AND c.status IN ('queued', 'bot')")
        if not every_department:  # supervisors' queue is every department's
            where.append(f"(c.department_id IS NULL OR c.department_id IN "
                         f"(SELECT department_id FROM user_department WHERE user_id = {arg(user_id)}))")
    elif status:
        where.append(f"c.status = {arg(status)}")
    else:
        where.append("c.status <> 'resolved'")
    if department_id:
        where.append(f"c.department_id = {arg(department_id)}")
    if channel_id:
        where.append(f"c.channel_id = {arg(channel_id)}")
    if label_id:
        where.append(f"EXISTS (SELECT 1 FROM conversation_label cl WHERE cl.conversation_id = c.id "
                     f"AND cl.label_id = {arg(label_id)})")
    query = query.strip()[:100]
    if query:
        like = arg(sql.like(query))
        digits = "".join(ch for ch in query if ch.isdigit())
        phone = f" OR ct.phone LIKE {arg(sql.like(digits))}" if len(digits) >= 3 else ""
        where.append(f"(ct.name ILIKE {like}{phone} OR EXISTS (SELECT 1 FROM message sm WHERE sm.conversation_id = c.id "
                     f"AND sm.text ILIKE {like}))")
    if cursor:
        where.append(f"(c.last_message_at, c.id) < ({arg(cursor[0])}::timestamptz, {arg(cursor[1])}::int)")
    rows = await sql.fetch(
        f"{_INBOX_ROW} WHERE {' AND '.join(where)} ORDER BY c.last_message_at DESC, c.id DESC LIMIT {arg(limit + 1)}",
        *args,
    )
    more = len(rows) > limit
    items = [Item(r) for r in rows[:limit]]
    return items, ((items[-1]["last_message_at"], items[-1]["id"]) if more else None)


async def get_inbox_row(company_id: int, conversation_id: int) -> Item | None:
    row = await sql.fetchrow(f"{_INBOX_ROW} WHERE c.company_id = $1 AND c.id = $2", company_id, conversation_id)
    return Item(row) if row is not None else None


async def get_inbox_rows(company_id: int, conversation_ids: list[int]) -> dict[int, Item]:
    """Several list rows of one company in one query, by conversation id (for event batches)."""
    rows = await sql.fetch(f"{_INBOX_ROW} WHERE c.company_id = $1 AND c.id = ANY($2::int[])", company_id,
                           sorted(set(conversation_ids)))
    return {r["id"]: Item(r) for r in rows}


async def my_unread(company_id: int, user_id: int) -> dict[int, int]:
    """Unread customer messages in each conversation the user holds (the page title's counter)."""
    rows = await sql.fetch(
        """SELECT c.id, count(m.id) AS n FROM conversation c
           LEFT JOIN message m ON m.conversation_id = c.id AND m.id > c.read_message_id AND m.direction = 'in'
           WHERE c.company_id = $1 AND c.assigned_user_id = $2 AND c.status = 'assigned' GROUP BY c.id""",
        company_id, user_id,
    )
    return {r["id"]: r["n"] for r in rows}


async def inbox_counts(company_id: int, user_id: int, every_department: bool = False) -> dict[str, int]:
    """How many conversations each tab holds (without filters)."""
    row = await sql.fetchrow(
        """SELECT count(*) FILTER (WHERE c.assigned_user_id = $2 AND c.status = 'assigned') AS mine,
                  count(*) FILTER (WHERE c.status IN ('queued', 'bot') AND ($3 OR c.department_id IS NULL OR c.department_id IN
                                   (SELECT department_id FROM user_department WHERE user_id = $2))) AS queue,
                  count(*) AS "all"
           FROM conversation c WHERE c.company_id = $1 AND c.status <> 'resolved'""",
        company_id, user_id, every_department,
    )
    return dict(row)


async def list_contact_rows(company_id: int, contact_id: int) -> list[Item]:
    """A customer's open conversations as list rows (their name or details changed)."""
    rows = await sql.fetch(f"{_INBOX_ROW} WHERE c.company_id = $1 AND c.contact_id = $2 AND c.status <> 'resolved'",
                           company_id, contact_id)
    return [Item(r) for r in rows]


async def message_context(company_id: int, conversation_id: int, message_id: int) -> asyncpg.Record | None:
    """What the dispatcher's reactions to a stored message read, in one round trip: the message,
    its conversation, and the latest pending shop order requested before it (through the
    partial index). Shared by ``orders.take_reply`` and ``bot.answer`` (app.dispatch.sweeper)."""
    return await sql.fetchrow(
        """SELECT m.text, m.direction, m.created_at, c.status, c.bot_state, c.bot_asked_at, c.contact_id,
                  c.department_id, c.out_of_hours_sent_at, o.id AS order_id, o.needs_agent_at
           FROM message m JOIN conversation c ON c.id = m.conversation_id
           LEFT JOIN LATERAL (SELECT id, needs_agent_at FROM shop_order
                              WHERE conversation_id = c.id AND status = 'pending' AND requested_at <= m.created_at
                              ORDER BY id DESC LIMIT 1) o ON true
           WHERE m.company_id = $1 AND m.id = $2 AND m.conversation_id = $3""",
        company_id, message_id, conversation_id,
    )
