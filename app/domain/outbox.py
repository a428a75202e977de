"""The outbox: claiming pending outbound messages and recording what sending them gave.

A claim is a lease, not a long transaction: ``claim_due`` bumps ``next_attempt_at`` past the
send timeout under ``FOR UPDATE SKIP LOCKED`` and commits, so several worker processes never
take the same message, and a worker that dies mid-send leaves the message to be retried when
its lease runs out. Messages of one conversation go out in order: a message waits while an
older one of its conversation is still pending.

The claim also records the attempt (``send_started_at``) before the provider is called; the
outcome clears it. A message claimed while it is still set had an attempt whose outcome nobody
learnt (the process died, or the answer was lost): the sender reconciles it with the provider
(``previous_attempt_at``) instead of sending it again blindly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from app.domain import sql
from app.domain.events import MessageStatusChanged, emit


@dataclass(frozen=True)
class Claimed:
    id: int
    company_id: int
    channel_id: int
    conversation_id: int
    type: str
    text: str
    data: dict
    reply_to: str
    attempts: int
    to_phone: str | None
    # Opt-out (app.domain.contacts.opt_out_allows): the sender checks it when it sends.
    opted_out: bool = False
    last_inbound_at: datetime | None = None
    to_alias: str = ""  # e.g. "123@lid" when the contact has no phone
    previous_attempt_at: datetime | None = None  # an earlier attempt's outcome is unknown


async def claim_due(limit: int = 10, lease_seconds: float = 120.0) -> list[Claimed]:
    # A cheap poll first, on one table through the partial index: an idle outbox costs almost
    # nothing and takes no lock on the joined tables.
    if not await sql.fetchval(
        "SELECT EXISTS (SELECT 1 FROM message WHERE status = 'pending' AND next_attempt_at <= now())"
    ):
        return []
    async with sql.transaction():
        rows = await sql.fetch(
            """WITH due AS (
                   SELECT p.id, p.send_started_at AS previous_attempt_at FROM message p
                   WHERE p.status = 'pending' AND p.next_attempt_at <= now()
                     AND NOT EXISTS (SELECT 1 FROM message q WHERE q.conversation_id = p.conversation_id
                                     AND q.status = 'pending' AND q.id < p.id)
                   ORDER BY p.next_attempt_at, p.id LIMIT $1 FOR UPDATE SKIP LOCKED)
               UPDATE message m SET attempts = m.attempts + 1,
                                    next_attempt_at = now() + make_interval(secs => $2),
                                    send_started_at = now()
               FROM due, conversation c, contact ct
               WHERE m.id = due.id AND c.id = m.conversation_id AND ct.id = c.contact_id
               RETURNING m.id, m.company_id, m.channel_id, m.conversation_id, m.type, m.text, m.data, m.reply_to,
                         m.attempts, ct.phone AS to_phone, ct.opted_out_at IS NOT NULL AS opted_out,
                         c.last_inbound_at, due.previous_attempt_at,
                         coalesce((SELECT a.alias FROM contact_alias a WHERE a.contact_id = ct.id ORDER BY a.id LIMIT 1),
                                  '') AS to_alias""",
            limit,
            float(lease_seconds),
        )
    return [
        Claimed(**{**dict(r), "data": json.loads(r["data"]) if isinstance(r["data"], str) else dict(r["data"])})
        for r in rows
    ]


async def record_retry(message_id: int, delay: float, code: str, reason: str, *, unknown: bool = False) -> None:
    """A transient failure: stays pending, tried again after ``delay`` seconds. ``unknown``: the
    provider may have the message, so the attempt stays recorded and the next one reconciles."""
    await sql.execute(
        """UPDATE message SET next_attempt_at = now() + make_interval(secs => $2), error_code = $3, error_reason = $4,
                              send_started_at = CASE WHEN $5 THEN send_started_at END
           WHERE id = $1 AND status = 'pending'""",
        message_id,
        float(delay),
        code[:32],
        reason,
        unknown,
    )


async def record_failure(company_id: int, message_id: int, code: str, reason: str) -> None:
    """A permanent failure: shown as failed with the reason; the agent may resend."""
    async with sql.transaction():
        conversation_id = await sql.fetchval(
            """UPDATE message SET status = 'failed', error_code = $3, error_reason = $4, send_started_at = NULL
               WHERE company_id = $1 AND id = $2 AND status = 'pending' RETURNING conversation_id""",
            company_id,
            message_id,
            code[:32],
            reason,
        )
        if conversation_id is not None:
            await emit(MessageStatusChanged(company_id, conversation_id, message_id, "failed"))
