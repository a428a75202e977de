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
        company.id, channel, conv, text,
    )
    await react(MessageReceived(company_id=company.id, conversation_id=conv, message_id=message_id))


async def bot_texts(conv):
    return [r["text"] for r in await sql.fetch("SELECT text FROM message WHERE conversation_id = $1 AND author = 'bot' ORDER BY id", conv)]


@pytest.fixture
async def world(app):
    company = await make_company("Boulangerie Dupont")
    sales = await make_department(company, "Ventes", menu_position=1)
    support = await make_department(company, "Service après-vente", menu_position=2)
    await make_department(company, "Back office")  # not in the menu
    channel = await make_channel(company)  # no default department: the bot asks
    return company, sales, support, channel


async def test_menu_then_answer_queues_and_assigns(world):
    company, sales, support, channel = world
    agent = await make_user(company, presence="online", departments=[support])
    conv = await make_conversation(company, channel)
    await say(company, channel, conv, "Bonjour")  # the first message, written before any question
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    [welcome] = await bot_texts(conv)
    assert "Welcome to Boulangerie Dupont!" in welcome and "1. Ventes" in welcome and "2. Service après-vente" in welcome
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


@pytest.mark.parametrize("reply,expected", [("Oui", "queued-last"), ("sim", "queued-last"), ("Não", "menu"), ("whatever", "menu")])
async def test_returning_customer_is_offered_the_last_department(world, reply, expected):
    company, sales, support, channel = world
    old = await make_conversation(company, channel)
    contact_id = (await conversation(old))["contact_id"]
    await sql.execute("UPDATE conversation SET status = 'resolved', resolved_at = now(), department_id = $2 WHERE id = $1", old, support.id)
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
    await sql.execute("UPDATE conversation SET status = 'resolved', resolved_at = now(), department_id = $2 WHERE id = $1", old, sales.id)
    conv = await make_conversation(company, channel, contact_id=contact_id)
    await react(ConversationOpened(company_id=company.id, conversation_id=conv, channel_id=channel))
    assert await expire_returning_questions(300) == []  # not yet
    await sql.execute("UPDATE conversation SET bot_asked_at = now() - interval '301 seconds' WHERE id = $1", conv)
    assert await expire_returning_questions(300) == [conv]
    assert "1. Ventes" in (await bot_texts(conv))[-1]
    assert (await conversation(conv))["bot_state"] == "menu"
    assert await expire_returning_questions(300) == []
