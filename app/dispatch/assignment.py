"""The routing engine: queue, drain, assign, close, reinject, redistribute (people's actions on a
conversation, with their permission checks, are in ``app.domain.conversations``).

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
from datetime import UTC, datetime, timedelta

from app.dispatch.policy import Candidate, choose
from app.domain import sql
from app.domain.audit import record_audit
from app.domain.auto_messages import render_auto_message
from app.domain.errors import NotFound, PermissionDenied, ValidationError
from app.domain.events import ConversationRouted, ReinjectionAlert, emit
from app.domain.messages import queue_message
from app.domain.phone import PHONE_CAPACITY_CUT
from app.domain.tables import User
from app.i18n import N_

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 7_201_200
# Transitions a person makes that the audit log keeps (taking a conversation is routine work).
AUDITED = {"transferred", "reassigned", "resolved"}
DRAIN_BATCH = 5_000
# No automatic text goes twice to a customer within this many seconds (README, "Routing guarantees").
AUTO_REPEAT_WINDOW = 600


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
    cols = list(
        zip(
            *[
                (
                    t.conversation_id,
                    t.kind,
                    t.from_status,
                    t.to_status,
                    t.from_user_id,
                    t.to_user_id,
                    t.from_department_id,
                    t.to_department_id,
                    t.actor_user_id,
                    t.note,
                )
                for t in transitions
            ]
        )
    )
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
                company_id,
                f"conversation.{t.kind}",
                target_type="conversation",
                target_id=t.conversation_id,
                target_label=f"#{t.conversation_id}",
                before={"status": t.from_status, "department_id": t.from_department_id, "user_id": t.from_user_id},
                after={
                    "status": t.to_status,
                    "department_id": t.to_department_id,
                    "user_id": t.to_user_id,
                    **({"note": t.note} if t.note else {}),
                },
            )


# The customer is waiting on the business: they wrote after the last reply of an agent.
WAITING_ON_BUSINESS = """(c.last_inbound_at IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM message wm WHERE wm.conversation_id = c.id AND wm.author = 'agent'
      AND wm.created_at >= c.last_inbound_at))"""

# Who may get a conversation of a department: the ONE statement that says so (the invariant
# checker, app.dispatch.invariants, reads it too). $1 company, $2 department.
CANDIDATES_SQL = (
    """SELECT u.id, u.capacity - """
    + PHONE_CAPACITY_CUT
    + """ AS capacity, u.last_assigned_at,
          (SELECT count(*) FROM conversation c
            WHERE c.assigned_user_id = u.id AND c.status = 'assigned') AS open
   FROM app_user u JOIN user_department ud ON ud.user_id = u.id AND ud.department_id = $2
   WHERE u.company_id = $1 AND u.active AND u.presence = 'online'"""
)


async def _candidates(company_id: int, department_id: int) -> list[Candidate]:
    """Online, active members of the department under capacity (less what a ringing or busy
    phone takes: issue 17, app.domain.phone.PHONE_CAPACITY_CUT)."""
    rows = await sql.fetch(CANDIDATES_SQL, company_id, department_id)
    return [
        Candidate(r["id"], r["open"], r["capacity"], r["last_assigned_at"]) for r in rows if r["open"] < r["capacity"]
    ]


async def _department(company_id: int, department_id: int):
    row = await sql.fetchrow(
        """SELECT id, strategy, reinjection_alert, offline_policy, reinjection_policy, overflow_department_id,
                  overflow_after FROM department WHERE company_id = $1 AND id = $2""",
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
    """Assign queued conversations, oldest first, while candidates remain (lock held).

    The agent a conversation just timed out on (or who just transferred it) is only avoided:
    when they are the only one with room they get it back, unless the department says to wait
    (``reinjection_policy = 'wait'``, after a timeout; supervisors are alerted). Either way the
    avoidance ends with this round. Past the department's ``overflow_after`` seconds in line,
    the overflow department's agents are candidates too."""
    dep = await _department(company_id, department_id)
    queued = await sql.fetch(
        """SELECT id, timed_out_user_id, avoid_user_id, unstaffed_alert_at,
                  ($4::int > 0 AND queued_at < now() - make_interval(secs => $4::int)) AS overflowing
           FROM conversation
           WHERE company_id = $1 AND department_id = $2 AND status = 'queued'
           ORDER BY queued_at, id LIMIT $3""",
        company_id,
        department_id,
        DRAIN_BATCH,
        dep["overflow_after"] if dep["overflow_department_id"] else 0,
    )
    if not queued:
        return 0
    candidates = {c.user_id: c for c in await _candidates(company_id, department_id)}
    overflow: dict[int, Candidate] = {}
    if dep["overflow_department_id"] and any(q["overflowing"] for q in queued):
        overflow = {
            c.user_id: c
            for c in await _candidates(company_id, dep["overflow_department_id"])
            if c.user_id not in candidates
        }
    if not candidates and not overflow:
        return 0
    sticky = await _last_agents(company_id, [q["id"] for q in queued]) if dep["strategy"] == "sticky" else {}
    now = datetime.now(UTC)
    picks: list[tuple[int, int]] = []
    waiting_alerts: list[int] = []
    for n, conv in enumerate(queued):
        pool = {**candidates, **overflow} if conv["overflowing"] else candidates
        avoid = frozenset(u for u in (conv["timed_out_user_id"], conv["avoid_user_id"]) if u)
        last = sticky.get(conv["id"])
        chosen = choose(dep["strategy"], list(pool.values()), last_agent_id=last, exclude=avoid)
        if chosen is None and avoid:
            if dep["reinjection_policy"] == "wait" and conv["timed_out_user_id"]:
                if conv["unstaffed_alert_at"] is None:
                    waiting_alerts.append(conv["id"])
                continue  # waits for someone else, by the department's rule
            chosen = choose(dep["strategy"], list(pool.values()), last_agent_id=last)  # nobody else: them
        if chosen is None:
            if not any(c.free > 0 for c in pool.values()):
                if conv["overflowing"] or not overflow:
                    break  # everyone is full: the rest keep their place in line
            continue
        picks.append((conv["id"], chosen.user_id))
        updated = replace(
            chosen, open_conversations=chosen.open_conversations + 1, last_assigned_at=now + timedelta(microseconds=n)
        )
        (candidates if chosen.user_id in candidates else overflow)[chosen.user_id] = updated
    if waiting_alerts:
        await sql.execute(
            "UPDATE conversation SET unstaffed_alert_at = now() WHERE id = ANY($1::int[])", waiting_alerts
        )
        for conversation_id in waiting_alerts:
            await emit(ReinjectionAlert(company_id=company_id, conversation_id=conversation_id, reinjections=0))
    if not picks:
        return 0
    conv_ids, user_ids = [p[0] for p in picks], [p[1] for p in picks]
    await sql.execute(
        f"""UPDATE conversation c SET status = 'assigned', assigned_user_id = p.user_id, assigned_at = now(),
                  awaiting_agent_since = CASE WHEN {WAITING_ON_BUSINESS} THEN now() END, queued_at = NULL,
                  timed_out_user_id = NULL, avoid_user_id = NULL, unstaffed_alert_at = NULL
           FROM unnest($1::int[], $2::int[]) AS p(conversation_id, user_id)
           WHERE c.id = p.conversation_id""",
        conv_ids,
        user_ids,
    )
    await sql.execute("UPDATE app_user SET last_assigned_at = now() WHERE id = ANY($1::int[])", sorted(set(user_ids)))
    await _record(
        company_id,
        [
            Transition(
                c,
                "assigned",
                "queued",
                "assigned",
                to_user_id=u,
                from_department_id=department_id,
                to_department_id=department_id,
            )
            for c, u in picks
        ],
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
    company_id: int,
    conversation_id: int,
    department_id: int,
    *,
    actor_user_id: int | None = None,
    note: str = "",
    prefer_user_id: int | None = None,
) -> None:
    """Hand a conversation (from the bot, or a transfer) to a department; it is then drained.
    ``prefer_user_id``: an agent of the department who gets it at once if online with room
    (a returning customer's previous agent)."""
    await _department(company_id, department_id)
    async with sql.transaction():
        await lock_company(company_id)
        conv = await _lock_conversation(company_id, conversation_id)
        if conv["status"] == "resolved":
            raise ValidationError({"conversation": N_("This conversation is resolved.")})
        kind = "transferred" if conv["status"] in ("queued", "assigned") else "queued"
        # A person handing it to a department hands it to someone else when anyone else can take it.
        avoid = conv["assigned_user_id"] if kind == "transferred" and actor_user_id is not None else None
        await sql.execute(
            """UPDATE conversation SET status = 'queued', department_id = $2, assigned_user_id = NULL,
                      queued_at = now(), line_at = coalesce(line_at, now()), awaiting_agent_since = NULL,
                      avoid_user_id = $3, unstaffed_alert_at = NULL WHERE id = $1""",
            conversation_id,
            department_id,
            avoid,
        )
        await _record(
            company_id,
            [
                Transition(
                    conversation_id,
                    kind,
                    conv["status"],
                    "queued",
                    conv["assigned_user_id"],
                    None,
                    conv["department_id"],
                    department_id,
                    actor_user_id,
                    note,
                )
            ],
        )
        if prefer_user_id is not None and any(
            c.user_id == prefer_user_id and c.free > 0 for c in await _candidates(company_id, department_id)
        ):
            await sql.execute(
                f"""UPDATE conversation c SET status = 'assigned', assigned_user_id = $2, assigned_at = now(),
                          awaiting_agent_since = CASE WHEN {WAITING_ON_BUSINESS} THEN now() END, queued_at = NULL,
                          avoid_user_id = NULL WHERE id = $1""",
                conversation_id,
                prefer_user_id,
            )
            await sql.execute("UPDATE app_user SET last_assigned_at = now() WHERE id = $1", prefer_user_id)
            await _record(
                company_id,
                [
                    Transition(
                        conversation_id,
                        "assigned",
                        "queued",
                        "assigned",
                        None,
                        prefer_user_id,
                        department_id,
                        department_id,
                        None,
                        "Previous agent",
                    )
                ],
            )
        await _drain_locked(company_id, department_id)


