"""What staff see around the messages: internal notes, the conversation's timeline, the
customer's record and past conversations, and the holder's read mark.

The timeline merges messages (with their author's name, the quoted message and reactions),
internal notes and hand-off events (``conversation_event``) in time order, a page at a time:
the cursor is a message id, and notes and events are those between the page's first message
and the next page's. Who may see a conversation is decided by the caller (``app.dispatch.reads``).
"""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.callers import calls_in_conversation
from app.domain.contacts import get_contact
from app.domain.errors import NotFound
from app.domain.events import ContactChanged, NoteAdded, emit
from app.domain.validation import EMAIL_RE, Cleaner
from app.i18n import N_

PAGE = 30
NOTE_MAX = 4000


class Item(dict):
    """A row for templates: ``item.name`` reads ``item["name"]`` without Jinja's failed-attribute
    detour (measurable when a page renders hundreds of them)."""

    __slots__ = ()

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_MESSAGE = """SELECT m.id, m.conversation_id, m.channel_id, m.direction, m.author, m.author_user_id, m.type, m.text,
                     m.data, m.reply_to, m.provider_message_id, m.status, m.error_code, m.error_reason,
                     m.created_at, u.name AS author_name,
                     q.id AS quote_id, q.type AS quote_type, left(q.text, 200) AS quote_text, q.direction AS quote_direction
              FROM message m
              LEFT JOIN app_user u ON u.id = m.author_user_id
              LEFT JOIN message q ON m.reply_to <> '' AND q.channel_id = m.channel_id AND q.provider_message_id = m.reply_to"""


def _message(row: asyncpg.Record) -> dict:
    item = Item(row)
    if isinstance(item.get("data"), str):
        item["data"] = json.loads(item["data"])
    item["kind"] = "message"
    item["reactions"] = []
    return item


async def get_message_view(company_id: int, message_id: int) -> dict:
    """One message as a bubble shows it (author's name, quote)."""
    row = await sql.fetchrow(_MESSAGE + " WHERE m.company_id = $1 AND m.id = $2", company_id, message_id)
    if row is None:
        raise NotFound(N_("No such message."))
    return _message(row)


async def get_message_views(company_id: int, message_ids: list[int]) -> dict[int, dict]:
    """Several bubbles of one company in one query, by id (the event stream renders batches)."""
    ids = sorted({i for i in message_ids if 0 < i < 2**63})
    if not ids:
        return {}
    rows = await sql.fetch(_MESSAGE + " WHERE m.company_id = $1 AND m.id = ANY($2::bigint[])", company_id, ids)
    return {r["id"]: _message(r) for r in rows}


async def list_timeline(
    company_id: int, conversation_id: int, *, before: int | None = None, limit: int = PAGE
) -> tuple[list[dict], int | None]:
    """A page of the conversation, oldest first, and the cursor for the page before it (or None)."""
    rows = await sql.fetch(
        _MESSAGE
        + """ WHERE m.company_id = $1 AND m.conversation_id = $2 AND m.id < $3
                       ORDER BY m.id DESC LIMIT $4""",
        company_id,
        conversation_id,
        before or 2**62,
        limit + 1,
    )
    more = len(rows) > limit
    messages = [_message(r) for r in reversed(rows[:limit])]
    low: datetime | None = messages[0]["created_at"] if (more and messages) else None
    high: datetime | None = None
    if before:
        high = await sql.fetchval(
            "SELECT created_at FROM message WHERE company_id = $1 AND id = $2", company_id, before
        )
    notes = await sql.fetch(
        """SELECT n.id, n.text, n.created_at, n.author_user_id, u.name AS author_name FROM conversation_note n
           LEFT JOIN app_user u ON u.id = n.author_user_id
           WHERE n.company_id = $1 AND n.conversation_id = $2
             AND ($3::timestamptz IS NULL OR n.created_at >= $3) AND ($4::timestamptz IS NULL OR n.created_at < $4)
           ORDER BY n.created_at, n.id LIMIT 500""",
        company_id,
        conversation_id,
        low,
        high,
    )
    events = await sql.fetch(
        _EVENT
        + """ WHERE e.company_id = $1 AND e.conversation_id = $2
             AND ($3::timestamptz IS NULL OR e.at >= $3) AND ($4::timestamptz IS NULL OR e.at < $4)
           ORDER BY e.at, e.id LIMIT 500""",
        company_id,
        conversation_id,
        low,
        high,
    )
    # Reactions sit under the message they react to when it is on the page.
    by_provider_id = {m["provider_message_id"]: m for m in messages if m["provider_message_id"]}
    shown: list[dict] = []
    for m in messages:
        if m["type"] == "reaction" and ((m["data"] or {}).get("superseded") or not m["text"]):
            continue  # replaced by a later reaction of its author, or taken back (empty emoji)
        target = by_provider_id.get((m["data"] or {}).get("reaction_to", "")) if m["type"] == "reaction" else None
        if target is not None:
            target["reactions"].append(m["text"])
        else:
            shown.append(m)
    items = shown + [Item(n, kind="note") for n in notes] + [Item(e, kind="event", created_at=e["at"]) for e in events]
    # The customer's telephone calls (issue 17: one timeline per customer), from the PBX's CDR.
    items += [
        Item(c, kind="call", created_at=c["at"])
        for c in await calls_in_conversation(company_id, conversation_id, low, high)
    ]
    order = {"event": 0, "message": 1, "note": 2, "call": 3}
    items.sort(key=lambda i: (i["created_at"], order[i["kind"]], i["id"]))
    return items, (messages[0]["id"] if more and messages else None)


