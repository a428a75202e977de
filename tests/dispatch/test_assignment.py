"""Dispatch rules on real PostgreSQL: candidates, queue, FIFO, capacity, reinjection,
redistribution, manual actions and their history."""

import asyncio

import pytest

from app.dispatch.assignment import drain_department, mark_agent_replied, queue_conversation, reinject_overdue
from app.dispatch.sweeper import react, redistribute_offline_agents
from app.domain import sql
from app.domain.conversations import assign_to_agent, resolve_conversation, take_conversation, transfer_conversation
from app.domain.errors import PermissionDenied, ValidationError
from app.domain.events import ConversationRouted, PresenceChanged, UserChanged
from app.domain.presence import set_presence
from tests.dispatch.factories import conversation, make_channel, make_conversation
from tests.factories import make_company, make_department, make_user


@pytest.fixture
async def world(app):
    company = await make_company()
    sales = await make_department(company, "Sales", response_timeout=60)
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    return company, sales, support, channel


async def events_of(conversation_id):
    return [
        (r["kind"], r["from_status"], r["to_status"], r["to_user_id"])
        for r in await sql.fetch(
            "SELECT * FROM conversation_event WHERE conversation_id = $1 ORDER BY id", conversation_id
        )
    ]


async def test_only_online_active_members_under_capacity_are_candidates(world):
    company, sales, support, channel = world
    await make_user(company, presence="offline", departments=[sales])
    await make_user(company, presence="busy", departments=[sales])
    await make_user(company, presence="online", active=False, departments=[sales])
    await make_user(company, presence="online", departments=[support])
    await make_user(company, presence="online", capacity=0, departments=[sales])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    assert (await conversation(conv))["status"] == "queued"

    good = await make_user(company, presence="online", departments=[sales])
    await drain_department(company.id, sales.id)
    row = await conversation(conv)
    assert (row["status"], row["assigned_user_id"]) == ("assigned", good.id)
    assert await events_of(conv) == [("queued", "bot", "queued", None), ("assigned", "queued", "assigned", good.id)]


async def test_least_loaded_then_longest_idle(world):
    company, sales, _, channel = world
    a = await make_user(company, presence="online", departments=[sales])
    b = await make_user(company, presence="online", departments=[sales])
    convs = [await make_conversation(company, channel) for _ in range(4)]
    for c in convs:
        await queue_conversation(company.id, c, sales.id)
    owners = [(await conversation(c))["assigned_user_id"] for c in convs]
    assert sorted(owners) == sorted([a.id, a.id, b.id, b.id])
    assert owners[0] != owners[1]  # the second goes to the one who has none


async def test_queue_is_fifo_and_drains_when_an_agent_comes_online(world, app):
    company, sales, _, channel = world
    agent = await make_user(company, presence="offline", capacity=2, departments=[sales])
    convs = [await make_conversation(company, channel) for _ in range(3)]
    for c in convs:
        await queue_conversation(company.id, c, sales.id)
    assert [(await conversation(c))["status"] for c in convs] == ["queued"] * 3

    await set_presence(agent, "online")
    await react(PresenceChanged(company_id=company.id, user_id=agent.id, presence="online"))
    statuses = [(await conversation(c))["status"] for c in convs]
    assert statuses == ["assigned", "assigned", "queued"]  # oldest first, capacity 2

    await resolve_conversation(agent, convs[0])
    assert (await conversation(convs[2]))["assigned_user_id"] == agent.id  # the freed slot drains at once


async def test_more_capacity_drains_the_queue(world):
    company, sales, _, channel = world
    agent = await make_user(company, presence="online", capacity=1, departments=[sales])
    first, second = await make_conversation(company, channel), await make_conversation(company, channel)
    await queue_conversation(company.id, first, sales.id)
    await queue_conversation(company.id, second, sales.id)
    assert (await conversation(second))["status"] == "queued"
    await sql.execute("UPDATE app_user SET capacity = 2 WHERE id = $1", agent.id)
    await react(UserChanged(company_id=company.id, user_id=agent.id))
    assert (await conversation(second))["assigned_user_id"] == agent.id


async def test_reinjection_goes_to_another_agent_when_there_is_one(world, app):
    company, sales, _, channel = world
    slow = await make_user(company, presence="online", departments=[sales])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    assert (await conversation(conv))["assigned_user_id"] == slow.id
    other = await make_user(company, presence="online", departments=[sales])
    await sql.execute(
        "UPDATE conversation SET awaiting_agent_since = now() - interval '61 seconds' WHERE id = $1", conv
    )

    assert await reinject_overdue() == [conv]
    row = await conversation(conv)
    assert (row["status"], row["reinjections"], row["assigned_user_id"]) == ("assigned", 1, other.id)
    assert row["timed_out_user_id"] is None  # the avoidance ended with the round
    kinds = [e[0] for e in await events_of(conv)]
    assert kinds == ["queued", "assigned", "reinjected", "assigned"]


