"""A model-based hunt for routing violations (Hypothesis stateful testing).

Random sequences of what happens in a contact centre: customers writing (through the real
ingest), menu answers, agents going online / busy / offline and logging out, takes,
transfers, replies, resolves, capacity changes, time passing (a controllable clock: every
timestamp of the company moves back), the dispatcher reacting to the events it heard, the
dispatcher restarting (its memory dropped), and sweeps. After every step the guarantees of
README "Routing guarantees" are checked against the real database
(``app.dispatch.invariants.check``); after a sweep, the settled ones too.

CI runs a bounded number of examples; ``ROUTING_EXAMPLES=200 ROUTING_STEPS=60`` runs longer.
New kinds of steps are one ``@rule`` each: the world (``World``) and the checks do not change.
A linked agent's call starts and ends (issue 17) are two of them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from app.dispatch.invariants import check
from app.dispatch.sweeper import react, sweep_once
from app.domain import sql
from app.domain.auth import record_logout
from app.domain.channels import ensure_sandbox_channel, get_channel
from app.domain.conversations import resolve_conversation, take_conversation, transfer_conversation
from app.domain.errors import DomainError
from app.domain.events import Event
from app.domain.messages import queue_message, receive_webhook
from app.domain.phone import PhoneState, record_phone_states
from app.domain.presence import set_presence
from app.domain.tables import User
from app.providers.base import InboundMessage, Parsed
from tests.factories import make_company, make_department, make_user

EXAMPLES = int(os.environ.get("ROUTING_EXAMPLES", "20"))
STEPS = int(os.environ.get("ROUTING_STEPS", "30"))
CUSTOMERS = 5
AGENTS = 3
WORDS = ["Hello", "1", "2", "yes", "no", "???", "my order is late"]
_company_names = itertools.count(1)


@dataclass
class World:
    company_id: int
    channel: object
    departments: list[int]
    agents: list[User]
    phones: list[str] = field(default_factory=list)


async def make_world() -> World:
    company = await make_company(f"Model {next(_company_names)} {uuid.uuid4().hex[:6]}")
    support = await make_department(company, "Support", menu_position=1, response_timeout=60)
    sales = await make_department(company, "Sales", menu_position=2, response_timeout=120)
    agents = [
        await make_user(company, name="Anna", presence="online", capacity=2, departments=[support, sales]),
        await make_user(company, name="Bruno", presence="online", capacity=2, departments=[support]),
        await make_user(company, name="Chloé", presence="offline", capacity=1, departments=[sales]),
    ]
    channel = await get_channel(company.id, (await ensure_sandbox_channel(company.id)).id)
    phones = [f"+1555{company.id % 1000:03d}{n:04d}" for n in range(CUSTOMERS)]
    return World(company.id, channel, [support.id, sales.id], agents, phones)


async def pass_time(company_id: int, seconds: int) -> None:
    """The clock moves ``seconds`` on: every timestamp of the company moves back as much."""
    shift = f"make_interval(secs => {int(seconds)})"
    await sql.execute(
        f"""UPDATE conversation SET created_at = created_at - {shift}, bot_asked_at = bot_asked_at - {shift},
                  awaiting_agent_since = awaiting_agent_since - {shift}, queued_at = queued_at - {shift},
                  line_at = line_at - {shift}, assigned_at = assigned_at - {shift},
                  last_inbound_at = last_inbound_at - {shift}, last_message_at = last_message_at - {shift},
                  resolved_at = resolved_at - {shift}, takeover_sent_at = takeover_sent_at - {shift},
                  out_of_hours_sent_at = out_of_hours_sent_at - {shift}
           WHERE company_id = $1""",
        company_id,
    )
    await sql.execute(f"UPDATE message SET created_at = created_at - {shift} WHERE company_id = $1", company_id)
    await sql.execute(
        f"""UPDATE app_user SET last_seen_at = last_seen_at - {shift}, presence_changed_at = presence_changed_at - {shift}
           WHERE company_id = $1""",
        company_id,
    )


@pytest.mark.timeout(600)
async def test_routing_keeps_its_guarantees_whatever_happens(app, settings):
    loop = asyncio.get_running_loop()
    hub = app.state.hub
    sub = hub.subscribe(None, backlog=100_000)
    await asyncio.sleep(0.2)

    def call(coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    async def heard(company_id: int) -> list[Event]:
        await asyncio.sleep(0.05)  # NOTIFY delivered after commit
        return [e for e in sub.drain(100_000) if getattr(e, "company_id", None) == company_id]

    class Routing(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.world = call(make_world())
            self.memory: list[Event] = []  # what the dispatcher heard and has not acted on yet

        def _listen(self) -> None:
            self.memory.extend(call(heard(self.world.company_id)))

        def _agent(self, n: int) -> User:
            return self.world.agents[n % AGENTS]

        def _open(self) -> list:
            return call(
                sql.fetch(
                    "SELECT id, status, assigned_user_id FROM conversation WHERE company_id = $1 "
                    "AND status <> 'resolved' ORDER BY id",
                    self.world.company_id,
                )
            )

        @initialize()
        def a_working_day(self) -> None:
            """Two customers already with agents, so that short runs start from real work."""
            for customer, choice in ((0, "1"), (1, "2")):
                for text in ("Hello", choice):
                    self.customer_writes(customer, text)
                    self.dispatcher_reacts(100)

        @rule(customer=st.integers(0, CUSTOMERS - 1), text=st.sampled_from(WORDS))
        def customer_writes(self, customer: int, text: str) -> None:
            message = InboundMessage(
                provider_message_id=f"m-{uuid.uuid4().hex}",
                phone=self.world.phones[customer],
                name=f"Customer {customer}",
                type="text",
                text=text,
            )
            call(receive_webhook(self.world.channel, Parsed(messages=[message])))
            self._listen()

        @rule(agent=st.integers(0, AGENTS - 1), presence=st.sampled_from(["online", "busy", "offline"]))
        def agent_presence(self, agent: int, presence: str) -> None:
            call(set_presence(self._agent(agent), presence))
            self._listen()

        @rule(agent=st.integers(0, AGENTS - 1))
        def agent_logs_out(self, agent: int) -> None:
            call(record_logout(self._agent(agent), "127.0.0.1"))
            self._listen()

        @rule(agent=st.integers(0, AGENTS - 1), pick=st.integers(0, 20))
        def agent_takes(self, agent: int, pick: int) -> None:
            rows = [r for r in self._open() if r["status"] in ("bot", "queued")]
            if rows:
                try:
                    call(take_conversation(self._agent(agent), rows[pick % len(rows)]["id"]))
                except DomainError:
                    pass  # refused (not their department, full): a person would be told why
                self._listen()

        @rule(pick=st.integers(0, 20), to=st.integers(0, 1 + AGENTS))
        def holder_transfers(self, pick: int, to: int) -> None:
            rows = [r for r in self._open() if r["status"] == "assigned"]
            if not rows:
                return
            row = rows[pick % len(rows)]
            holder = next(a for a in self.world.agents if a.id == row["assigned_user_id"])
            try:
                if to < 2:
                    call(transfer_conversation(holder, row["id"], department_id=self.world.departments[to]))
                else:
                    call(transfer_conversation(holder, row["id"], user_id=self._agent(to).id))
            except DomainError:
                pass
            self._listen()

        @rule(pick=st.integers(0, 20))
        def holder_replies(self, pick: int) -> None:
            rows = [r for r in self._open() if r["status"] == "assigned"]
            if rows:
                row = rows[pick % len(rows)]
                try:
                    call(
                        queue_message(
                            self.world.company_id, row["id"], {"text": "On it."}, user_id=row["assigned_user_id"]
                        )
                    )
                except DomainError:
                    pass
                self._listen()

        @rule(pick=st.integers(0, 20))
        def holder_resolves(self, pick: int) -> None:
            rows = [r for r in self._open() if r["status"] == "assigned"]
            if rows:
                row = rows[pick % len(rows)]
                holder = next(a for a in self.world.agents if a.id == row["assigned_user_id"])
                call(resolve_conversation(holder, row["id"]))
                self._listen()

        @rule(agent=st.integers(0, AGENTS - 1), capacity=st.integers(0, 4))
        def admin_changes_capacity(self, agent: int, capacity: int) -> None:
            user = self._agent(agent)
            load = call(
                sql.fetchval(
                    "SELECT count(*) FROM conversation WHERE assigned_user_id = $1 AND status = 'assigned'", user.id
                )
            )
            # Never below what they hold (README: a lowered capacity keeps what the agent holds).
            call(sql.execute("UPDATE app_user SET capacity = $2 WHERE id = $1", user.id, max(capacity, load)))
            from app.domain.events import UserChanged

            self.memory.append(UserChanged(self.world.company_id, user.id))

        # Voice and chat as one (issue 17): the agent's linked phone rings / hangs up, as the AMI
        # leader writes it; the dispatcher hears agent-phone-changed like any other event.
        @rule(agent=st.integers(0, AGENTS - 1))
        def call_starts(self, agent: int) -> None:
            user = self._agent(agent)
            call(
                record_phone_states(
                    [
                        PhoneState(
                            user.id, self.world.company_id, f"9{agent}", "busy", f"c{agent}", "+33600000000", "Caller"
                        )
                    ]
                )
            )
            self._listen()

        @rule(agent=st.integers(0, AGENTS - 1))
        def call_ends(self, agent: int) -> None:
            user = self._agent(agent)
            call(record_phone_states([PhoneState(user.id, self.world.company_id, f"9{agent}", "idle")]))
            self._listen()

        @rule(seconds=st.sampled_from([20, 70, 130, 400]))
        def time_passes(self, seconds: int) -> None:
            call(pass_time(self.world.company_id, seconds))

        @rule(count=st.integers(1, 10))
        def dispatcher_reacts(self, count: int) -> None:
            for event in self.memory[:count]:
                call(react(event))
            self.memory = self.memory[count:]
            self._listen()

        @rule()
        def dispatcher_restarts(self) -> None:
            self._listen()
            self.memory = []  # whatever it had heard is lost

        @rule()
        def sweep(self) -> None:
            self._listen()
            self.memory = []  # a sweep does not need them; a restart would have lost them
            for _ in range(2):
                call(sweep_once(settings))
                call(asyncio.sleep(0.01))
            problems = call(check(self.world.company_id, settled=True))
            assert problems == [], problems

        @invariant()
        def guarantees_hold(self) -> None:
            problems = call(check(self.world.company_id))
            assert problems == [], problems

        @invariant()
        def no_routed_chat_during_a_call(self) -> None:
            """Dispatch gives no conversation to an agent after their call began (the default
            "no new chats during a call"); people may still take or hand one over by hand."""
            routed = call(
                sql.fetchval(
                    """SELECT count(*) FROM conversation_event e JOIN agent_phone p ON p.user_id = e.to_user_id
                   WHERE e.company_id = $1 AND e.kind = 'assigned' AND p.state IN ('ringing', 'busy')
                     AND e.at > p.since""",
                    self.world.company_id,
                )
            )
            assert routed == 0

    try:
        await asyncio.to_thread(
            run_state_machine_as_test,
            Routing,
            settings=hsettings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            ),
        )
    finally:
        hub.unsubscribe(sub)