async def assign_one(
    actor: User | None, company_id: int, conversation_id: int, user_id: int, kind: str, note: str = ""
) -> None:
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
        # The response timer runs whenever the customer is waiting on the business, taken or not.
        await sql.execute(
            f"""UPDATE conversation c SET status = 'assigned', assigned_user_id = $2, assigned_at = now(),
                      awaiting_agent_since = CASE WHEN {WAITING_ON_BUSINESS} THEN now() END, queued_at = NULL,
                      line_at = coalesce(line_at, now()), timed_out_user_id = NULL, avoid_user_id = NULL,
                      unstaffed_alert_at = NULL
               WHERE id = $1""",
            conversation_id,
            user_id,
        )
        await sql.execute("UPDATE app_user SET last_assigned_at = now() WHERE id = $1", user_id)
        await _record(
            company_id,
            [
                Transition(
                    conversation_id,
                    kind,
                    conv["status"],
                    "assigned",
                    conv["assigned_user_id"],
                    user_id,
                    conv["department_id"],
                    conv["department_id"],
                    actor.id if actor else None,
                    note,
                )
            ],
        )


async def close_conversation(actor: User, conversation_id: int) -> None:
    """Mark a conversation resolved under the lock (``conversations.resolve_conversation``
    checks and says goodbye first); the holder's slot frees."""
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
            [
                Transition(
                    conversation_id,
                    "resolved",
                    conv["status"],
                    "resolved",
                    conv["assigned_user_id"],
                    conv["assigned_user_id"],
                    conv["department_id"],
                    conv["department_id"],
                    actor.id,
                )
            ],
        )
    if conv["assigned_user_id"]:
        await drain_for_user(actor.company_id, conv["assigned_user_id"])


