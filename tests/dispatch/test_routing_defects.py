"""The defects of issue 14, each as the user saw it (agents idle while customers wait, chats
stuck on an agent who left, chatter from the bot), on the real engine and database."""

import pytest

from app.dispatch.assignment import queue_conversation, reinject_overdue
from app.dispatch.sweeper import react, sweep_once
from app.dispatch.timers import list_due
from app.domain import sql
from app.domain.conversations import take_conversation, transfer_conversation
from app.domain.events import ConversationOpened, ConversationRouted, MessageReceived, PresenceChanged
from tests.dispatch.factories import conversation, make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


@pytest.fixture
async def world(app):
    company = await make_company()
    support = await make_department(company, "Support", response_timeout=60, menu_position=1)
    sales = await make_department(company, "Sales", menu_position=2)
    channel = await make_channel(company, department=support)
    return company, support, sales, channel


async def time_out(conv: int) -> None:
    """61 seconds pass without an answer (the clock moves: the running timer is 61 s older)."""
    await sql.execute(
        "UPDATE conversation SET awaiting_agent_since = awaiting_agent_since - interval '61 seconds' WHERE id = $1",
        conv,
    )


async def bot_texts(conv: int) -> list[str]:
    rows = await sql.fetch("SELECT text FROM message WHERE conversation_id = $1 AND author = 'bot' ORDER BY id", conv)
    return [r["text"] for r in rows]


# 1. Stale reinjection exclusion ------------------------------------------------------------------


async def test_the_agent_a_conversation_timed_out_on_gets_it_back_when_nobody_else_can(world):
    company, support, _, channel = world
    anna = await make_user(company, presence="online", departments=[support])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, support.id)
    await time_out(conv)
    assert await reinject_overdue() == [conv]
    row = await conversation(conv)
    # Anna is the only one with room: she gets it again rather than the customer waiting forever.
    assert (row["status"], row["assigned_user_id"], row["timed_out_user_id"]) == ("assigned", anna.id, None)


async def test_the_exclusion_ends_with_the_round(world):
    company, support, _, channel = world
    anna = await make_user(company, presence="online", capacity=1, departments=[support])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, support.id)
    await sql.execute("UPDATE app_user SET presence = 'offline' WHERE id = $1", anna.id)
    await time_out(conv)
    await reinject_overdue()
    assert (await conversation(conv))["status"] == "queued"  # nobody online
    await sql.execute("UPDATE app_user SET presence = 'online' WHERE id = $1", anna.id)
    await react(PresenceChanged(company.id, anna.id, "online"))
    assert (await conversation(conv))["assigned_user_id"] == anna.id  # back from her break: not left waiting


async def test_a_department_may_make_it_wait_for_someone_else_with_an_alert(world):
    company, support, _, channel = world
    await sql.execute("UPDATE department SET reinjection_policy = 'wait' WHERE id = $1", support.id)
    anna = await make_user(company, presence="online", departments=[support])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, support.id)
    await time_out(conv)
    await reinject_overdue()
    row = await conversation(conv)
    assert (row["status"], row["timed_out_user_id"]) == ("queued", anna.id)
    assert row["unstaffed_alert_at"] is not None  # the supervisors were told
    bruno = await make_user(company, presence="online", departments=[support])
    await react(PresenceChanged(company.id, bruno.id, "online"))
    assert (await conversation(conv))["assigned_user_id"] == bruno.id


# 2. Holders who go offline ------------------------------------------------------------------------


async def test_logging_out_sets_offline_at_once_and_requeues_at_the_original_place(client, world):
    company, support, _, channel = world
    anna = await make_user(company, presence="online", capacity=1, departments=[support])
    held = await make_conversation(company, channel, department=support)
    await take_conversation(anna, held)  # taken: the customer still waits for an answer
    later = await make_conversation(company, channel)
    await queue_conversation(company.id, later, support.id)  # Anna is full: queued behind
    await login(client, anna.email)
    assert (await post_form(client, "/logout")).status_code == 303
    assert await sql.fetchval("SELECT presence FROM app_user WHERE id = $1", anna.id) == "offline"
    await react(PresenceChanged(company.id, anna.id, "offline"))
    first, second = await conversation(held), await conversation(later)
    assert first["status"] == second["status"] == "queued"
    assert first["queued_at"] < second["queued_at"]  # first in line again, not last


async def test_a_taken_conversation_times_out_like_any_other(world):
    company, support, _, channel = world
    anna = await make_user(company, presence="online", departments=[support])
    bruno = await make_user(company, presence="busy", departments=[support])
    conv = await make_conversation(company, channel, department=support)
    await take_conversation(anna, conv)
    await time_out(conv)
    await sql.execute("UPDATE app_user SET presence = 'online' WHERE id = $1", bruno.id)
    assert await reinject_overdue() == [conv]
    assert (await conversation(conv))["assigned_user_id"] == bruno.id


