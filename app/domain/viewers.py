"""Who else is here: the staff who have a conversation open, and who of them types a reply.

Each open pane says so when it opens, every ``HEARTBEAT`` seconds, while its person types, and
when it closes (``app/web/viewers.py``, ``static/js/viewers.js``). A row older than ``FRESH``
seconds no longer counts (a tab closed without a word). ``ViewersChanged`` is sent at once and
only when the set of viewers or typists changes, never for a plain heartbeat. Nothing here is
history: the table is UNLOGGED and pruned as it goes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import asyncpg
from piccolo.columns import Integer, Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.domain import sql
from app.domain.events import Event, publish_now

HEARTBEAT = 25
FRESH = 60
TYPING_FOR = 8
STATES = ("viewing", "typing", "left")


class ConversationViewer(Table, tablename="conversation_viewer"):
    """A person with the conversation open (``typing_at``: their last key in the reply)."""

    # Piccolo has no composite keys: the class names one column of (conversation_id, user_id).
    conversation_id = Integer(primary_key=True)
    user_id = Integer()
    company_id = Integer()
    seen_at = Timestamptz(default=TimestamptzNow())
    typing_at = Timestamptz(null=True, default=None)


@dataclass(frozen=True)
class ViewersChanged(Event):
    """Someone opened or left a conversation, or started or stopped typing in it."""

    name: ClassVar[str] = "viewers-changed"
    conversation_id: int
    # When it happened: two changes of one conversation are two events, not one cached twice.
    at: float = 0.0


async def _snapshot(conversation_id: int) -> set[tuple[int, bool]]:
    rows = await sql.fetch(
        """SELECT user_id, coalesce(typing_at > now() - make_interval(secs => $3), false) AS typing
           FROM conversation_viewer WHERE conversation_id = $1 AND seen_at > now() - make_interval(secs => $2)""",
        conversation_id,
        float(FRESH),
        float(TYPING_FOR),
    )
    return {(r["user_id"], r["typing"]) for r in rows}


async def mark_viewer(company_id: int, conversation_id: int, user_id: int, state: str) -> bool:
    """Record ``state`` (viewing, typing, left); True (and an event) when the picture changed."""
    before = await _snapshot(conversation_id)
    if state == "left":
        await sql.execute(
            "DELETE FROM conversation_viewer WHERE conversation_id = $1 AND user_id = $2",
            conversation_id,
            user_id,
        )
    else:
        await sql.execute(
            """INSERT INTO conversation_viewer (conversation_id, user_id, company_id, seen_at, typing_at)
               VALUES ($1, $2, $3, now(), CASE WHEN $4 THEN now() END)
               ON CONFLICT (conversation_id, user_id) DO UPDATE SET seen_at = now(),
                   typing_at = CASE WHEN $4 THEN now() ELSE NULL END""",
            conversation_id,
            user_id,
            company_id,
            state == "typing",
        )
    await sql.execute(
        "DELETE FROM conversation_viewer WHERE conversation_id = $1 AND seen_at < now() - make_interval(secs => $2)",
        conversation_id,
        float(FRESH),
    )
    changed = await _snapshot(conversation_id) != before
    if changed:
        await publish_now(ViewersChanged(company_id=company_id, conversation_id=conversation_id, at=time.time()))
    return changed


async def list_viewers(company_id: int, conversation_id: int) -> list[asyncpg.Record]:
    return await sql.fetch(
        """SELECT v.user_id, u.name, coalesce(v.typing_at > now() - make_interval(secs => $4), false) AS typing,
                  extract(epoch FROM v.seen_at)::float8 + $3 AS until
           FROM conversation_viewer v JOIN app_user u ON u.id = v.user_id
           WHERE v.company_id = $1 AND v.conversation_id = $2 AND v.seen_at > now() - make_interval(secs => $3)
           ORDER BY lower(u.name)""",
        company_id,
        conversation_id,
        float(FRESH),
        float(TYPING_FOR),
    )
