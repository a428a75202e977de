"""Reads for the people dispatch serves: an agent's conversations and their queues."""

from __future__ import annotations

import asyncpg

from app.domain import sql

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
