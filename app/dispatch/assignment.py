"""Assignment: queue, drain, take, transfer, resolve, reinject, redistribute.

Safety under concurrency (several processes, the sweeper, agents clicking) comes from one
rule: every change of who holds a conversation runs inside a transaction that first takes
the company's dispatch lock (``pg_advisory_xact_lock``). Inside it the counts read are the
counts that hold, so a conversation is never assigned twice and no agent exceeds capacity.
Departments and agents of one company share agents, so the lock is per company, not per
department; assignments are batched inside it, so it is held briefly.

The policy (who, among eligible agents) is ``app.dispatch.policy``; this module finds the
eligible agents, applies the choice and records it: the conversation row, one
``conversation_event`` per transition and one ``ConversationRouted`` event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from app.i18n import N_
from app.dispatch.policy import Candidate, choose
from app.domain import sql
from app.domain.errors import NotFound, PermissionDenied, ValidationError
from app.domain.audit import record_audit
from app.domain.auto_messages import render_auto_message
from app.domain.events import ConversationRouted, ReinjectionAlert, emit
from app.domain.messages import queue_message
from app.domain.phone import PHONE_CAPACITY_CUT
from app.domain.tables import User

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 7_201_200
# Transitions a person makes that the audit log keeps (taking a conversation is routine work).
AUDITED = {"transferred", "reassigned", "resolved"}
DRAIN_BATCH = 5_000


async def lock_company(company_id: int) -> None:
    await sql.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, company_id)


@dataclass(frozen=True)
class Transition:
    conversation_id: int
    kind: str
    from_status: str | None
    to_status: str
    from_user_id: int | None = None
    to_user_id: int | None = None
    from_department_id: int | None = None
    to_department_id: int | None = None
    actor_user_id: int | None = None
    note: str = ""


async def _record(company_id: int, transitions: list[Transition]) -> None:
    """History rows and events for a batch of transitions (inside the transaction)."""
    if not transitions:
        return
    cols = list(zip(*[
        (t.conversation_id, t.kind, t.from_status, t.to_status, t.from_user_id, t.to_user_id,
         t.from_department_id, t.to_department_id, t.actor_user_id, t.note)
        for t in transitions
    ]))
    await sql.execute(
        """INSERT INTO conversation_event (company_id, conversation_id, kind, from_status, to_status,
               from_user_id, to_user_id, from_department_id, to_department_id, actor_user_id, note)
           SELECT $1, * FROM unnest($2::int[], $3::varchar[], $4::varchar[], $5::varchar[], $6::int[],
               $7::int[], $8::int[], $9::int[], $10::int[], $11::text[])""",
        company_id,
        *[list(c) for c in cols],
    )
    for t in transitions:
        await emit(
            ConversationRouted(
                company_id=company_id,
                conversation_id=t.conversation_id,
                status=t.to_status,
                user_id=t.to_user_id,
                previous_user_id=t.from_user_id,
                department_id=t.to_department_id,
            )
        )
        if t.actor_user_id is not None and t.kind in AUDITED:
            await record_audit(
                company_id, f"conversation.{t.kind}", target_type="conversation", target_id=t.conversation_id,
                target_label=f"#{t.conversation_id}",
                before={"status": t.from_status, "department_id": t.from_department_id, "user_id": t.from_user_id},
                after={"status": t.to_status, "department_id": t.to_department_id, "user_id": t.to_user_id,
                       **({"note": t.note} if t.note else {})},
            )


async def _candidates(company_id: int, department_id: int) -> list[Candidate]:
    # Voice and chat as one (issue 17): an agent whose phone rings or is in a call has fewer
    # chat slots (none by default), app.domain.phone.PHONE_CAPACITY_CUT.
    rows = await sql.fetch(
        """SELECT u.id, u.capacity - """ + PHONE_CAPACITY_CUT + """ AS capacity, u.last_assigned_at,
                  (SELECT count(*) FROM conversation c
                    WHERE c.assigned_user_id = u.id AND c.status = 'assigned') AS open
           FROM app_user u JOIN user_department ud ON ud.user_id = u.id AND ud.department_id = $2
           WHERE u.company_id = $1 AND u.active AND u.presence = 'online'""",
        company_id,
        department_id,
    )
    return [
        Candidate(r["id"], r["open"], r["capacity"], r["last_assigned_at"]) for r in rows if r["open"] < r["capacity"]
    ]


async def _department(company_id: int, department_id: int):
    row = await sql.fetchrow(
        "SELECT id, strategy, reinjection_alert, offline_policy FROM department WHERE company_id = $1 AND id = $2",
        company_id,
        department_id,
    )
    if row is None:
        raise NotFound(N_("No such department."))
    return row


async def _last_agents(company_id: int, conversation_ids: list[int]) -> dict[int, int]:
    """For sticky routing: each conversation's contact's most recent agent before it."""
    rows = await sql.fetch(
        """SELECT c.id, (SELECT p.assigned_user_id FROM conversation p
                          WHERE p.contact_id = c.contact_id AND p.company_id = c.company_id
                            AND p.id <> c.id AND p.assigned_user_id IS NOT NULL
                          ORDER BY p.created_at DESC LIMIT 1) AS last_agent
           FROM conversation c WHERE c.company_id = $1 AND c.id = ANY($2::int[])""",
        company_id,
        conversation_ids,
    )
    return {r["id"]: r["last_agent"] for r in rows if r["last_agent"]}


async def _drain_locked(company_id: int, department_id: int) -> int:
    """Assign queued conversations, oldest first, while candidates remain (lock held)."""
    dep = await _department(company_id, department_id)
    queued = await sql.fetch(
        """SELECT id, timed_out_user_id FROM conversation
           WHERE company_id = $1 AND department_id = $2 AND status = 'queued'
           ORDER BY queued_at, id LIMIT $3""",
        company_id,
        department_id,
        DRAIN_BATCH,
    )
    if not queued:
        return 0
    candidates = {c.user_id: c for c in await _candidates(company_id, department_id)}
    if not candidates:
        return 0
    sticky = await _last_agents(company_id, [q["id"] for q in queued]) if dep["strategy"] == "sticky" else {}
    now = datetime.now(timezone.utc)
    picks: list[tuple[int, int]] = []
    for n, conv in enumerate(queued):
        exclude = frozenset({conv["timed_out_user_id"]}) if conv["timed_out_user_id"] else frozenset()
        chosen = choose(dep["strategy"], list(candidates.values()), last_agent_id=sticky.get(conv["id"]), exclude=exclude)
        if chosen is None:
            if not any(c.free > 0 for c in candidates.values()):
                break  # everyone is full: the rest keep their place in line
            continue  # only the excluded agent is free: skip this one, keep draining
        picks.append((conv["id"], chosen.user_id))
        updated = replace(
            chosen, open_conversations=chosen.open_conversations + 1, last_assigned_at=now + timedelta(microseconds=n)
        )
        candidates[chosen.user_id] = updated
    if not picks:
        return 0
    conv_ids, user_ids = [p[0] for p in picks], [p[1] for p in picks]
    await sql.execute(
        """UPDATE conversation c SET status = 'assigned', assigned_user_id = p.user_id, assigned_at = now(),
                  awaiting_agent_since = now(), queued_at = NULL
           FROM unnest($1::int[], $2::int[]) AS p(conversation_id, user_id)
           WHERE c.id = p.conversation_id""",
        conv_ids,
        user_ids,
    )
    await sql.execute(
        "UPDATE app_user SET last_assigned_at = now() WHERE id = ANY($1::int[])", sorted(set(user_ids))
    )
    await _record(
        company_id,
        [Transition(c, "assigned", "queued", "assigned", to_user_id=u, from_department_id=department_id,
                    to_department_id=department_id) for c, u in picks],
    )
    return len(picks)


async def drain_department(company_id: int, department_id: int) -> int:
    """Give queued conversations of a department to free agents; returns how many."""
    total = 0
    while True:
        async with sql.transaction():
            await lock_company(company_id)
            done = await _drain_locked(company_id, department_id)
        total += done
        if done < DRAIN_BATCH:
            return total


async def drain_for_user(company_id: int, user_id: int) -> int:
    """Drain every department of an agent (came online, freed a slot, got more capacity)."""
    rows = await sql.fetch("SELECT department_id FROM user_department WHERE user_id = $1", user_id)
    return sum([await drain_department(company_id, r["department_id"]) for r in rows])


async def drain_everything() -> int:
    """Safety net for the sweeper: every department that has a queue."""
    rows = await sql.fetch("SELECT DISTINCT company_id, department_id FROM conversation WHERE status = 'queued'")
    return sum([await drain_department(r["company_id"], r["department_id"]) for r in rows if r["department_id"]])


async def _lock_conversation(company_id: int, conversation_id: int):
    row = await sql.fetchrow(
        """SELECT id, company_id, status, assigned_user_id, department_id, created_at, assigned_at
           FROM conversation WHERE company_id = $1 AND id = $2 FOR UPDATE""",
        company_id,
        conversation_id,
    )
    if row is None:
        raise NotFound(N_("No such conversation."))
    return row


async def queue_conversation(
    company_id: int, conversation_id: int, department_id: int, *, actor_user_id: int | None = None, note: str = ""
) -> None:
    """Hand a conversation (from the bot, or a transfer) to a department; it is then drained."""
    await _department(company_id, department_id)
    async with sql.transaction():
        await lock_company(company_id)
        conv = await _lock_conversation(company_id, conversation_id)
        if conv["status"] == "resolved":
            raise ValidationError({"conversation": N_("This conversation is resolved.")})
        await sql.execute(
            """UPDATE conversation SET status = 'queued', department_id = $2, assigned_user_id = NULL,
                      queued_at = now(), awaiting_agent_since = NULL WHERE id = $1""",
            conversation_id,
            department_id,
        )
        kind = "transferred" if conv["status"] in ("queued", "assigned") else "queued"
        await _record(
            company_id,
            [Transition(conversation_id, kind, conv["status"], "queued", conv["assigned_user_id"], None,
                        conv["department_id"], department_id, actor_user_id, note)],
        )
        await _drain_locked(company_id, department_id)


async def _assign_one(actor: User | None, company_id: int, conversation_id: int, user_id: int, kind: str, note: str = "") -> None:
    """Give one conversation to one agent, checking eligibility and capacity under the lock."""
    async with sql.transaction():
        await lock_company(company_id)
        conv = await _lock_conversation(company_id, conversation_id)
        if conv["status"] == "resolved":
            raise ValidationError({"conversation": N_("This conversation is resolved.")})
        if conv["assigned_user_id"] == user_id and conv["status"] == "assigned":
            return
        agent = await sql.fetchrow(
            """SELECT u.id, u.capacity, u.presence, u.active,
                      (SELECT count(*) FROM conversation c WHERE c.assigned_user_id = u.id AND c.status = 'assigned') AS open
               FROM app_user u WHERE u.company_id = $1 AND u.id = $2""",
            company_id,
            user_id,
        )
        if agent is None or not agent["active"]:
            raise NotFound(N_("No such agent."))
        if agent["open"] >= agent["capacity"]:
            raise ValidationError({"user_id": N_("This agent has no free capacity.")})
        await sql.execute(
            """UPDATE conversation SET status = 'assigned', assigned_user_id = $2, assigned_at = now(),
                      awaiting_agent_since = CASE WHEN $3 THEN NULL ELSE now() END, queued_at = NULL
               WHERE id = $1""",
            conversation_id,
            user_id,
            kind == "taken",  # an agent who takes a conversation is answering it now
        )
        await sql.execute("UPDATE app_user SET last_assigned_at = now() WHERE id = $1", user_id)
        await _record(
            company_id,
            [Transition(conversation_id, kind, conv["status"], "assigned", conv["assigned_user_id"], user_id,
                        conv["department_id"], conv["department_id"], actor.id if actor else None, note)],
        )


async def take_conversation(agent: User, conversation_id: int) -> None:
    """An agent takes a bot or queued conversation of one of their departments (seed 002)."""
    conv = await sql.fetchrow(
        "SELECT status, department_id, assigned_user_id FROM conversation WHERE company_id = $1 AND id = $2",
        agent.company_id,
        conversation_id,
    )
    if conv is None:
        raise NotFound(N_("No such conversation."))
    if conv["status"] == "resolved":
        raise ValidationError({"conversation": N_("This conversation is resolved.")})
    if agent.role == "agent":
        member = await sql.fetchval(
            "SELECT 1 FROM user_department WHERE user_id = $1 AND department_id = $2", agent.id, conv["department_id"]
        )
        if conv["department_id"] is not None and not member:
            raise PermissionDenied(N_("This conversation belongs to a department you are not in."))
        if conv["status"] == "assigned" and conv["assigned_user_id"] != agent.id:
            raise PermissionDenied(N_("Another agent holds this conversation; ask a supervisor to reassign it."))
    await _assign_one(agent, agent.company_id, conversation_id, agent.id, "taken")


async def assign_to_agent(supervisor: User, conversation_id: int, user_id: int, note: str = "") -> None:
    """A supervisor gives a conversation to a named agent."""
    if supervisor.role not in ("admin", "supervisor"):
        raise PermissionDenied(N_("Only supervisors may assign conversations."))
    previous = await sql.fetchval(
        "SELECT assigned_user_id FROM conversation WHERE company_id = $1 AND id = $2", supervisor.company_id, conversation_id
    )
    await _assign_one(supervisor, supervisor.company_id, conversation_id, user_id, "reassigned", note)
    if previous and previous != user_id:
        await drain_for_user(supervisor.company_id, previous)


async def transfer_conversation(
    actor: User, conversation_id: int, *, department_id: int | None = None, user_id: int | None = None, note: str = ""
) -> None:
    """Transfer to a department (back to its queue) or to an agent, with an internal note."""
    conv = await sql.fetchrow(
        "SELECT assigned_user_id, status FROM conversation WHERE company_id = $1 AND id = $2", actor.company_id, conversation_id
    )
    if conv is None:
        raise NotFound(N_("No such conversation."))
    if actor.role == "agent" and conv["assigned_user_id"] != actor.id:
        raise PermissionDenied(N_("Only the assigned agent or a supervisor may transfer this conversation."))
    if (department_id is None) == (user_id is None):
        raise ValidationError({"target": N_("Choose a department or an agent.")})
    if department_id is not None:
        await queue_conversation(actor.company_id, conversation_id, department_id, actor_user_id=actor.id, note=note)
    else:
        await _assign_one(actor, actor.company_id, conversation_id, user_id, "transferred", note)
    if conv["assigned_user_id"]:
        await drain_for_user(actor.company_id, conv["assigned_user_id"])


async def resolve_conversation(actor: User, conversation_id: int) -> None:
    """Close the conversation: the closing message goes out, then it is read-only history;
    the agent's slot frees."""
    current = await sql.fetchrow(
        "SELECT status, assigned_user_id FROM conversation WHERE company_id = $1 AND id = $2", actor.company_id, conversation_id
    )
    if current is None:
        raise NotFound(N_("No such conversation."))
    if actor.role == "agent" and current["assigned_user_id"] != actor.id:
        raise PermissionDenied(N_("Only the assigned agent or a supervisor may resolve this conversation."))
    if current["status"] != "resolved":
        await send_auto_message(actor.company_id, conversation_id, "resolved")
    async with sql.transaction():
        await lock_company(actor.company_id)
        conv = await _lock_conversation(actor.company_id, conversation_id)
        if actor.role == "agent" and conv["assigned_user_id"] != actor.id:
            raise PermissionDenied(N_("Only the assigned agent or a supervisor may resolve this conversation."))
        if conv["status"] == "resolved":
            return
        await sql.execute(
            "UPDATE conversation SET status = 'resolved', resolved_at = now(), awaiting_agent_since = NULL WHERE id = $1",
            conversation_id,
        )
        await _record(
            actor.company_id,
            [Transition(conversation_id, "resolved", conv["status"], "resolved", conv["assigned_user_id"],
                        conv["assigned_user_id"], conv["department_id"], conv["department_id"], actor.id)],
        )
    if conv["assigned_user_id"]:
        await drain_for_user(actor.company_id, conv["assigned_user_id"])


