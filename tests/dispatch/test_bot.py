"""The bot: department menu, invalid answers, returning customers."""

import pytest

from app.dispatch.bot import choose_department
from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.events import ConversationOpened, MessageReceived
from tests.dispatch.factories import conversation, make_channel, make_conversation
from tests.factories import make_company, make_department, make_user


async def say(company, channel, conv, text):
    message_id = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', $4, 'received') RETURNING id""",
        company.id,
        channel,
        conv,
        text,
    )
    await react(MessageReceived(company_id=company.id, conversation_id=conv, message_id=message_id))


async def bot_texts(conv):
    return [
        r["text"]
        for r in await sql.fetch(
            "SELECT text FROM message WHERE conversation_id = $1 AND author = 'bot' ORDER BY id", conv
        )
    ]


@pytest.fixture
async def world(app):
    company = await make_company("Boulangerie Dupont")
    sales = await make_department(company, "Ventes", menu_position=1)
    support = await make_department(company, "Service après-vente", menu_position=2)
    await make_department(company, "Back office")  # not in the menu
    await make_user(company, presence="offline", departments=[sales, support])  # menu departments are staffed
    channel = await make_channel(company)  # no default department: the bot asks
    return company, sales, support, channel


async def test_menu_then_answer_queues_and_assigns(world):
    company, sales, support, channel = world
    agent = await make_user(company, presence="online", departments=[support])
    conv = await make_conversation(company, channel)
    await say(company, channel, conv, "Bonjour")  # the first message, written before any question
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    [welcome] = await bot_texts(conv)
    assert (
        "Welcome to Boulangerie Dupont!" in welcome and "1. Ventes" in welcome and "2. Service après-vente" in welcome
    )
    assert "Back office" not in welcome
    assert (await conversation(conv))["status"] == "bot"

    await say(company, channel, conv, "7")
    assert "did not understand" in (await bot_texts(conv))[-1]
    await say(company, channel, conv, " 2 ")
    row = await conversation(conv)
    assert (row["status"], row["department_id"], row["assigned_user_id"]) == ("assigned", support.id, agent.id)


async def test_a_department_name_is_an_answer_too(world):
    company, sales, _, channel = world
    conv = await make_conversation(company, channel)
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    await say(company, channel, conv, "ventes!")
    assert (await conversation(conv))["department_id"] == sales.id


@pytest.mark.parametrize(
    "reply,expected", [("Oui", "queued-last"), ("sim", "queued-last"), ("Não", "menu"), ("whatever", "menu")]
)
async def test_returning_customer_is_offered_the_last_department(world, reply, expected):
    company, sales, support, channel = world
    old = await make_conversation(company, channel)
    contact_id = (await conversation(old))["contact_id"]
    await sql.execute(
        "UPDATE conversation SET status = 'resolved', resolved_at = now(), department_id = $2 WHERE id = $1",
        old,
        support.id,
    )
    conv = await make_conversation(company, channel, contact_id=contact_id)
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    assert "continue with Service après-vente" in (await bot_texts(conv))[-1]
    await say(company, channel, conv, reply)
    row = await conversation(conv)
    if expected == "queued-last":
        assert (row["status"], row["department_id"]) == ("queued", support.id)
    else:
        assert row["status"] == "bot" and "1. Ventes" in (await bot_texts(conv))[-1]


async def test_no_menu_means_the_conversation_waits_for_an_agent(app):
    company = await make_company()
    await make_department(company)  # menu position 0: not offered
    channel = await make_channel(company)
    conv = await make_conversation(company, channel)
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    assert await bot_texts(conv) == [] and (await conversation(conv))["status"] == "bot"


def test_choose_department_folds_case_accents_and_punctuation():
    menu = [{"id": 1, "name": "Ventes", "menu_position": 1}, {"id": 2, "name": "Serviço", "menu_position": 2}]
    assert choose_department("1", menu) == 1
    assert choose_department("servico.", menu) == 2
    assert choose_department("3", menu) is None
    assert choose_department("", menu) is None


async def test_silent_returning_customer_gets_the_menu_after_the_timeout(world):
    from app.dispatch.bot import expire_returning_questions

    company, sales, support, channel = world
    old = await make_conversation(company, channel)
    contact_id = (await conversation(old))["contact_id"]
    await sql.execute(
        "UPDATE conversation SET status = 'resolved', resolved_at = now(), department_id = $2 WHERE id = $1",
        old,
        sales.id,
    )
    conv = await make_conversation(company, channel, contact_id=contact_id)
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    assert await expire_returning_questions(300) == []  # not yet
    await sql.execute("UPDATE conversation SET bot_asked_at = now() - interval '301 seconds' WHERE id = $1", conv)
    assert await expire_returning_questions(300) == [conv]
    assert "1. Ventes" in (await bot_texts(conv))[-1]
    assert (await conversation(conv))["bot_state"] == "menu"
    assert await expire_returning_questions(300) == []


# Out of hours (issue 4) and the customer's language (issue 6) ------------------------------

from datetime import UTC, datetime  # noqa: E402

from app.dispatch.bot import tell_if_closed, yes_or_no  # noqa: E402
from app.domain.auto_messages import update_auto_messages  # noqa: E402
from app.domain.business_hours import set_hours  # noqa: E402


async def close_now(company, department=None):
    """Hours on one weekday three days from today only (company timezone UTC): closed now."""
    day = (datetime.now(UTC).weekday() + 3) % 7
    await set_hours(company.id, department.id if department else None, {f"day{day}": "09:00-10:00"})
    return day