async def test_answered_conversations_are_not_reinjected(world):
    company, sales, _, channel = world
    await make_user(company, presence="online", departments=[sales])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    await mark_agent_replied(company.id, conv)
    await sql.execute("UPDATE conversation SET assigned_at = now() - interval '1 hour' WHERE id = $1", conv)
    assert await reinject_overdue() == []
    assert (await conversation(conv))["first_response_at"] is not None


async def test_offline_agent_unanswered_conversations_move(world):
    company, sales, _, channel = world
    leaving = await make_user(company, presence="online", departments=[sales])
    waiting, answered = await make_conversation(company, channel), await make_conversation(company, channel)
    await queue_conversation(company.id, waiting, sales.id)
    await queue_conversation(company.id, answered, sales.id)
    await mark_agent_replied(company.id, answered)
    staying = await make_user(company, presence="online", departments=[sales])

    await set_presence(leaving, "offline")
    await react(PresenceChanged(company_id=company.id, user_id=leaving.id, presence="offline"))
    assert (await conversation(waiting))["assigned_user_id"] == staying.id
    assert (await conversation(answered))["assigned_user_id"] == staying.id  # by default answered ones move too


async def test_offline_policy_keep_answered_keeps_only_answered_ones(world):
    company, sales, _, channel = world
    await sql.execute("UPDATE department SET offline_policy = 'keep_answered' WHERE id = $1", sales.id)
    leaving = await make_user(company, presence="online", departments=[sales])
    answered, waiting = await make_conversation(company, channel), await make_conversation(company, channel)
    await queue_conversation(company.id, answered, sales.id)
    await queue_conversation(company.id, waiting, sales.id)
    await mark_agent_replied(company.id, answered)
    await sql.execute("UPDATE app_user SET presence = 'offline' WHERE id = $1", leaving.id)
    assert await redistribute_offline_agents() == 1  # the waiting one; the answered one is kept
    assert (await conversation(answered))["assigned_user_id"] == leaving.id
    assert (await conversation(waiting))["status"] == "queued"


async def test_take_assign_transfer_resolve_rules(world):
    company, sales, support, channel = world
    anna = await make_user(company, "agent", presence="online", departments=[sales])
    bruno = await make_user(company, "agent", presence="offline", departments=[support])
    boss = await make_user(company, "supervisor")
    conv = await make_conversation(company, channel, status="bot", department=sales)

    with pytest.raises(PermissionDenied):
        await take_conversation(bruno, conv)  # not his department
    await take_conversation(anna, conv)
    row = await conversation(conv)
    # The customer is waiting on the business: the response timer runs for a taken one too.
    assert row["assigned_user_id"] == anna.id and row["awaiting_agent_since"] is not None

    with pytest.raises(PermissionDenied):
        await resolve_conversation(bruno, conv)
    with pytest.raises(PermissionDenied):
        await transfer_conversation(bruno, conv, department_id=support.id)
    with pytest.raises(ValidationError):
        await transfer_conversation(anna, conv)

    await transfer_conversation(anna, conv, department_id=support.id, note="Billing question")
    row = await conversation(conv)
    assert (row["status"], row["department_id"]) == ("queued", support.id)  # Bruno is offline

    await assign_to_agent(boss, conv, bruno.id, note="Bruno knows this customer")
    assert (await conversation(conv))["assigned_user_id"] == bruno.id
    with pytest.raises(PermissionDenied):
        await assign_to_agent(anna, conv, anna.id)

    await resolve_conversation(boss, conv)
    row = await conversation(conv)
    assert row["status"] == "resolved" and row["resolved_at"] is not None
    with pytest.raises(ValidationError):
        await take_conversation(anna, conv)
    history = await sql.fetch(
        "SELECT kind, note, actor_user_id FROM conversation_event WHERE conversation_id = $1 ORDER BY id", conv
    )
    assert [h["kind"] for h in history] == ["taken", "transferred", "reassigned", "resolved"]
    assert history[1]["note"] == "Billing question" and history[3]["actor_user_id"] == boss.id


async def test_capacity_is_checked_on_manual_assignment(world):
    company, sales, _, channel = world
    full = await make_user(company, presence="online", capacity=1, departments=[sales])
    boss = await make_user(company, "supervisor")
    first, second = await make_conversation(company, channel), await make_conversation(company, channel)
    await queue_conversation(company.id, first, sales.id)
    with pytest.raises(ValidationError):
        await assign_to_agent(boss, second, full.id)


async def test_other_company_conversation_is_not_found(world):
    company, sales, _, channel = world
    stranger = await make_user(await make_company(), "supervisor")
    conv = await make_conversation(company, channel)
    from app.domain.errors import NotFound

    for action in (
        lambda: take_conversation(stranger, conv),
        lambda: resolve_conversation(stranger, conv),
        lambda: transfer_conversation(stranger, conv, department_id=sales.id),
        lambda: assign_to_agent(stranger, conv, stranger.id),
    ):
        with pytest.raises(NotFound):
            await action()


