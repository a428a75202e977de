"""Issue 14, defects 6 and 7: every open list follows every change of the conversations in it;
acting on a conversation a colleague just took says who took it; the agents' Queue tab holds
what waits for an agent, and conversations still with the bot have their supervisors' view."""

import pytest

from app.dispatch.assignment import queue_conversation
from app.domain.conversations import take_conversation
from app.domain.events import ConversationRouted
from app.web import inbox
from app.web.live import render_event
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


@pytest.fixture
async def scene(app):
    company = await make_company()
    sales = await make_department(company, "Sales")
    channel = await make_channel(company, department=sales)
    anna = await make_user(company, name="Anna Agent", presence="busy", departments=[sales])
    bruno = await make_user(company, name="Bruno Agent", presence="busy", departments=[sales])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)  # both busy: it waits in the queue
    for memo in (inbox.ROWS, inbox.ITEMS, inbox.MEMBERS):
        memo._items.clear()
    return company, sales, channel, anna, bruno, conv


async def test_a_row_taken_by_a_colleague_leaves_every_other_queue(scene):
    company, sales, _, anna, bruno, conv = scene
    await take_conversation(anna, conv)
    event = ConversationRouted(company.id, conv, "assigned", user_id=anna.id, department_id=sales.id)
    sent = await render_event(event, bruno, frozenset({"inbox"}))
    assert [(m.event, m.data) for m in sent] == [("inbox-gone", f"{conv} taken")]


async def test_acting_on_a_conversation_a_colleague_just_took_says_who(client, scene):
    company, sales, _, anna, bruno, conv = scene
    await login(client, bruno.email)
    page = await client.get("/inbox?tab=queue")
    assert f'id="inbox-row-{conv}"' in page.text  # Bruno's list shows it...
    await take_conversation(anna, conv)  # ...as Anna takes it
    response = await post_form(client, f"/inbox/{conv}/take", headers={"hx-request": "true"})
    assert response.status_code == 409 and "Anna Agent took this conversation" in response.text


async def test_the_queue_badge_is_given_the_rows_it_counts(client, scene):
    company, sales, _, anna, bruno, conv = scene
    await login(client, bruno.email)
    page = await client.get("/inbox")
    assert f'<script type="application/json" id="inbox-queue-ids">[{conv}]</script>' in page.text


async def test_conversations_with_the_bot_are_not_in_the_agents_queue(client, scene):
    company, sales, channel, anna, bruno, conv = scene
    menu = await make_conversation(company, channel, status="bot", department=sales)  # a menu left unanswered
    await login(client, bruno.email)
    queue = await client.get("/inbox?tab=queue")
    assert f'id="inbox-row-{conv}"' in queue.text and f'id="inbox-row-{menu}"' not in queue.text
    assert (await client.get("/inbox?tab=bot")).status_code == 403
    boss = await make_user(company, "supervisor")
    client.cookies.clear()
    await login(client, boss.email)
    view = await client.get("/inbox?tab=bot")
    assert f'id="inbox-row-{menu}"' in view.text and f'id="inbox-row-{conv}"' not in view.text
    assert f'id="inbox-row-{menu}"' not in (await client.get("/inbox?tab=queue")).text
