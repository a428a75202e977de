"""Reads for the people dispatch serves: an agent's conversations and their queues."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import datetime

import asyncpg

from app.domain import sql
from app.domain.conversations import QUEUE_STATUSES, in_departments_sql
from app.domain.notes import Item
from app.engine import DB

_ROW = """SELECT c.id, c.status, c.department_id, c.assigned_user_id, c.assigned_at, c.queued_at,
                 c.awaiting_agent_since, c.last_message_at, ct.phone, ct.name AS contact_name,
                 ch.name AS channel_name, d.name AS department_name, d.colour AS department_colour,
                 d.response_timeout
          FROM conversation c JOIN contact ct ON ct.id = c.contact_id JOIN channel ch ON ch.id = c.channel_id
          LEFT JOIN department d ON d.id = c.department_id"""


async def list_my_conversations(company_id: int, user_id: int) -> list[asyncpg.Record]:
    """The conversations an agent holds, the one waiting longest for an answer first."""
    return await sql.fetch(
        _ROW
        + """ WHERE c.company_id = $1 AND c.assigned_user_id = $2 AND c.status = 'assigned'
                  ORDER BY c.awaiting_agent_since NULLS LAST, c.last_message_at DESC""",
        company_id,
        user_id,
    )


async def list_my_queue(company_id: int, user_id: int, limit: int = 50) -> list[asyncpg.Record]:
    """Conversations waiting in the agent's departments (queued, or still with the bot), oldest first."""
    return await sql.fetch(
        _ROW
        + f""" WHERE c.company_id = $1 AND c.status = ANY($3::varchar[]) AND {in_departments_sql("$2")}
                  ORDER BY coalesce(c.queued_at, c.created_at), c.id LIMIT $4""",
        company_id,
        user_id,
        list(QUEUE_STATUSES),
        limit,
    )


# The inbox ------------------------------------------------------------------------------------

INBOX_TABS = ("mine", "queue", "bot", "all")
INBOX_STATUSES = ("bot", "queued", "assigned", "resolved")
INBOX_PAGE = 40

_INBOX_ROW = """SELECT c.id, c.status, c.department_id, c.assigned_user_id, c.channel_id, c.contact_id, c.assigned_at,
       c.queued_at, c.awaiting_agent_since, c.last_message_at, c.last_inbound_at, c.created_at, c.resolved_at,
       c.read_message_id,
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


async def list_inbox(
    company_id: int,
    user_id: int,
    tab: str,
    *,
    status: str = "",
    department_id: int | None = None,
    channel_id: int | None = None,
    query: str = "",
    cursor: tuple[datetime, int] | None = None,
    limit: int = INBOX_PAGE,
    every_department: bool = False,
    label_id: int | None = None,
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
        statuses = [status] if status else list(QUEUE_STATUSES)
        where.append(
            f"c.status = ANY({arg(statuses)}::varchar[]) AND c.status = ANY({arg(list(QUEUE_STATUSES))}::varchar[])"
        )
        if not every_department:  # supervisors' queue is every department's
            where.append(in_departments_sql(arg(user_id)))
    elif tab == "bot":  # supervisors: menus not answered, orders awaiting the customer's reply
        where.append("c.status = 'bot'")
    elif status:
        where.append(f"c.status = {arg(status)}")
    else:
        where.append("c.status <> 'resolved'")
    if department_id:
        where.append(f"c.department_id = {arg(department_id)}")
    if channel_id:
        where.append(f"c.channel_id = {arg(channel_id)}")
    if label_id:
        where.append(
            f"EXISTS (SELECT 1 FROM conversation_label cl WHERE cl.conversation_id = c.id "
            f"AND cl.label_id = {arg(label_id)})"
        )
    query = query.strip()[:100]
    if query:
        like = arg(sql.like(query))
        digits = "".join(ch for ch in query if ch.isdigit())
        phone = f" OR ct.phone LIKE {arg(sql.like(digits))}" if len(digits) >= 3 else ""
        where.append(
            f"(ct.name ILIKE {like}{phone} OR EXISTS (SELECT 1 FROM message sm WHERE sm.conversation_id = c.id "
            f"AND sm.text ILIKE {like}))"
        )
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
    rows = await sql.fetch(
        f"{_INBOX_ROW} WHERE c.company_id = $1 AND c.id = ANY($2::int[])", company_id, sorted(set(conversation_ids))
    )
    return {r["id"]: Item(r) for r in rows}


async def queue_ids(company_id: int, user_id: int, every_department: bool = False, limit: int = 2000) -> list[int]:
    """The conversations of the user's Queue tab (its badge follows them live in the page)."""
    rows = await sql.fetch(
        f"""SELECT c.id FROM conversation c WHERE c.company_id = $1 AND c.status = ANY($4::varchar[])
              AND ($3 OR {in_departments_sql("$2")}) ORDER BY c.id DESC LIMIT $5""",
        company_id,
        user_id,
        every_department,
        list(QUEUE_STATUSES),
        limit,
    )
    return [r["id"] for r in rows]


