"""The home of a conversation: its reads, who may see it, and what people do with it.

- **Reads**: ``get_conversation`` (one row shape for every page, the API and the stream: the
  conversation, its customer's phone and name, its channel, department and holder),
  ``list_conversations``, ``find_open_conversation``, ``list_messages``. The customer's card is
  ``app.domain.contacts.get_contact``; the inbox's list rows are ``app.dispatch.reads``.
- **Visibility** ("who may see it"), written once: ``may_see`` in Python and ``visible_sql`` /
  ``in_departments_sql`` in SQL state the same rule; the browser gets the statuses a queue holds
  from the page (``QUEUE_STATUSES``), never its own copy.
- **Actions** of people: ``take_conversation``, ``assign_to_agent``, ``transfer_conversation``,
  ``resolve_conversation``. They check who may do what and call the routing engine
  (``app.dispatch.assignment``: locks, queues, drains), which the dispatcher uses too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import asyncpg

from app.domain import sql
from app.domain.errors import NotFound, PermissionDenied, ValidationError
from app.domain.tables import User
from app.i18n import N_

SUPERVISORS = ("admin", "supervisor")
# What an agent's Queue tab holds: conversations waiting for an agent. Conversations with the
# bot (menu, order confirmation) are not waiting for an agent: supervisors see them in their
# own view (``status=bot``).
QUEUE_STATUSES = ("queued",)
# What an agent of a department may open besides their own: anything not yet with an agent.
WAITING_STATUSES = ("queued", "bot")


# Reads --------------------------------------------------------------------------------------

CONVERSATION_SQL = """
SELECT c.*, ct.phone, ct.name AS contact_name, ch.name AS channel_name, ch.provider,
       d.name AS department_name, u.name AS assigned_name
