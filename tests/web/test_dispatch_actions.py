"""Take, transfer and resolve through HTTP (the inbox's routes, the only ones): roles, company scoping, CSRF, bad input;
and the agent's live list of work on the home page."""

import pytest

from app.dispatch.assignment import queue_conversation
from tests.dispatch.factories import conversation, make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


@pytest.fixture
async def setup(app):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    return company, sales, support, channel


async def test_agent_takes_then_resolves_from_the_home_page(client, setup):
    company, sales, _, channel = setup
    agent = await make_user(company, presence="busy", departments=[sales])
    conv = await make_conversation(company, channel, department=sales)
    await queue_conversation(company.id, conv, sales.id)  # busy agent: it waits
    await login(client, agent.email)
    home = await client.get("/")
    assert f'id="queued-conversation-{conv}"' in home.text
    assert f'action="/inbox/{conv}/take"' in home.text
    response = await post_form(client, f"/inbox/{conv}/take")
    assert response.status_code == 303 and response.headers["location"] == f"/inbox/{conv}"
    home = await client.get("/")
    assert f'id="my-conversation-{conv}"' in home.text
    assert (await post_form(client, f"/inbox/{conv}/resolve")).status_code == 303
    assert (await conversation(conv))["status"] == "resolved"


async def test_agent_cannot_act_on_someone_elses_conversation(client, setup):
    company, sales, support, channel = setup
    holder = await make_user(company, presence="online", departments=[sales])
    other = await make_user(company, presence="online", departments=[sales])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    assert (await conversation(conv))["assigned_user_id"] == holder.id
    await login(client, other.email)
    for url, data in (
        (f"/inbox/{conv}/resolve", {}),
        (f"/inbox/{conv}/take", {}),
        (f"/inbox/{conv}/transfer", {"target": f"department-{support.id}"}),
        (f"/inbox/{conv}/transfer", {"target": f"user-{other.id}"}),
    ):
        response = await post_form(client, url, data)
        assert response.status_code == 409 and holder.name in response.text, url  # who has it
    assert (await conversation(conv))["assigned_user_id"] == holder.id


async def test_supervisor_transfers_and_assigns(client, setup):
    company, sales, support, channel = setup
    holder = await make_user(company, presence="online", departments=[sales])
    helper = await make_user(company, presence="offline", departments=[support])
    boss = await make_user(company, "supervisor")
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    await login(client, boss.email)
    moved = await post_form(client, f"/inbox/{conv}/transfer", {"target": f"department-{support.id}", "note": "VAT"})
    assert moved.status_code == 303
    row = await conversation(conv)
    assert (row["status"], row["department_id"]) == ("queued", support.id)
    given = await post_form(client, f"/inbox/{conv}/transfer", {"target": f"user-{helper.id}"})
    assert given.status_code == 303 and (await conversation(conv))["assigned_user_id"] == helper.id
    assert holder.id != helper.id


async def test_bad_input_and_other_company(client, setup):
    company, sales, _, channel = setup
    boss = await make_user(company, "supervisor")
    conv = await make_conversation(company, channel)
    foreign_company = await make_company()
    foreign_conv = await make_conversation(foreign_company, await make_channel(foreign_company))
    await login(client, boss.email)
    assert (await post_form(client, f"/inbox/{conv}/transfer", {})).status_code == 400
    assert (await post_form(client, f"/inbox/{conv}/transfer", {"target": "department-x"})).status_code == 400
    assert (
        await post_form(client, f"/inbox/{conv}/transfer", {"target": f"department-{sales.id}", "note": "n" * 3000})
    ).status_code == 400
    assert (await post_form(client, f"/inbox/{conv}/transfer", {"target": "user--1"})).status_code == 400
    assert (await post_form(client, f"/inbox/{foreign_conv}/resolve")).status_code == 404
    assert (await post_form(client, f"/inbox/{foreign_conv}/take")).status_code == 404
    assert (await post_form(client, "/inbox/99999999/take")).status_code == 404
    assert (await client.post(f"/inbox/{conv}/resolve")).status_code == 403  # no CSRF token
    assert (await conversation(foreign_conv))["status"] == "bot"


async def test_anonymous_is_sent_to_login(client, setup):
    company, _, _, channel = setup
    conv = await make_conversation(company, channel)
    response = await client.post(f"/inbox/{conv}/resolve")
    assert response.status_code in (302, 403)
    assert (await conversation(conv))["status"] == "bot"


async def test_agents_see_their_own_and_their_queue_only(client, setup):
    company, sales, support, channel = setup
    anna = await make_user(company, presence="online", departments=[sales])
    bruno = await make_user(company, presence="offline", departments=[support])
    mine = await make_conversation(company, channel)
    await queue_conversation(company.id, mine, sales.id)  # Anna gets it
    waiting_support = await make_conversation(company, channel)
    await queue_conversation(company.id, waiting_support, support.id)  # Bruno is offline: queued
    await login(client, anna.email)
    old = await client.get(f"/conversations/{mine}")  # the old address leads to the one screen
    assert old.status_code == 303 and old.headers["location"] == f"/inbox/{mine}"
    assert (await client.get(f"/inbox/{mine}")).status_code == 200
    assert (await client.get(f"/inbox/{waiting_support}")).status_code == 404  # not her department
    assert (await client.get("/conversations/")).headers["location"] == "/inbox"
    reply = await post_form(client, f"/inbox/{mine}/messages", {"text": "Hello!"}, headers={"HX-Request": "true"})
    assert reply.status_code == 200

    client.cookies.clear()
    await login(client, bruno.email)
    page = await client.get(f"/inbox/{waiting_support}")
    assert (
        page.status_code == 200 and "take it to answer" in page.text
    )  # queued in his department: visible, not writable
    refused = await post_form(client, f"/inbox/{waiting_support}/messages", {"text": "Hi"})
    assert refused.status_code == 403
    assert (await client.get(f"/inbox/{mine}")).status_code == 404


async def test_reinjection_alert_is_a_toast_for_supervisors_only(setup):
    from app.domain.events import ReinjectionAlert
    from app.web.live import render_event

    company, _, _, channel = setup
    conv = await make_conversation(company, channel)
    from app.domain import sql

    await sql.execute("UPDATE contact SET name = '<b>Zed</b>'")
    event = ReinjectionAlert(company_id=company.id, conversation_id=conv, reinjections=3)
    boss = await make_user(company, "supervisor")
    agent = await make_user(company, "agent")
    [message] = await render_event(event, boss)
    assert message.event == "alert" and "&lt;b&gt;Zed&lt;/b&gt;" in message.data and f"/inbox/{conv}" in message.data
    assert await render_event(event, agent) == []