async def my_unread(company_id: int, user_id: int) -> dict[int, int]:
    """Unread customer messages in each conversation the user holds (the page title's counter)."""
    rows = await sql.fetch(
        """SELECT c.id, count(m.id) AS n FROM conversation c
           LEFT JOIN message m ON m.conversation_id = c.id AND m.id > c.read_message_id AND m.direction = 'in'
           WHERE c.company_id = $1 AND c.assigned_user_id = $2 AND c.status = 'assigned' GROUP BY c.id""",
        company_id,
        user_id,
    )
    return {r["id"]: r["n"] for r in rows}


async def inbox_counts(company_id: int, user_id: int, every_department: bool = False) -> dict[str, int]:
    """How many conversations each tab holds (without filters)."""
    row = await sql.fetchrow(
        f"""SELECT count(*) FILTER (WHERE c.assigned_user_id = $2 AND c.status = 'assigned') AS mine,
                  count(*) FILTER (WHERE c.status = ANY($4::varchar[]) AND ($3 OR {in_departments_sql("$2")})) AS queue,
                  count(*) FILTER (WHERE c.status = 'bot') AS bot,
                  count(*) AS "all"
           FROM conversation c WHERE c.company_id = $1 AND c.status <> 'resolved'""",
        company_id,
        user_id,
        every_department,
        list(QUEUE_STATUSES),
    )
    return dict(row)


async def list_contact_rows(company_id: int, contact_id: int) -> list[Item]:
    """A customer's open conversations as list rows (their name or details changed)."""
    rows = await sql.fetch(
        f"{_INBOX_ROW} WHERE c.company_id = $1 AND c.contact_id = $2 AND c.status <> 'resolved'", company_id, contact_id
    )
    return [Item(r) for r in rows]


_CONTEXT = """SELECT k.i, m.text, m.direction, m.created_at, c.status, c.bot_state, c.bot_asked_at, c.contact_id,
                     c.department_id, c.out_of_hours_sent_at, o.id AS order_id, o.needs_agent_at
              FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS k(company_id, message_id,
                                                                                        conversation_id, i)
              JOIN message m ON m.company_id = k.company_id AND m.id = k.message_id
                            AND m.conversation_id = k.conversation_id
              JOIN conversation c ON c.id = m.conversation_id
              LEFT JOIN LATERAL (SELECT id, needs_agent_at FROM shop_order
                                 WHERE conversation_id = c.id AND status = 'pending' AND requested_at <= m.created_at
                                 ORDER BY id DESC LIMIT 1) o ON true"""


class _ContextBatch:
    """Calls of ``message_context`` made in the same turn of the event loop share one query.

    The dispatcher reacts to messages in several lanes at once (app.dispatch.sweeper.LANES), and
    each reaction first reads its message's context: under a burst of webhooks they coincide, and
    one round trip for all of them costs the leader less than one each (issue 21)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: list[tuple[tuple[int, int, int], asyncio.Future]] = []

    async def get(self, key: tuple[int, int, int]) -> asyncpg.Record | None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a new event loop (tests): nothing of the old one carries over
            self.loop, self.pending = loop, []
        future = loop.create_future()
        self.pending.append((key, future))
        if len(self.pending) == 1:
            loop.create_task(self._flush(), context=contextvars.Context())
        return await future

    async def _flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            rows = await sql.fetch(_CONTEXT, *(list(column) for column in zip(*(key for key, _ in batch))))
        except Exception as exc:  # noqa: BLE001 - handed to every caller
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        found = {row["i"]: row for row in rows}
        for i, (_, future) in enumerate(batch, start=1):
            if not future.done():
                future.set_result(found.get(i))


_CONTEXTS = _ContextBatch()


async def message_context(company_id: int, conversation_id: int, message_id: int) -> asyncpg.Record | None:
    """What the dispatcher's reactions to a stored message read: the message, its conversation,
    and the latest pending shop order requested before it (through the partial index). Shared by
    ``orders.take_reply`` and ``bot.answer`` (app.dispatch.sweeper); concurrent calls share a query."""
    if DB.current_transaction.get() is not None:  # inside a transaction: read through it, alone
        rows = await sql.fetch(_CONTEXT, [company_id], [message_id], [conversation_id])
        return rows[0] if rows else None
    return await _CONTEXTS.get((company_id, message_id, conversation_id))
