"""The dispatcher: one leader process reacts to events at once and sweeps what time causes.

Event-driven: an agent coming online (or given more capacity) drains their departments'
queues; an agent going offline has their waiting customers redistributed; a conversation
queued is drained. Time-driven, every SWEEP_INTERVAL seconds: agents whose heartbeats
stopped go offline, assigned conversations unanswered past the response timeout are
reinjected, and, as a safety net for events missed while no leader was listening, queues
are drained and offline agents' waiting customers redistributed.
"""

from __future__ import annotations

import asyncio
import logging

from app.dispatch.assignment import (
    drain_department,
    drain_everything,
    drain_for_user,
    mark_agent_replied,
    mark_customer_waiting,
    queue_conversation,
    redistribute_from,
    reinject_overdue,
)
from app.domain import sql
from app.domain.events import (
    ConversationOpened,
    ConversationRouted,
    Event,
    MessageQueued,
    MessageReceived,
    PresenceChanged,
    UserChanged,
)
from app.domain.presence import expire_stale_presence
from app.realtime.hub import Closed, Hub, Resync
from app.settings import Settings

log = logging.getLogger(__name__)


async def react(event: Event) -> None:
    """What dispatch does about one committed event."""
    if isinstance(event, PresenceChanged):
        if event.presence == "online":
            await drain_for_user(event.company_id, event.user_id)
        elif event.presence == "offline":
            await redistribute_from(event.company_id, event.user_id)
    elif isinstance(event, UserChanged):
        await drain_for_user(event.company_id, event.user_id)
    elif isinstance(event, ConversationRouted) and event.status == "queued" and event.department_id:
        await drain_department(event.company_id, event.department_id)
    elif isinstance(event, ConversationOpened):
        await route_new_conversation(event.company_id, event.conversation_id)
    elif isinstance(event, MessageReceived):
        await mark_customer_waiting(event.company_id, event.conversation_id)
    elif isinstance(event, MessageQueued):
        author = await sql.fetchval(
            "SELECT author FROM message WHERE company_id = $1 AND id = $2", event.company_id, event.message_id
        )
        if author == "agent":
            await mark_agent_replied(event.company_id, event.conversation_id)


async def route_new_conversation(company_id: int, conversation_id: int) -> None:
    """A new conversation goes to its channel's default department's queue (then to an agent).

    Conversations of channels without a default department stay with the bot (status
    ``bot``) until an agent takes them or a supervisor assigns them.
    """
    row = await sql.fetchrow(
        "SELECT status, department_id FROM conversation WHERE company_id = $1 AND id = $2", company_id, conversation_id
    )
    if row is not None and row["status"] == "bot" and row["department_id"]:
        await queue_conversation(company_id, conversation_id, row["department_id"])


async def redistribute_offline_agents() -> int:
    rows = await sql.fetch(
        """SELECT DISTINCT c.company_id, c.assigned_user_id FROM conversation c
           JOIN app_user u ON u.id = c.assigned_user_id
           WHERE c.status = 'assigned' AND c.awaiting_agent_since IS NOT NULL
             AND (u.presence = 'offline' OR NOT u.active)"""
    )
    return sum([len(await redistribute_from(r["company_id"], r["assigned_user_id"])) for r in rows])


async def sweep_once(settings: Settings) -> None:
    expired = await expire_stale_presence(settings.presence_grace)
    if expired:
        log.info("set %d silent agent(s) offline", len(expired))
    reinjected = await reinject_overdue()
    if reinjected:
        log.info("reinjected %d conversation(s) past their response timeout", len(reinjected))
    await redistribute_offline_agents()
    await drain_everything()


async def _sweep_forever(settings: Settings) -> None:
    while True:
        try:
            await sweep_once(settings)
        except Exception:  # noqa: BLE001 - one failed sweep must not stop the next
            log.exception("sweep failed")
        await asyncio.sleep(settings.sweep_interval)


async def _react_forever(hub: Hub) -> None:
    sub = hub.subscribe(None)
    try:
        while True:
            item = await sub.get()
            if isinstance(item, Closed):
                return
            if isinstance(item, Resync):
                await drain_everything()  # events may have been missed
                continue
            try:
                await react(item)
            except Exception:  # noqa: BLE001
                log.exception("dispatch could not react to %s", item.name)
    finally:
        hub.unsubscribe(sub)


async def run_dispatcher(hub: Hub, settings: Settings) -> None:
    """The leader's job: react to events and sweep, until cancelled."""
    await asyncio.gather(_react_forever(hub), _sweep_forever(settings))