async def send_auto_message(company_id: int, conversation_id: int, kind: str, **values: object) -> int | None:
    """Queue the company's automatic message of this kind, unless it is off, cannot be sent
    now (channel disabled, 24-hour window closed, conversation resolved) or the customer got
    the same text within ``AUTO_REPEAT_WINDOW``: automatic messages never block routing."""
    text = await render_auto_message(company_id, kind, conversation_id=conversation_id, **values)
    if not text:
        return None
    try:
        async with sql.transaction():
            # One at a time per conversation, so the check sees what a concurrent caller (a second
            # dispatcher while leadership moves, a sweep beside an event) just queued: the row lock
            # queue_message takes anyway, taken before the check (found by bench_chaos.py).
            await sql.execute(
                "SELECT 1 FROM conversation WHERE company_id = $1 AND id = $2 FOR UPDATE", company_id, conversation_id
            )
            repeated = await sql.fetchval(
                """SELECT 1 FROM message WHERE company_id = $1 AND conversation_id = $2 AND author = 'bot'
                     AND text = $3 AND created_at > now() - make_interval(secs => $4) LIMIT 1""",
                company_id,
                conversation_id,
                text,
                float(AUTO_REPEAT_WINDOW),
            )
            if repeated:
                return None  # the customer was told exactly this a moment ago
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
                and (datetime.now(UTC) - conv["awaiting_agent_since"]).total_seconds() > conv["response_timeout"]
            )
            if not still_overdue:
                continue
            await sql.execute(
                """UPDATE conversation SET status = 'queued', assigned_user_id = NULL, queued_at = now(),
                          awaiting_agent_since = NULL, reinjections = reinjections + 1, timed_out_user_id = $2,
                          line_at = coalesce(line_at, now()), unstaffed_alert_at = NULL
                   WHERE id = $1""",
                conversation_id,
                conv["assigned_user_id"],
            )
            await _record(
                company_id,
                [
                    Transition(
                        conversation_id,
                        "reinjected",
                        "assigned",
                        "queued",
                        conv["assigned_user_id"],
                        None,
                        conv["department_id"],
                        conv["department_id"],
                        None,
                        "No answer within the response timeout.",
                    )
                ],
            )
            if conv["reinjections"] + 1 >= conv["reinjection_alert"]:
                await emit(
                    ReinjectionAlert(
                        company_id=company_id, conversation_id=conversation_id, reinjections=conv["reinjections"] + 1
                    )
                )
            await _drain_locked(company_id, conv["department_id"])
        moved.append(conversation_id)
    return moved