FROM conversation c JOIN contact ct ON ct.id = c.contact_id JOIN channel ch ON ch.id = c.channel_id
LEFT JOIN department d ON d.id = c.department_id LEFT JOIN app_user u ON u.id = c.assigned_user_id
"""


async def get_conversation(company_id: int, conversation_id: int) -> asyncpg.Record:
    """One conversation of this company (404 for another company's or an unknown id)."""
    if not 0 < conversation_id < 2**31:
        raise NotFound(N_("No such conversation."))
    row = await sql.fetchrow(CONVERSATION_SQL + " WHERE c.company_id = $1 AND c.id = $2", company_id, conversation_id)
    if row is None:
        raise NotFound(N_("No such conversation."))
    return row


async def list_conversations(company_id: int, limit: int = 100) -> list[asyncpg.Record]:
    return await sql.fetch(
        CONVERSATION_SQL + " WHERE c.company_id = $1 ORDER BY c.last_message_at DESC, c.id DESC LIMIT $2",
        company_id,
        limit,
    )


async def find_open_conversation(company_id: int, channel_id: int, phone: str) -> asyncpg.Record | None:
    """The latest conversation of a channel's customer (the Sandbox simulator's phone)."""
    return await sql.fetchrow(
        CONVERSATION_SQL
        + " WHERE c.company_id = $1 AND c.channel_id = $2 AND ct.phone = $3 ORDER BY c.id DESC LIMIT 1",
        company_id,
        channel_id,
        phone,
    )


def _decode(row: asyncpg.Record) -> dict:
    item = dict(row)
    if isinstance(item.get("data"), str):
        item["data"] = json.loads(item["data"])
    return item


async def list_messages(
    company_id: int, conversation_id: int, *, before: int | None = None, limit: int = 200
) -> list[dict]:
    """The conversation's messages before ``before`` (an id), the latest ``limit`` of them,
    oldest first."""
    rows = await sql.fetch(
        """SELECT * FROM (SELECT * FROM message WHERE company_id = $1 AND conversation_id = $2
                                 AND ($3::bigint IS NULL OR id < $3)
                          ORDER BY id DESC LIMIT $4) m ORDER BY id""",
        company_id,
        conversation_id,
        before,
        limit,
    )
    return [_decode(r) for r in rows]


# Who may see it -------------------------------------------------------------------------------


def may_see(viewer_id: int, role: str, conversation, department_ids: Iterable[int]) -> bool:
    """Supervisors and admins see every conversation of their company; an agent sees the ones
    they hold and the ones not yet with an agent (queued, or with the bot) in their departments
    or in none. ``conversation`` needs ``status``, ``assigned_user_id`` and ``department_id``."""
    if role in SUPERVISORS or conversation["assigned_user_id"] == viewer_id:
        return True
    return conversation["status"] in WAITING_STATUSES and (
        conversation["department_id"] is None or conversation["department_id"] in department_ids
    )


def in_departments_sql(user: str, alias: str = "c") -> str:
    """SQL: the conversation is in one of the user's departments, or in none (``user`` is a
    placeholder such as ``$2``)."""
    return (
        f"({alias}.department_id IS NULL OR {alias}.department_id IN "
        f"(SELECT department_id FROM user_department WHERE user_id = {user}))"
    )


def visible_sql(user: str, role: str, alias: str = "c") -> str:
    """``may_see`` as an SQL condition for a viewer of this role (``user``: a placeholder)."""
    if role in SUPERVISORS:
        return "true"
    waiting = ", ".join(f"'{s}'" for s in WAITING_STATUSES)
    return (
        f"({alias}.assigned_user_id = {user} OR ({alias}.status IN ({waiting}) AND {in_departments_sql(user, alias)}))"
    )


async def user_departments(user_id: int) -> frozenset[int]:
    rows = await sql.fetch("SELECT department_id FROM user_department WHERE user_id = $1", user_id)
    return frozenset(r["department_id"] for r in rows)


async def department_members(company_id: int) -> dict[int, frozenset[int]]:
    """Each user's departments, for a whole company in one query (live filtering)."""
    rows = await sql.fetch(
        "SELECT user_id, array_agg(department_id) AS deps FROM user_department WHERE company_id = $1 GROUP BY user_id",
        company_id,
    )
    return {r["user_id"]: frozenset(r["deps"]) for r in rows}


async def agent_may_see(viewer_id: int, role: str, conversation) -> bool:
    """``may_see`` reading the viewer's departments."""
    if role in SUPERVISORS or conversation["assigned_user_id"] == viewer_id:
        return True
    return may_see(viewer_id, role, conversation, await user_departments(viewer_id))


def may_reply(user_id: int, role: str, conversation) -> bool:
    """Only the holder (or a supervisor) may write to the customer (DESIGN: security)."""
    return role in SUPERVISORS or (conversation["status"] == "assigned" and conversation["assigned_user_id"] == user_id)


# Actions of people ------------------------------------------------------------------------------


async def take_conversation(agent: User, conversation_id: int) -> None:
    """An agent takes a bot or queued conversation of one of their departments (seed 002)."""
    from app.dispatch.assignment import assign_one

    conv = await get_conversation(agent.company_id, conversation_id)
    if conv["status"] == "resolved":
        raise ValidationError({"conversation": N_("This conversation is resolved.")})
    if agent.role == "agent":
        if conv["department_id"] is not None and conv["department_id"] not in await user_departments(agent.id):
            raise PermissionDenied(N_("This conversation belongs to a department you are not in."))
        if conv["status"] == "assigned" and conv["assigned_user_id"] != agent.id:
            raise PermissionDenied(N_("Another agent holds this conversation; ask a supervisor to reassign it."))
    await assign_one(agent, agent.company_id, conversation_id, agent.id, "taken")


async def assign_to_agent(supervisor: User, conversation_id: int, user_id: int, note: str = "") -> None:
    """A supervisor gives a conversation to a named agent."""
    from app.dispatch.assignment import assign_one, drain_for_user

    if supervisor.role not in SUPERVISORS:
        raise PermissionDenied(N_("Only supervisors may assign conversations."))
    previous = (await get_conversation(supervisor.company_id, conversation_id))["assigned_user_id"]
    await assign_one(supervisor, supervisor.company_id, conversation_id, user_id, "reassigned", note)
    if previous and previous != user_id:
        await drain_for_user(supervisor.company_id, previous)


async def transfer_conversation(
    actor: User, conversation_id: int, *, department_id: int | None = None, user_id: int | None = None, note: str = ""
) -> None:
    """Transfer to a department (back to its queue) or to an agent, with an internal note."""
    from app.dispatch.assignment import assign_one, drain_for_user, queue_conversation

    conv = await get_conversation(actor.company_id, conversation_id)
    if actor.role == "agent" and conv["assigned_user_id"] != actor.id:
        raise PermissionDenied(N_("Only the assigned agent or a supervisor may transfer this conversation."))
    if (department_id is None) == (user_id is None):
        raise ValidationError({"target": N_("Choose a department or an agent.")})
    if department_id is not None:
        await queue_conversation(actor.company_id, conversation_id, department_id, actor_user_id=actor.id, note=note)
    else:
        await assign_one(actor, actor.company_id, conversation_id, user_id, "transferred", note)
    if conv["assigned_user_id"]:
        await drain_for_user(actor.company_id, conv["assigned_user_id"])


async def resolve_conversation(actor: User, conversation_id: int) -> None:
    """Close the conversation: the closing message goes out, then it is read-only history;
    the agent's slot frees."""
    from app.dispatch.assignment import close_conversation, send_auto_message

    current = await get_conversation(actor.company_id, conversation_id)
    if actor.role == "agent" and current["assigned_user_id"] != actor.id:
        raise PermissionDenied(N_("Only the assigned agent or a supervisor may resolve this conversation."))
    if current["status"] != "resolved":
        await send_auto_message(actor.company_id, conversation_id, "resolved")
    await close_conversation(actor, conversation_id)