_EVENT = """SELECT e.id, e.kind AS event_kind, e.from_status, e.to_status, e.note, e.at, a.name AS actor_name, tu.name AS to_user_name,
                   fu.name AS from_user_name, td.name AS to_department_name
            FROM conversation_event e
            LEFT JOIN app_user a ON a.id = e.actor_user_id
            LEFT JOIN app_user tu ON tu.id = e.to_user_id
            LEFT JOIN app_user fu ON fu.id = e.from_user_id
            LEFT JOIN department td ON td.id = e.to_department_id"""


# Notes ------------------------------------------------------------------------------------


async def add_note(company_id: int, conversation_id: int, author_user_id: int, data: dict) -> int:
    """An internal note: staff only, never sent (the caller checked the author may see the conversation)."""
    c = Cleaner(data)
    text = c.text("text", max_len=NOTE_MAX)
    c.raise_if_errors()
    async with sql.transaction():
        note_id = await sql.fetchval(
            """INSERT INTO conversation_note (company_id, conversation_id, author_user_id, text)
               SELECT company_id, id, $3, $4 FROM conversation WHERE company_id = $1 AND id = $2 RETURNING id""",
            company_id,
            conversation_id,
            author_user_id,
            text,
        )
        if note_id is None:
            raise NotFound(N_("No such conversation."))
        await emit(NoteAdded(company_id, conversation_id, note_id))
    return note_id


async def get_note(company_id: int, note_id: int) -> dict:
    row = await sql.fetchrow(
        """SELECT n.id, n.conversation_id, n.text, n.created_at, n.author_user_id, u.name AS author_name
           FROM conversation_note n LEFT JOIN app_user u ON u.id = n.author_user_id
           WHERE n.company_id = $1 AND n.id = $2""",
        company_id,
        note_id,
    )
    if row is None:
        raise NotFound(N_("No such note."))
    return Item(row, kind="note")


# Read mark --------------------------------------------------------------------------------


async def mark_read(company_id: int, conversation_id: int) -> None:
    """The holder has seen every customer message so far (their unread count drops to 0)."""
    await sql.execute(
        """UPDATE conversation c SET read_message_id = m.last
           FROM (SELECT coalesce(max(id), 0) AS last FROM message
                 WHERE company_id = $1 AND conversation_id = $2 AND direction = 'in') m
           WHERE c.company_id = $1 AND c.id = $2 AND c.read_message_id < m.last""",
        company_id,
        conversation_id,
    )


# The customer -----------------------------------------------------------------------------


async def update_contact(company_id: int, contact_id: int, data: dict) -> None:
    """Edit the customer's name and details (any staff member who may see one of their conversations)."""
    before = await get_contact(company_id, contact_id, deleted_too=True)
    c = Cleaner(data)
    values = {
        "name": c.text("name", max_len=200, required=False),
        "email": c.text("email", max_len=254, required=False).lower(),
        "details": c.text("details", max_len=2000, required=False),
    }
    if values["email"] and "email" not in c.errors and not EMAIL_RE.match(values["email"]):
        c.fail("email", N_("Enter a valid e-mail address."))
    c.raise_if_errors()
    async with sql.transaction():
        await sql.execute(
            "UPDATE contact SET name = $3, email = $4, details = $5 WHERE company_id = $1 AND id = $2",
            company_id,
            contact_id,
            values["name"],
            values["email"],
            values["details"],
        )
        await record_audit(
            company_id,
            "contact.updated",
            target_type="contact",
            target_id=contact_id,
            target_label=values["name"] or before["phone"] or "",
            before={k: before[k] for k in values},
            after=values,
        )
        await emit(ContactChanged(company_id, contact_id))


async def list_contact_conversations(company_id: int, contact_id: int, limit: int = 20) -> list[asyncpg.Record]:
    """The customer's conversations, newest first, with who handled them and how many messages."""
    return await sql.fetch(
        """SELECT c.id, c.status, c.created_at, c.resolved_at, c.last_message_at, ch.name AS channel_name,
                  d.name AS department_name, d.colour AS department_colour, u.name AS assigned_name,
                  (SELECT count(*) FROM message m WHERE m.conversation_id = c.id) AS messages
           FROM conversation c JOIN channel ch ON ch.id = c.channel_id
           LEFT JOIN department d ON d.id = c.department_id LEFT JOIN app_user u ON u.id = c.assigned_user_id
           WHERE c.company_id = $1 AND c.contact_id = $2 ORDER BY c.created_at DESC, c.id DESC LIMIT $3""",
        company_id,
        contact_id,
        limit,
    )
