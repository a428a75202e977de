"""Why a conversation left an agent: the last hand-over (``conversation_event``) away from them.

The inbox tells the agent who lost a conversation what happened in the words that fit
(reinjected after the response timeout, back in the queue when they went offline, transferred,
reassigned by a supervisor, taken by a colleague), not always "it was transferred".
"""

from __future__ import annotations

from app.domain import sql

KINDS = (
    "reinjected",
    "redistributed",
    "transferred",
    "reassigned",
    "taken",
    "resolved",
)


async def last_handover_from(company_id: int, conversation_id: int, user_id: int) -> str:
    """The kind of the latest hand-over away from ``user_id`` ("transferred" when unknown)."""
    kind = await sql.fetchval(
        """SELECT kind FROM conversation_event
           WHERE company_id = $1 AND conversation_id = $2 AND from_user_id = $3
           ORDER BY id DESC LIMIT 1""",
        company_id,
        conversation_id,
        user_id,
    )
    return kind if kind in KINDS else "transferred"
