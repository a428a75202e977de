"""Dispatch's invariants with calls in the picture (issue 17): a model-based test whose steps
are chats arriving, chats resolved, and an agent's call starting and ending.

After every step: no agent holds more than their capacity; an agent on a call got no new chat
since the call began (the default "no new chats during a call"); and no chat waits while an
agent who is not on a call has room (the queue drains at once when a call ends).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from app.dispatch.assignment import drain_for_user, queue_conversation
from app.domain import sql
from app.domain.conversations import resolve_conversation
from app.domain.phone import PhoneState, record_phone_states
from tests.conftest import run_sync
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user

AGENTS = 3
CAPACITY = 2


class VoiceDispatch(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        async def build():
            company = await make_company()
            dep = await make_department(company)
            agents = [
                await make_user(company, "agent", presence="online", capacity=CAPACITY, departments=[dep])
                for _ in range(AGENTS)
            ]
            channel = await make_channel(company, department=dep)
            return company, dep, agents, channel

        self.company, self.dep, self.agents, self.channel = run_sync(build())
        self.on_call: dict[int, int] = {}  # user id -> chats held when the call began

    def _held(self) -> dict[int, int]:
        rows = run_sync(
            sql.fetch(
                "SELECT assigned_user_id, count(*) AS n FROM conversation WHERE company_id = $1 AND status = 'assigned' GROUP BY 1",
                self.company.id,
            )
        )
        return {r["assigned_user_id"]: r["n"] for r in rows}

    @rule()
    def chat_arrives(self) -> None:
        async def arrive():
            conv = await make_conversation(self.company, self.channel, status="bot", department=self.dep)
            await queue_conversation(self.company.id, conv, self.dep.id)

        run_sync(arrive())

    @rule(which=st.integers(0, AGENTS - 1))
    def chat_resolved(self, which: int) -> None:
        agent = self.agents[which]
        conv = run_sync(
            sql.fetchval(
                "SELECT id FROM conversation WHERE assigned_user_id = $1 AND status = 'assigned' ORDER BY id LIMIT 1",
                agent.id,
            )
        )
        if conv is not None:
            run_sync(resolve_conversation(agent, conv))
            if agent.id in self.on_call:
                self.on_call[agent.id] = min(self.on_call[agent.id], self._held().get(agent.id, 0))

    @rule(which=st.integers(0, AGENTS - 1))
    def call_starts(self, which: int) -> None:
        agent = self.agents[which]
        if agent.id in self.on_call:
            return
        self.on_call[agent.id] = self._held().get(agent.id, 0)
        run_sync(
            record_phone_states(
                [
                    PhoneState(
                        agent.id, self.company.id, f"10{which}", "busy", f"call{which}", "+33612345678", "Customer"
                    )
                ]
            )
        )

    @precondition(lambda self: bool(self.on_call))
    @rule(data=st.data())
    def call_ends(self, data) -> None:
        user_id = data.draw(st.sampled_from(sorted(self.on_call)))
        which = next(i for i, a in enumerate(self.agents) if a.id == user_id)
        del self.on_call[user_id]

        async def end():
            await record_phone_states([PhoneState(user_id, self.company.id, f"10{which}", "idle")])
            await drain_for_user(self.company.id, user_id)  # what the dispatcher does on the event

        run_sync(end())

    @invariant()
    def nobody_over_capacity(self) -> None:
        if not hasattr(self, "company"):
            return
        assert all(n <= CAPACITY for n in self._held().values())

    @invariant()
    def no_new_chat_during_a_call(self) -> None:
        if not hasattr(self, "company"):
            return
        held = self._held()
        for user_id, at_start in self.on_call.items():
            assert held.get(user_id, 0) <= at_start, (user_id, held, self.on_call)

    @invariant()
    def no_chat_waits_next_to_a_free_agent(self) -> None:
        if not hasattr(self, "company"):
            return
        waiting = run_sync(
            sql.fetchval(
                "SELECT count(*) FROM conversation WHERE company_id = $1 AND status = 'queued'", self.company.id
            )
        )
        if waiting:
            held = self._held()
            free = [a.id for a in self.agents if a.id not in self.on_call and held.get(a.id, 0) < CAPACITY]
            assert not free, (waiting, free, held, self.on_call)


TestVoiceDispatch = VoiceDispatch.TestCase
TestVoiceDispatch.settings = settings(
    max_examples=8, stateful_step_count=14, deadline=None, suppress_health_check=list(HealthCheck)
)