async def test_routed_events_are_emitted(world, app):
    company, sales, _, channel = world
    agent = await make_user(company, presence="online", departments=[sales])
    sub = app.state.hub.subscribe(company.id)
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    seen = []
    while len(seen) < 2:
        item = await asyncio.wait_for(sub.get(), 3)
        if isinstance(item, ConversationRouted):
            seen.append((item.status, item.user_id))
    assert seen == [("queued", None), ("assigned", agent.id)]


async def test_new_conversation_goes_to_the_channel_default_department(world):
    company, sales, _, channel = world  # the channel's default department is Sales
    agent = await make_user(company, presence="online", departments=[sales])
    conv = await make_conversation(company, channel, department=sales)
    from app.domain.events import ConversationOpened

    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    row = await conversation(conv)
    assert (row["status"], row["assigned_user_id"]) == ("assigned", agent.id)
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))  # repeated: no-op
    assert [e[0] for e in await events_of(conv)] == ["queued", "assigned"]


async def test_without_default_department_the_conversation_stays_with_the_bot(world):
    company, sales, _, _ = world
    bare_channel = await make_channel(company)
    conv = await make_conversation(company, bare_channel)
    from app.domain.events import ConversationOpened

    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=bare_channel))
    assert (await conversation(conv))["status"] == "bot"


async def test_reply_timer_follows_customer_and_agent_messages(world):
    """The agent's reply stops the timer; the customer's next message starts it again, in the
    ingest's own transaction (not after an event the dispatcher might get late under load).
    Both ingest paths: one message (one statement) and a webhook of several."""
    from app.domain.channels import get_channel
    from app.domain.events import MessageQueued
    from app.domain.messages import receive_webhook
    from app.providers.base import InboundMessage, Parsed

    company, sales, _, channel = world
    agent = await make_user(company, presence="online", departments=[sales])
    conv = await make_conversation(company, channel)
    phone = await sql.fetchval(
        "SELECT ct.phone FROM conversation c JOIN contact ct ON ct.id = c.contact_id WHERE c.id = $1", conv
    )
    await queue_conversation(company.id, conv, sales.id)
    info = await get_channel(company.id, channel)

    async def agent_replies() -> None:
        msg = await sql.fetchval(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, author_user_id, type, text, status)
               VALUES ($1, $2, $3, 'out', 'agent', $4, 'text', 'Hello', 'pending') RETURNING id""",
            company.id,
            channel,
            conv,
            agent.id,
        )
        await react(MessageQueued(company_id=company.id, conversation_id=conv, message_id=msg))
        row = await conversation(conv)
        assert row["awaiting_agent_since"] is None and row["first_response_at"] is not None

    await agent_replies()
    # The business phone's own message (an echo) owes nobody an answer.
    await receive_webhook(
        info,
        Parsed(
            messages=[
                InboundMessage(
                    provider_message_id="echo-1", phone=phone, type="text", text="sent from the phone", outbound=True
                )
            ]
        ),
    )
    assert (await conversation(conv))["awaiting_agent_since"] is None
    await receive_webhook(
        info, Parsed(messages=[InboundMessage(provider_message_id="in-1", phone=phone, type="text", text="Hi?")])
    )
    first = (await conversation(conv))["awaiting_agent_since"]
    assert first is not None
    await receive_webhook(
        info, Parsed(messages=[InboundMessage(provider_message_id="in-2", phone=phone, type="text", text="Hello??")])
    )
    assert (await conversation(conv))["awaiting_agent_since"] == first  # the wait started with the first
    await agent_replies()
    await receive_webhook(
        info,
        Parsed(
            messages=[
                InboundMessage(provider_message_id="in-3", phone=phone, type="text", text="one"),
                InboundMessage(provider_message_id="in-4", phone=phone, type="text", text="two"),
            ]
        ),
    )
    assert (await conversation(conv))["awaiting_agent_since"] is not None


async def test_supervisors_are_alerted_after_repeated_reinjections(world, app):
    company, sales, _, channel = world
    await sql.execute("UPDATE department SET reinjection_alert = 2 WHERE id = $1", sales.id)
    agents = [await make_user(company, presence="online", departments=[sales]) for _ in range(3)]
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    sub = app.state.hub.subscribe(company.id)
    from app.domain.events import ReinjectionAlert

    alerts = []
    for _ in range(2):
        await sql.execute(
            "UPDATE conversation SET awaiting_agent_since = now() - interval '61 seconds' WHERE id = $1", conv
        )
        assert await reinject_overdue() == [conv]
    while True:  # events arrive just after each commit: read until quiet
        try:
            item = await asyncio.wait_for(sub.get(), 1)
        except TimeoutError:
            break
        if isinstance(item, ReinjectionAlert):
            alerts.append(item.reinjections)
    assert alerts == [2]  # the first reinjection is silent, the second tells supervisors
    assert (await conversation(conv))["assigned_user_id"] in {a.id for a in agents}
