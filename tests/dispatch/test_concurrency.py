"""Races: webhooks, agents and the sweeper in several tasks and two processes at once.

After the storm, the invariants of DESIGN.md must hold: no conversation assigned twice (its
history is one unbroken chain of transitions), no agent over capacity, FIFO order, and
nothing left queued while an eligible agent has room.
"""

import asyncio
import random
import subprocess
import sys

from app.dispatch.assignment import drain_everything, queue_conversation
from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.conversations import resolve_conversation
from app.domain.events import PresenceChanged
from app.domain.presence import set_presence
from app.settings import ROOT
from tests.dispatch.factories import make_channel, make_conversation, open_counts
from tests.factories import make_company, make_department, make_user


async def assert_invariants(company_id: int) -> None:
    # 1. Capacity.
    capacities = {
        r["id"]: r["capacity"]
        for r in await sql.fetch("SELECT id, capacity FROM app_user WHERE company_id = $1", company_id)
    }
    for user_id, n in (await open_counts(company_id)).items():
        assert n <= capacities[user_id], f"agent {user_id} holds {n} > capacity {capacities[user_id]}"
    # 2. Each conversation's history is one chain: every transition starts where the last ended.
    rows = await sql.fetch(
        "SELECT conversation_id, from_status, to_status, to_user_id FROM conversation_event WHERE company_id = $1 ORDER BY id",
        company_id,
    )
    state: dict[int, str] = {}
    for r in rows:
        previous = state.get(r["conversation_id"])
        if previous is not None:
            assert r["from_status"] == previous, (
                f"conversation {r['conversation_id']}: {previous} then {r['from_status']}"
            )
        state[r["conversation_id"]] = r["to_status"]
    current = {
        r["id"]: r["status"]
        for r in await sql.fetch("SELECT id, status FROM conversation WHERE company_id = $1", company_id)
    }
    for conv_id, status in state.items():
        assert current[conv_id] == status
    # 3. Nothing queued while an eligible agent has room.
    stranded = await sql.fetch(
        """SELECT c.id FROM conversation c
           WHERE c.company_id = $1 AND c.status = 'queued' AND EXISTS (
               SELECT 1 FROM app_user u JOIN user_department ud ON ud.user_id = u.id AND ud.department_id = c.department_id
               WHERE u.presence = 'online' AND u.active AND u.id IS DISTINCT FROM c.timed_out_user_id
                 AND (SELECT count(*) FROM conversation o WHERE o.assigned_user_id = u.id AND o.status = 'assigned') < u.capacity)""",
        company_id,
    )
    assert not stranded, f"queued with a free agent: {[r['id'] for r in stranded]}"


async def test_fifo_when_agents_arrive_together(app):
    company = await make_company()
    dep = await make_department(company)
    channel = await make_channel(company, department=dep)
    agents = [await make_user(company, presence="offline", capacity=4, departments=[dep]) for _ in range(5)]
    convs = []
    for _ in range(30):
        conv = await make_conversation(company, channel)
        await queue_conversation(company.id, conv, dep.id)
        convs.append(conv)

    async def arrive(agent):
        await set_presence(agent, "online")
        await react(PresenceChanged(company_id=company.id, user_id=agent.id, presence="online"))

    await asyncio.gather(*(arrive(a) for a in agents))
    statuses = [
        r["status"]
        for r in await sql.fetch("SELECT status FROM conversation WHERE id = ANY($1::int[]) ORDER BY id", convs)
    ]
    assert statuses == ["assigned"] * 20 + ["queued"] * 10  # the 20 oldest, exactly
    loads = sorted((await open_counts(company.id)).values())
    assert loads == [4, 4, 4, 4, 4]
    await assert_invariants(company.id)


async def test_storm_in_one_process(app):
    random.seed(7)
    company = await make_company()
    deps = [await make_department(company) for _ in range(2)]
    channel = await make_channel(company)
    agents = []
    for n in range(12):
        member_of = [deps[n % 2]] + ([deps[(n + 1) % 2]] if n % 3 == 0 else [])
        agents.append(
            await make_user(company, presence="offline", capacity=random.randint(1, 3), departments=member_of)
        )
    convs = [await make_conversation(company, channel) for _ in range(120)]

    async def webhook(conv):
        await queue_conversation(company.id, conv, random.choice(deps).id)

    async def agent_life(agent):
        for _ in range(4):
            presence = random.choice(["online", "online", "busy", "offline"])
            await set_presence(agent, presence)
            await react(PresenceChanged(company_id=company.id, user_id=agent.id, presence=presence))
            mine = await sql.fetch(
                "SELECT id FROM conversation WHERE assigned_user_id = $1 AND status = 'assigned' LIMIT 1", agent.id
            )
            for row in mine:
                await resolve_conversation(agent, row["id"])

    await asyncio.gather(*(webhook(c) for c in convs), *(agent_life(a) for a in agents), drain_everything())
    await drain_everything()
    await assert_invariants(company.id)


async def test_storm_across_two_processes(app, settings):
    company = await make_company()
    dep = await make_department(company)
    channel = await make_channel(company, department=dep)
    agents = [await make_user(company, presence="online", capacity=3, departments=[dep]) for _ in range(8)]
    convs = [await make_conversation(company, channel) for _ in range(90)]
    thirds = [convs[0::3], convs[1::3], convs[2::3]]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.dispatch.race_worker",
                settings.database_url,
                str(dep.id),
                ",".join(map(str, part)),
                ",".join(str(a.id) for a in agents[i * 4 : (i + 1) * 4]),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, part in enumerate(thirds[:2])
    ]
    await asyncio.gather(*(queue_conversation(company.id, c, dep.id) for c in thirds[2]))
    for proc in procs:
        out, err = await asyncio.to_thread(proc.communicate, timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
    await drain_everything()
    await assert_invariants(company.id)
    assigned = await sql.fetchval(
        "SELECT count(*) FROM conversation WHERE company_id = $1 AND status = 'assigned'", company.id
    )
    online = await sql.fetchval(
        "SELECT count(*) FROM app_user WHERE company_id = $1 AND presence = 'online'", company.id
    )
    assert assigned >= 3 * online  # every online agent is full (90 conversations wait for 24 slots at most)