async def test_closed_company_tells_the_customer_once_then_the_flow_goes_on(world):
    company, sales, support, channel = world
    day = await close_now(company)
    conv = await make_conversation(company, channel)
    await say(company, channel, conv, "Bonjour")
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    closed, welcome = await bot_texts(conv)
    assert closed.startswith("Thank you for your message. We are closed at the moment; we open again on ")
    weekday = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[day]
    assert f"on {weekday} " in closed and "09:00" in closed
    assert "1. Ventes" in welcome
    await say(company, channel, conv, "still there?")  # same closed period: no second notice
    await say(company, channel, conv, "1")
    row = await conversation(conv)
    assert (row["status"], row["department_id"]) == ("queued", sales.id)  # waits for the opening
    await say(company, channel, conv, "hello?")
    texts = await bot_texts(conv)
    assert sum(t.startswith("Thank you for your message.") for t in texts) == 1
    # The company opened since the notice (a week ago): a new closed period, a new notice.
    await sql.execute("UPDATE conversation SET out_of_hours_sent_at = now() - interval '8 days' WHERE id = $1", conv)
    await sql.execute("UPDATE message SET created_at = created_at - interval '8 days' WHERE conversation_id = $1", conv)
    await say(company, channel, conv, "anyone?")
    texts = await bot_texts(conv)
    assert sum(t.startswith("Thank you for your message.") for t in texts) == 2


async def test_open_or_unconfigured_hours_send_nothing(world):
    company, _, _, channel = world
    conv = await make_conversation(company, channel)
    assert not await tell_if_closed(company.id, conv)  # no hours configured: open 24/7
    await set_hours(company.id, None, {f"day{d}": "00:00-24:00" for d in range(7)})
    assert not await tell_if_closed(company.id, conv)
    assert await bot_texts(conv) == []


async def test_department_hours_and_assigned_conversations(world):
    company, sales, support, channel = world
    await close_now(company, support)  # only the after-sales department is closed
    queued_support = await make_conversation(company, channel, status="queued", department=support)
    queued_sales = await make_conversation(company, channel, status="queued", department=sales)
    agent = await make_user(company, presence="online", departments=[support])
    assigned = await make_conversation(company, channel, status="assigned", department=support)
    await sql.execute("UPDATE conversation SET assigned_user_id = $2 WHERE id = $1", assigned, agent.id)
    for conv in (queued_support, queued_sales, assigned):
        await say(company, channel, conv, "hi")
    assert len(await bot_texts(queued_support)) == 1
    assert await bot_texts(queued_sales) == [] and await bot_texts(assigned) == []


async def test_switched_off_out_of_hours_message_sends_nothing(world):
    company, _, _, channel = world
    await close_now(company)
    await update_auto_messages(company.id, {"out_of_hours_text": "Closed until {opens}", "out_of_hours_enabled": ""})
    conv = await make_conversation(company, channel)
    await say(company, channel, conv, "hi")
    assert not any(t.startswith("Closed until") for t in await bot_texts(conv))  # (the menu is asked)


async def test_customers_get_texts_and_yes_no_in_their_language(world):
    company, sales, support, channel = world
    await close_now(company)
    old = await make_conversation(company, channel)
    contact_id = (await conversation(old))["contact_id"]
    await sql.execute("UPDATE contact SET language = 'fr' WHERE id = $1", contact_id)
    await sql.execute(
        "UPDATE conversation SET status = 'resolved', resolved_at = now(), department_id = $2 WHERE id = $1",
        old,
        support.id,
    )
    conv = await make_conversation(company, channel, contact_id=contact_id)
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    closed, question = await bot_texts(conv)
    assert closed.startswith("Merci pour votre message") and "09:00" in closed
    assert "Service après-vente" in question and "oui ou non" in question
    await say(company, channel, conv, "Oui !")
    assert (await conversation(conv))["department_id"] == support.id
    # A company texts edited per language: the Portuguese one reaches a pt_BR customer.
    await update_auto_messages(company.id, {"resolved_text": "Tchau!", "resolved_enabled": "on"}, language="pt_BR")
    from app.domain.auto_messages import render_auto_message

    await sql.execute("UPDATE contact SET language = 'pt_BR' WHERE id = $1", contact_id)
    assert await render_auto_message(company.id, "resolved", conversation_id=conv) == "Tchau!"
    await sql.execute("UPDATE contact SET language = '' WHERE id = $1", contact_id)  # company's: English
    assert (await render_auto_message(company.id, "resolved", conversation_id=conv)).startswith(
        "Thank you for contacting"
    )


@pytest.mark.parametrize(
    "text,language,expected",
    [
        ("Oui", "fr", True),
        ("non", "fr", False),
        ("Sim!", "pt_BR", True),
        ("Não", "pt_BR", False),
        ("yes", "fr", True),
        ("n", "pt_BR", False),
        ("peut-être", "fr", None),
        ("", "en", None),
    ],
)
def test_yes_or_no(text, language, expected):
    assert yes_or_no(text, language) is expected


async def test_two_processes_telling_at_once_send_one_notice(world):
    import asyncio

    company, _, _, channel = world
    await close_now(company)
    conv = await make_conversation(company, channel)
    told = await asyncio.gather(*[tell_if_closed(company.id, conv) for _ in range(4)])
    assert sum(told) == 1 and len(await bot_texts(conv)) == 1