async def redistribute_from(company_id: int, user_id: int) -> list[int]:
    """An agent went offline (logout, presence expiry, deactivation): every conversation they
    hold goes back to its department's queue at its original place in line, and on to other
    agents; where the department says ``keep_answered``, the answered ones (the customer is
    not waiting) stay, shown "holder offline", and supervisors are alerted after a while."""
    async with sql.transaction():
        await lock_company(company_id)
        # A conversation taken from the bot before it had a department goes to the channel's
        # department, else the company's first staffed one.
        rows = await sql.fetch(
            """SELECT c.id, c.department_id AS old_department_id,
                      coalesce(c.department_id, ch.default_department_id,
                               (SELECT fd.id FROM department fd WHERE fd.company_id = c.company_id
                                  AND EXISTS (SELECT 1 FROM user_department fu WHERE fu.department_id = fd.id)
                                ORDER BY (fd.menu_position > 0) DESC, fd.menu_position, fd.id LIMIT 1)) AS department_id
               FROM conversation c JOIN channel ch ON ch.id = c.channel_id
               LEFT JOIN department d ON d.id = c.department_id
               JOIN app_user u ON u.id = c.assigned_user_id
               WHERE c.company_id = $1 AND c.assigned_user_id = $2 AND c.status = 'assigned'
                 AND (u.presence = 'offline' OR NOT u.active)
                 AND (c.awaiting_agent_since IS NOT NULL OR coalesce(d.offline_policy, 'requeue') = 'requeue')
               FOR UPDATE OF c""",
            company_id,
            user_id,
        )
        rows = [r for r in rows if r["department_id"] is not None]
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        await sql.execute(
            """UPDATE conversation c SET status = 'queued', assigned_user_id = NULL, department_id = p.department_id,
                      queued_at = coalesce(c.line_at, c.assigned_at, now()), awaiting_agent_since = NULL
               FROM unnest($1::int[], $2::int[]) AS p(conversation_id, department_id)
               WHERE c.id = p.conversation_id""",
            ids,
            [r["department_id"] for r in rows],
        )
        await _record(
            company_id,
            [
                Transition(
                    r["id"],
                    "redistributed",
                    "assigned",
                    "queued",
                    user_id,
                    None,
                    r["old_department_id"],
                    r["department_id"],
                    None,
                    "The agent went offline.",
                )
                for r in rows
            ],
        )
        for dep in sorted({r["department_id"] for r in rows}):
            await _drain_locked(company_id, dep)
    return ids