async def send_auto_message(company_id: int, conversation_id: int, kind: str, **values: object) -> int | None:
    """Queue the company's automatic message of this kind, unless it is off or cannot be sent
    now (channel disabled, 24-hour window closed): automatic messages never block routing."""
    text = await render_auto_message(company_id, kind, conversation_id=conversation_id, **values)
    if not text:
        return None
    try:
        return await queue_message(company_id, conversation_id, {"text": text}, user_id=None, author="bot")
    except ValidationError as exc:
        log.info("automatic %s message not sent to conversation %s: %s", kind, conversation_id, exc)
        return None


async def mark_agent_replied(company_id: int, conversation_id: int) -> None:
    """The assigned agent answered: the response timer stops (call when an agent message is stored)."""
    await sql.execute(
        """UPDATE conversation SET awaiting_agent_since = NULL, first_response_at = coalesce(first_response_at, now())
           WHERE company_id = $1 AND id = $2 AND status = 'assigned'""",
        company_id,
        conversation_id,
    )


async def reinject_overdue() -> list[int]:
    """Conversations whose agent did not answer within the department's response timeout go
    back to the queue (never to the same agent). Returns their ids."""
    overdue = await sql.fetch(
        """SELECT c.company_id, c.id FROM conversation c JOIN department d ON d.id = c.department_id
           WHERE c.status = 'assigned' AND c.awaiting_agent_since IS NOT NULL
             AND c.awaiting_agent_since < now() - make_interval(secs => d.response_timeout)"""
    )
    moved: list[int] = []
    for row in overdue:
        company_id, conversation_id = row["company_id"], row["id"]
        async with sql.transaction():
            await lock_company(company_id)
            conv = await sql.fetchrow(
                """SELECT c.status, c.assigned_user_id, c.department_id, c.awaiting_agent_since, c.reinjections,
                          d.response_timeout, d.reinjection_alert
                   FROM conversation c JOIN department d ON d.id = c.department_id
                   WHERE c.id = $1 FOR UPDATE OF c""",
                conversation_id,
            )
            still_overdue = (
                conv is not None
                and conv["status"] == "assigned"
                and conv["awaiting_agent_since"] is not None
                and (datetime.now(timezone.utc) - conv["awaiting_agent_since"]).total_seconds() > conv["response_timeout"]
            )
            if not still_overdue:
                continue
            await sql.execute(
                """UPDATE conversation SET status = 'queued', assigned_user_id = NULL, queued_at = now(),
                          awaiting_agent_since = NULL, reinjections = reinjections + 1, timed_out_user_id = $2
                   WHERE id = $1""",
                conversation_id,
                conv["assigned_user_id"],
            )
            await _record(
                company_id,
                [Transition(conversation_id, "reinjected", "assigned", "queued", conv["assigned_user_id"], None,
                            conv["department_id"], conv["department_id"], None, "No answer within the response timeout.")],
            )
            if conv["reinjections"] + 1 >= conv["reinjection_alert"]:
                await emit(ReinjectionAlert(company_id=company_id, conversation_id=conversation_id,
                                            reinjections=conv["reinjections"] + 1))
            await _drain_locked(company_id, conv["department_id"])
        moved.append(conversation_id)
    return moved


async def redistribute_from(company_id: int, user_id: int) -> list[int]:
    """An agent went offline: their unanswered conversations (and, where the department says
    so, their answered ones) go back to the queue and on to other agents."""
    async with sql.transaction():
        await lock_company(company_id)
        rows = await sql.fetch(
            """SELECT c.id, c.department_id FROM conversation c JOIN department d ON d.id = c.department_id
               WHERE c.company_id = $1 AND c.assigned_user_id = $2 AND c.status = 'assigned'
                 AND (c.awaiting_agent_since IS NOT NULL OR d.offline_policy = 'requeue')
               FOR UPDATE OF c""",
            company_id,
            user_id,
        )
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        await sql.execute(
            """UPDATE conversation SET status = 'queued', assigned_user_id = NULL, queued_at = now(),
                      awaiting_agent_since = NULL WHERE id = ANY($1::int[])""",
            ids,
        )
        await _record(
            company_id,
            [Transition(r["id"], "redistributed", "assigned", "queued", user_id, None, r["department_id"],
                        r["department_id"], None, "The agent went offline.") for r in rows],
        )
        for dep in sorted({r["department_id"] for r in rows}):
            await _drain_locked(company_id, dep)
    return ids