async def test_presence_expiry_moves_held_conversations_on(world, settings):
    company, support, _, channel = world
    anna = await make_user(company, presence="online", departments=[support])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, support.id)
    await sql.execute("UPDATE conversation SET awaiting_agent_since = NULL WHERE id = $1", conv)  # answered
    bruno = await make_user(company, presence="online", departments=[support])
    await sql.execute(
        "UPDATE app_user SET last_seen_at = now() - interval '1 hour', "
        "presence_changed_at = now() - interval '1 hour' WHERE id = $1",
        anna.id,
    )
    await sql.execute("UPDATE app_user SET last_seen_at = now() WHERE id = $1", bruno.id)
    await sweep_once(settings)  # no event in memory: the sweep alone
    assert (await conversation(conv))["assigned_user_id"] == bruno.id


# 3. Transfer to a department ----------------------------------------------------------------------


async def test_a_transfer_to_a_department_goes_to_someone_else(world):
    company, support, _, channel = world
    anna = await make_user(company, name="Anna", presence="online", departments=[support])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, support.id)
    assert (await conversation(conv))["assigned_user_id"] == anna.id
    await react(ConversationRouted(company.id, conv, "assigned", user_id=anna.id, department_id=support.id))
    bruno = await make_user(company, name="Bruno", presence="online", departments=[support])
    await sql.execute("UPDATE app_user SET last_assigned_at = now() + interval '1 hour' WHERE id = $1", bruno.id)
    await transfer_conversation(anna, conv, department_id=support.id, note="Bruno knows billing")
    assert (await conversation(conv))["assigned_user_id"] == bruno.id  # though Anna is less loaded / idle longer
    # Alone in the department, Bruno gets it back rather than the customer waiting.
    await sql.execute("UPDATE app_user SET presence = 'offline' WHERE id = $1", anna.id)
    await transfer_conversation(bruno, conv, department_id=support.id)
    assert (await conversation(conv))["assigned_user_id"] == bruno.id


# 4. Work recoverable from the database alone ------------------------------------------------------


async def test_a_conversation_whose_opening_event_was_lost_is_greeted_by_the_sweep(world, settings):
    company, _, _, _ = world
    await make_user(company, presence="offline", departments=[world[1], world[2]])
    channel = await make_channel(company)  # no default department: the bot asks
    conv = await make_conversation(company, channel)
    await sql.execute("UPDATE conversation SET created_at = now() - interval '10 seconds' WHERE id = $1", conv)
    assert [r["kind"] for r in await list_due(company_id=company.id)] == ["start"]
    await sweep_once(settings)  # the dispatcher restarted: no event, only the database
    assert (await conversation(conv))["bot_state"] == "menu" and len(await bot_texts(conv)) == 1


async def test_an_answer_whose_event_was_lost_is_read_by_the_sweep(world, settings):
    company, support, _, _ = world
    agent = await make_user(company, presence="online", departments=[support])
    channel = await make_channel(company)
    conv = await make_conversation(company, channel)
    await react(ConversationOpened(company.id, conv, channel))
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status, created_at)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', '1', 'received', now() - interval '5 seconds')""",
        company.id,
        channel,
        conv,
    )
    await sql.execute(
        "UPDATE conversation SET bot_asked_at = now() - interval '6 seconds', "
        "last_inbound_at = now() - interval '5 seconds' WHERE id = $1",
        conv,
    )
    await sweep_once(settings)
    assert (await conversation(conv))["assigned_user_id"] == agent.id


async def test_a_silent_customer_after_the_menu_goes_to_the_fallback_department(world, settings):
    company, support, sales, _ = world
    await sql.execute("UPDATE department SET menu_timeout = 60 WHERE id = $1", sales.id)
    await make_user(company, presence="offline", departments=[support, sales])
    channel = await make_channel(company)
    conv = await make_conversation(company, channel)
    await react(ConversationOpened(company.id, conv, channel))
    await sql.execute(
        "UPDATE conversation SET bot_asked_at = now() - interval '59 seconds', "
        "last_inbound_at = now() - interval '70 seconds' WHERE id = $1",
        conv,
    )
    await sweep_once(settings)
    assert (await conversation(conv))["status"] == "bot"  # not yet
    await sql.execute("UPDATE conversation SET bot_asked_at = now() - interval '61 seconds' WHERE id = $1", conv)
    await sweep_once(settings)
    row = await conversation(conv)
    assert (row["status"], row["department_id"]) == ("queued", sales.id)


