"""Reopening a resolved conversation (an agent picks a closed thread back up).

The person who reopens it holds it at once (``assigned``, no response timer: they are the one
writing next). Refused while the customer already has an open conversation on the same channel
(one open thread per customer and channel). Agents reopen conversations they held or of their
departments; supervisors and admins any. Like every change of holder it takes the company's
dispatch lock, is a ``conversation_event`` (``reopened``) and is audited.
"""

from __future__ import annotations

from app.dispatch.assignment import (
    Transition,
    _lock_conversation,
    _record,
    lock_company,
)
from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound, ValidationError
from app.domain.tables import User
from app.i18n import N_


async def may_reopen(actor: User, conv) -> bool:
    if actor.role in ("admin", "supervisor"):
        return True
    if conv["assigned_user_id"] == actor.id:
        return True
    if conv["department_id"] is None:
        return False
    return bool(
        await sql.fetchval(
            "SELECT 1 FROM user_department WHERE user_id = $1 AND department_id = $2",
            actor.id,
            conv["department_id"],
        )
    )


async def reopen_conversation(actor: User, conversation_id: int) -> None:
    async with sql.transaction():
        await lock_company(actor.company_id)
        conv = await _lock_conversation(actor.company_id, conversation_id)
        if not await may_reopen(actor, conv):
            raise NotFound(N_("No such conversation."))
        if conv["status"] != "resolved":
            return
        busy = await sql.fetchval(
            """SELECT 1 FROM conversation o JOIN conversation c ON c.id = $2
               WHERE o.company_id = $1 AND o.channel_id = c.channel_id AND o.contact_id = c.contact_id
                 AND o.status <> 'resolved'""",
            actor.company_id,
            conversation_id,
        )
        if busy:
            raise ValidationError({"reopen": N_("This customer already has an open conversation on this channel.")})
        await sql.execute(
            """UPDATE conversation SET status = 'assigned', assigned_user_id = $2, assigned_at = now(),
                   resolved_at = NULL, awaiting_agent_since = NULL WHERE id = $1""",
            conversation_id,
            actor.id,
        )
        await _record(
            actor.company_id,
            [
                Transition(
                    conversation_id,
                    "reopened",
                    "resolved",
                    "assigned",
                    conv["assigned_user_id"],
                    actor.id,
                    conv["department_id"],
                    conv["department_id"],
                    actor.id,
                )
            ],
        )
        await record_audit(
            actor.company_id,
            "conversation.reopened",
            target_type="conversation",
            target_id=conversation_id,
            target_label=f"#{conversation_id}",
            before={"status": "resolved"},
            after={"status": "assigned", "user_id": actor.id},
        )
