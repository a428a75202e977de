"""Conversations ready for dispatch: a channel, contacts, conversations in a given state."""

from __future__ import annotations

import itertools
import secrets

from app.domain import sql

_seq = itertools.count(1)


async def make_channel(company, *, department=None) -> int:
    return await sql.fetchval(
        """INSERT INTO channel (company_id, name, provider, webhook_secret, default_department_id)
           VALUES ($1, $2, 'sandbox', $3, $4) RETURNING id""",
        company.id,
        f"Channel {next(_seq)}",
        secrets.token_hex(16),
        department.id if department else None,
    )


async def make_conversation(company, channel_id: int, *, status: str = "bot", department=None, contact_id=None) -> int:
    if contact_id is None:
        contact_id = await sql.fetchval(
            "INSERT INTO contact (company_id, phone, name) VALUES ($1, $2, $3) RETURNING id",
            company.id,
            f"+3361{next(_seq):07d}",
            "Customer",
        )
    return await sql.fetchval(
        # A conversation opens with the customer's message: they are waiting on the business.
        """INSERT INTO conversation (company_id, channel_id, contact_id, status, department_id, last_inbound_at)
           VALUES ($1, $2, $3, $4, $5, now()) RETURNING id""",
        company.id,
        channel_id,
        contact_id,
        status,
        department.id if department else None,
    )


async def conversation(conversation_id: int):
    return await sql.fetchrow("SELECT * FROM conversation WHERE id = $1", conversation_id)


async def open_counts(company_id: int) -> dict[int, int]:
    rows = await sql.fetch(
        """SELECT assigned_user_id, count(*) AS n FROM conversation
           WHERE company_id = $1 AND status = 'assigned' GROUP BY 1""",
        company_id,
    )
    return {r["assigned_user_id"]: r["n"] for r in rows}
