"""The presence switch and the fragments its event renders for each viewer."""

import asyncio

import pytest

from app.domain.events import PresenceChanged
from app.domain.tables import User
from app.web.live import render_event
from tests.factories import make_company, make_user
from tests.helpers import login, post_form


async def test_switch_presence_by_htmx_returns_the_switch(client, app):
    company = await make_company()
    agent = await make_user(company, "agent")
    await login(client, agent.email)
    sub = app.state.hub.subscribe(company.id)
    response = await post_form(client, "/presence", {"presence": "online"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="presence-switch"' in response.text
    assert 'value="online"' in response.text and 'aria-pressed="true" data-presence="online"' in response.text
    saved = await User.objects().where(User.id == agent.id).first()
    assert saved.presence == "online" and saved.last_seen_at is not None
    event = await asyncio.wait_for(sub.get(), 3)
    assert event == PresenceChanged(company_id=company.id, user_id=agent.id, presence="online")


async def test_same_presence_twice_emits_once(client, app):
    company = await make_company()
    agent = await make_user(company, "agent", presence="busy")
    await login(client, agent.email)
    sub = app.state.hub.subscribe(company.id)
    await post_form(client, "/presence", {"presence": "busy"})
    await post_form(client, "/presence", {"presence": "online"})
    first = await asyncio.wait_for(sub.get(), 3)
    assert first.presence == "online"  # no event for the unchanged "busy"


async def test_plain_form_post_redirects(client):
    company = await make_company()
    agent = await make_user(company)
    await login(client, agent.email)
    response = await post_form(client, "/presence", {"presence": "offline", "next": "/"})
    assert response.status_code == 303 and response.headers["location"] == "/"


@pytest.mark.parametrize("value", ["", "away", "x" * 500, "ONLINE"])
async def test_bad_presence_is_400(client, value):
    company = await make_company()
    agent = await make_user(company)
    await login(client, agent.email)
    response = await post_form(client, "/presence", {"presence": value})
    assert response.status_code == 400
    assert (await User.objects().where(User.id == agent.id).first()).presence == "offline"


async def test_presence_requires_login_and_csrf(client):
    anonymous = await client.post("/presence", data={"presence": "online"})
    assert anonymous.status_code in (302, 403)
    company = await make_company()
    agent = await make_user(company)
    await login(client, agent.email)
    no_csrf = await client.post("/presence", data={"presence": "online"})
    assert no_csrf.status_code == 403


async def test_presence_event_renders_badge_for_all_and_switch_for_self(app):
    company = await make_company()
    agent = await make_user(company, "agent")
    admin = await make_user(company, "admin")
    event = PresenceChanged(company_id=company.id, user_id=agent.id, presence="busy")
    for_admin = await render_event(event, admin)
    assert [m.event for m in for_admin] == [f"presence-{agent.id}"]
    assert "presence-busy" in for_admin[0].data
    for_self = await render_event(event, agent)
    assert [m.event for m in for_self] == [f"presence-{agent.id}", "my-presence"]
    assert 'aria-pressed="true" data-presence="busy"' in for_self[1].data
