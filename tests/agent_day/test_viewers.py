"""Who else is here: viewers and typists of a conversation, live to the others who may see it."""

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.viewers import ViewersChanged, list_viewers, mark_viewer
from app.web.live import render_event
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


async def test_viewers_and_typists_are_shown_to_the_others(client):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    anna = await make_user(company, name="Anna", presence="online", departments=[sales])
    boss = await make_user(company, "supervisor", name="Sue <Boss>")
    stranger = await make_user(company, presence="offline", departments=[support])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)

    await login(client, boss.email)
    assert (await post_form(client, f"/inbox/{conv}/viewing", {"state": "viewing"})).status_code == 204
    assert (await post_form(client, f"/inbox/{conv}/viewing", {"state": "bogus"})).status_code == 400
    # A heartbeat that changes nothing sends nothing.
    assert await mark_viewer(company.id, conv, boss.id, "viewing") is False
    assert await mark_viewer(company.id, conv, boss.id, "typing") is True
    assert [(r["name"], r["typing"]) for r in await list_viewers(company.id, conv)] == [("Sue <Boss>", True)]

    event = ViewersChanged(company.id, conv)
    [message] = await render_event(event, anna, frozenset({"inbox"}))
    assert message.event == f"viewers-{conv}" and "Sue &lt;Boss&gt; is typing a reply…" in message.data
    [own] = await render_event(event, boss, frozenset({"inbox"}))
    assert "Sue" not in own.data  # not themselves
    assert await render_event(event, stranger, frozenset({"inbox"})) == []

    assert (await post_form(client, f"/inbox/{conv}/viewing", {"state": "left"})).status_code == 204
    assert await list_viewers(company.id, conv) == []
    client.cookies.clear()
    await login(client, stranger.email)
    assert (await post_form(client, f"/inbox/{conv}/viewing", {"state": "viewing"})).status_code == 404
    assert await sql.fetchval("SELECT count(*) FROM conversation_viewer") == 0
