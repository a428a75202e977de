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

from app.dispatch import bot
from app.dispatch.assignment import (
    drain_department,
    drain_everything,
    drain_for_user,
    mark_agent_replied,
    redistribute_from,
    send_auto_message,
)
from app.dispatch.reads import message_context
from app.dispatch.timers import run_due
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
from app.domain.orders import take_reply as take_order_reply
from app.domain.phone import ON_THE_PHONE, AgentPhoneChanged
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
    elif isinstance(event, AgentPhoneChanged):  # issue 17: a call ended, the chats wait no longer
        if event.state not in ON_THE_PHONE:
            await drain_for_user(event.company_id, event.user_id)
    elif isinstance(event, ConversationRouted):
        await tell_customer(event)
        if event.status == "queued" and event.department_id:
            await drain_department(event.company_id, event.department_id)
    elif isinstance(event, ConversationOpened):
        await bot.start(event.company_id, event.conversation_id)
    elif isinstance(event, MessageReceived):
        # One read for both reactions below (this runs for every message a company receives).
        row = await message_context(event.company_id, event.conversation_id, event.message_id)
        # Shop orders first: a clear yes / no to a pending order decides it and goes no further.
        verdict = await take_order_reply(event.company_id, event.conversation_id, event.message_id, row=row)
        if verdict == "handled":
            return
        if verdict == "unclear":  # a conversation opened for an order: a person reads it (not the menu)
            await bot.hand_to_agents(event.company_id, event.conversation_id)
            return
        await bot.answer(event.company_id, event.conversation_id, event.message_id, row=row)
        # (That the agent now owes an answer is recorded by the ingest itself: app.domain.messages.)
    elif isinstance(event, MessageQueued):
        author = await sql.fetchval(
            "SELECT author FROM message WHERE company_id = $1 AND id = $2", event.company_id, event.message_id
        )
        if author == "agent":
            await mark_agent_replied(event.company_id, event.conversation_id)
            await send_takeover_notice(event.company_id, event.conversation_id, "answered")


async def send_takeover_notice(company_id: int, conversation_id: int, moment: str) -> None:
    """ "<agent> is now with you", at most once per conversation, at the moment the company
    chose (``company.takeover_notice``: when a person first gets it, or first answers)."""
    row = await sql.fetchrow(
        """UPDATE conversation c SET takeover_sent_at = now() FROM company co, app_user u
           WHERE c.company_id = $1 AND c.id = $2 AND co.id = c.company_id AND co.takeover_notice = $3
             AND c.takeover_sent_at IS NULL AND c.status = 'assigned' AND u.id = c.assigned_user_id
           RETURNING u.name""",
        company_id,
        conversation_id,
        moment,
    )
    if row is not None:
        await send_auto_message(company_id, conversation_id, "takeover", agent=row["name"])


async def tell_customer(event: ConversationRouted) -> None:
    """Automatic messages: who is now with them (once), or their place in line; a queue with
    nobody to staff it tells supervisors (the wallboard) instead of promising a place."""
    if event.status == "assigned" and event.user_id and event.user_id != event.previous_user_id:
        await send_takeover_notice(event.company_id, event.conversation_id, "assigned")
    elif event.status == "queued":
        row = await sql.fetchrow(
            """SELECT c.status, (SELECT count(*) FROM conversation q
                                  WHERE q.company_id = c.company_id AND q.department_id = c.department_id
                                    AND q.status = 'queued' AND (q.queued_at, q.id) <= (c.queued_at, c.id)) AS position,
                      EXISTS (SELECT 1 FROM user_department ud JOIN app_user u ON u.id = ud.user_id
                              WHERE ud.department_id = c.department_id AND u.active
                                AND u.presence IN ('online', 'busy')) AS staffed
               FROM conversation c WHERE c.company_id = $1 AND c.id = $2""",
            event.company_id,
            event.conversation_id,
        )
        if row is None or row["status"] != "queued":
            return  # drained to an agent at once
        if row["staffed"]:
            await send_auto_message(event.company_id, event.conversation_id, "queued", position=row["position"])
        # else: no text promising a place; the wallboard's alerts show the unstaffed queue
        # (app.domain.wallboard), refreshed by this very routing event.


async def redistribute_offline_agents() -> int:
    rows = await sql.fetch(
        """SELECT DISTINCT c.company_id, c.assigned_user_id FROM conversation c
           JOIN app_user u ON u.id = c.assigned_user_id
           LEFT JOIN department d ON d.id = c.department_id
           WHERE c.status = 'assigned' AND (u.presence = 'offline' OR NOT u.active)
             AND (c.awaiting_agent_since IS NOT NULL OR coalesce(d.offline_policy, 'requeue') = 'requeue')"""
    )
    return sum([len(await redistribute_from(r["company_id"], r["assigned_user_id"])) for r in rows])


async def sweep_once(settings: Settings) -> None:
    expired = await expire_stale_presence(settings.presence_grace)
    if expired:
        log.info("set %d silent agent(s) offline", len(expired))
    await redistribute_offline_agents()
    done = await run_due()  # every timer, from the database alone (app.dispatch.timers)
    if done:
        log.info("due steps done: %s", done)
    await drain_everything()


async def _sweep_forever(settings: Settings) -> None:
    while True:
        try:
            await sweep_once(settings)
        except Exception:  # noqa: BLE001 - one failed sweep must not stop the next
            log.exception("sweep failed")
        await asyncio.sleep(settings.sweep_interval)


# Events are handled in LANES concurrent lanes, each conversation always in the same lane (its
# events stay in order: the bot's question before the customer's answer). Under a burst of
# webhooks one lane of three or four round trips per message fell far behind. The dispatcher's
# subscription keeps BACKLOG events before it would have to resync (a resync drains the queues
# but cannot replay what missed events asked for: bot answers, out-of-hours notices, orders).
LANES = 4
BACKLOG = 100_000


async def _lane(queue: asyncio.Queue) -> None:
    while True:
        event = await queue.get()
        try:
            await react(event)
        except Exception:  # noqa: BLE001
            log.exception("dispatch could not react to %s", event.name)


async def _react_forever(hub: Hub) -> None:
    sub = hub.subscribe(None, backlog=BACKLOG)
    lanes: list[asyncio.Queue] = [asyncio.Queue(maxsize=256) for _ in range(LANES)]
    workers = [asyncio.create_task(_lane(queue), name=f"dispatch-lane-{n}") for n, queue in enumerate(lanes)]
    try:
        while True:
            item = await sub.get()
            if isinstance(item, Closed):
                return
            if isinstance(item, Resync):
                await drain_everything()  # events may have been missed
                continue
            key = getattr(item, "conversation_id", None) or 0
            await lanes[key % LANES].put(item)  # a full lane holds the rest back in the backlog
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        hub.unsubscribe(sub)


async def run_dispatcher(hub: Hub, settings: Settings) -> None:
    """The leader's job: react to events and sweep, until cancelled."""
    await asyncio.gather(_react_forever(hub), _sweep_forever(settings))