async def test_the_returning_question_times_out_after_the_company_setting(world, settings):
    company, support, _, _ = world
    await make_user(company, presence="offline", departments=[support])
    channel = await make_channel(company)
    conv = await make_conversation(company, channel)
    await sql.execute(
        "UPDATE conversation SET status = 'bot', bot_state = 'returning', "
        "bot_asked_at = now() - interval '121 seconds', last_inbound_at = now() - interval '200 seconds' "
        "WHERE id = $1",
        conv,
    )
    await sweep_once(settings)  # the company's default: 2 minutes
    assert (await conversation(conv))["bot_state"] == "menu"


async def test_a_returning_customer_goes_straight_back_to_their_agent(world):
    company, support, sales, _ = world
    anna = await make_user(company, presence="online", departments=[support])
    await make_user(company, presence="online", departments=[support])
    channel = await make_channel(company)
    old = await make_conversation(company, channel)
    await sql.execute(
        "UPDATE conversation SET status = 'resolved', resolved_at = now(), department_id = $2, "
        "assigned_user_id = $3 WHERE id = $1",
        old,
        support.id,
        anna.id,
    )
    contact = (await conversation(old))["contact_id"]
    await sql.execute("UPDATE app_user SET last_assigned_at = now() + interval '1 hour' WHERE id = $1", anna.id)
    conv = await make_conversation(company, channel, contact_id=contact)
    await react(ConversationOpened(company.id, conv, channel))
    assert (await conversation(conv))["bot_state"] == "returning"
    mid = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', 'yes', 'received') RETURNING id""",
        company.id,
        channel,
        conv,
    )
    await react(MessageReceived(company.id, conv, mid))
    assert (await conversation(conv))["assigned_user_id"] == anna.id


# 5. Bot chatter ----------------------------------------------------------------------------------


async def test_the_takeover_text_goes_once_and_no_text_repeats(world):
    company, support, _, channel = world
    anna = await make_user(company, name="Anna", presence="online", departments=[support])
    bruno = await make_user(company, name="Bruno", presence="online", departments=[support])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, support.id)
    first = (await conversation(conv))["assigned_user_id"]
    await react(ConversationRouted(company.id, conv, "assigned", user_id=first, department_id=support.id))
    holder = anna if first == anna.id else bruno
    await transfer_conversation(holder, conv, department_id=support.id)
    second = (await conversation(conv))["assigned_user_id"]
    assert second != first
    await react(
        ConversationRouted(
            company.id, conv, "assigned", user_id=second, previous_user_id=None, department_id=support.id
        )
    )
    await time_out(conv)
    await reinject_overdue()
    third = (await conversation(conv))["assigned_user_id"]
    await react(ConversationRouted(company.id, conv, "assigned", user_id=third, department_id=support.id))
    texts = await bot_texts(conv)
    assert len([t for t in texts if "is now with you" in t]) == 1, texts


async def test_the_same_automatic_text_is_not_repeated_within_the_window(world):
    from app.dispatch.assignment import send_auto_message

    company, support, _, channel = world
    conv = await make_conversation(company, channel)
    assert await send_auto_message(company.id, conv, "queued", position=1) is not None
    assert await send_auto_message(company.id, conv, "queued", position=1) is None
    assert await send_auto_message(company.id, conv, "queued", position=2) is not None  # a new fact


async def test_an_unclear_reply_to_an_order_goes_to_an_agent_not_the_menu(app):
    from app.domain.orders import create_order
    from tests.api.conftest import make_shop

    shop = await make_shop()  # its channel has no default department
    order, _ = await create_order(
        shop.company.id,
        {"phone": "+33612345678", "name": "Zoé", "items": [{"name": "Lampe", "price": "19.00", "quantity": 1}]},
    )
    conv = order["conversation_id"]
    await react(ConversationOpened(shop.company.id, conv, shop.channel_id))
    mid = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', 'Can I pay on delivery?', 'received') RETURNING id""",
        shop.company.id,
        shop.channel_id,
        conv,
    )
    await react(MessageReceived(shop.company.id, conv, mid))
    row = await conversation(conv)
    assert row["status"] in ("queued", "assigned") and row["bot_state"] != "menu"
    assert not any("Welcome" in t for t in await bot_texts(conv))


async def test_a_new_customer_message_moves_a_conversation_the_bot_never_greeted(world):
    company, support, sales, _ = world
    await make_user(company, presence="offline", departments=[support, sales])
    channel = await make_channel(company)
    conv = await make_conversation(company, channel)  # its opening event was lost: no greeting
    mid = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', 'Hello? Anyone?', 'received') RETURNING id""",
        company.id,
        channel,
        conv,
    )
    await react(MessageReceived(company.id, conv, mid))
    assert (await conversation(conv))["bot_state"] == "menu"
