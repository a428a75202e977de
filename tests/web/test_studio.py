"""Seed 002: a Twilio Studio flow in front. The flow's HTTP Request widget posts each customer
message (the requests the seed's flow made to /api/twilio/incoming), Switchboard stores it once
and answers ``{"agent_mode": …}``; an agent takes over, resolves, and the bot is back."""

from __future__ import annotations

import base64

import pytest

from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.api_keys import create_api_key
from app.domain.channels import create_channel
from app.domain.conversations import assign_to_agent, resolve_conversation
from app.domain.events import ConversationOpened
from tests.factories import make_company, make_department, make_user
from tests.helpers import login

SECRET = "whsec-studio-0123456789"


def basic(password: str = SECRET) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"studio:{password}".encode()).decode()}


@pytest.fixture
async def studio(app):
    company = await make_company()
    department = await make_department(company, "Atelier")
    agent = await make_user(company, "agent", presence="online", departments=[department], name="Alice Agent")
    admin = await make_user(company, "admin")
    base = {
        "provider": "twilio",
        "cred_account_sid": "ACX",
        "cred_auth_token": "tok",
        "cred_from_number": "+14155238886",
        "webhook_secret": SECRET,
    }
    channel = await create_channel(company.id, {**base, "name": "Studio", "cred_studio_in_front": "yes"})
    plain = await create_channel(company.id, {**base, "name": "Plain"})
    return company, channel, plain, department, agent, admin


def widget(sid: str, body: str) -> dict:
    """What the seed's flow sends: the trigger message's fields."""
    return {"From": "whatsapp:+212612345678", "Body": body, "MessageSid": sid, "ProfileName": "Karim", "NumMedia": "0"}


async def test_studio_flow_exchange_takeover_and_back_to_the_bot(client, studio):
    company, channel, _, department, agent, admin = studio
    url = f"/webhooks/twilio-studio/{channel.id}"
    first = await client.post(url, data=widget("SM0001", "mercedes"), headers=basic())
    assert first.status_code == 200, first.text
    assert first.json()["agent_mode"] is False and first.json()["status"] == "bot"
    conv_id = first.json()["conversation_id"]
    # Exactly once: the same message posted again stores nothing new.
    again = await client.post(url, data=widget("SM0001", "mercedes"), headers=basic())
    assert again.json()["duplicates"] == 1
    assert await sql.fetchval("SELECT count(*) FROM message WHERE conversation_id = $1", conv_id) == 1
    # Our bot stays silent on a Studio channel (the flow is the bot).
    await react(ConversationOpened(company.id, conv_id, channel.id))
    assert await sql.fetchval("SELECT bot_state FROM conversation WHERE id = $1", conv_id) == "studio"
    assert (
        await sql.fetchval("SELECT count(*) FROM message WHERE conversation_id = $1 AND direction = 'out'", conv_id)
        == 0
    )
    # An agent takes over: the flow is told to stay quiet.
    await assign_to_agent(admin, conv_id, agent.id)
    held = await client.post(
        url, json=widget("SM0002", "Bonjour ?"), headers=basic()
    )  # the JSON content type works too
    assert held.json() == {
        "agent_mode": True,
        "status": "assigned",
        "conversation_id": conv_id,
        "agent": "Alice Agent",
        "stored": 1,
        "duplicates": 0,
    }
    # Resolved: the duration is known, and the customer's next message goes to the bot again.
    await resolve_conversation(admin, conv_id)
    api = await sql.fetchrow("SELECT created_at, resolved_at FROM conversation WHERE id = $1", conv_id)
    assert api["resolved_at"] is not None
    back = await client.post(url, data=widget("SM0003", "merci"), headers=basic())
    assert back.json()["agent_mode"] is False and back.json()["conversation_id"] != conv_id
    # The flow may ask for an agent itself.
    handoff = await client.post(
        url,
        data={**widget("SM0004", "agent svp"), "handoff": "true", "department_id": str(department.id)},
        headers=basic(),
    )
    assert handoff.json()["agent_mode"] is True and handoff.json()["status"] in ("queued", "assigned")


async def test_studio_refusals(client, studio):
    company, channel, plain, *_ = studio
    url = f"/webhooks/twilio-studio/{channel.id}"
    assert (await client.post(url, data=widget("SM1", "x"))).status_code == 401
    assert (await client.post(url, data=widget("SM1", "x"), headers=basic("wrong-secret"))).status_code == 401
    assert (
        await client.post(f"/webhooks/twilio-studio/{plain.id}", data=widget("SM1", "x"), headers=basic())
    ).status_code == 404
    assert (await client.post(url, data={"Body": "no sid"}, headers=basic())).status_code == 400
    assert (
        await client.post(url, content=b"[1,2]", headers={**basic(), "content-type": "application/json"})
    ).status_code == 400
    assert (
        await client.post(url, content=b"{bad", headers={**basic(), "content-type": "application/json"})
    ).status_code == 400
    assert await sql.fetchval("SELECT count(*) FROM message") == 0


async def test_resolved_conversation_shows_its_duration(client, studio):
    company, channel, _, department, agent, admin = studio

    response = await client.post(f"/webhooks/twilio-studio/{channel.id}", data=widget("SM9", "hello"), headers=basic())
    conv_id = response.json()["conversation_id"]
    await sql.execute("UPDATE conversation SET created_at = now() - interval '14 minutes' WHERE id = $1", conv_id)
    await assign_to_agent(admin, conv_id, agent.id)
    await resolve_conversation(admin, conv_id)
    await login(client, admin.email)
    page = await client.get(f"/inbox/{conv_id}")
    assert "Lasted 14 minutes" in page.text
    _, key = await create_api_key(company.id, {"name": "k", "scopes": ["read"]}, user_id=None)
    api = (await client.get(f"/api/v1/conversations/{conv_id}", headers={"Authorization": f"Bearer {key}"})).json()
    assert 839 <= api["duration_seconds"] <= 845


async def test_the_shipped_studio_flow_posts_what_the_endpoint_reads(client, studio):
    """docs/twilio-studio-flow.json: its HTTP Request widget, with Studio's trigger values filled
    in, is accepted as is; its split reads the answer's agent_mode."""
    import json
    import re
    from pathlib import Path
    from urllib.parse import urlsplit

    company, channel, *_ = studio
    flow = json.loads((Path(__file__).resolve().parents[2] / "docs" / "twilio-studio-flow.json").read_text())
    states = {s["name"]: s for s in flow["states"]}
    request = states["ask_switchboard"]["properties"]
    trigger = {
        "From": "whatsapp:+212612345678",
        "Body": "mercedes",
        "MessageSid": "SMflow1",
        "ProfileName": "Karim",
        "NumMedia": "0",
        "MediaUrl0": "",
        "MediaContentType0": "",
    }
    form = {
        p["key"]: re.sub(r"\{\{trigger\.message\.(\w+)\}\}", lambda m: trigger[m.group(1)], p["value"])
        for p in request["parameters"]
    }
    url = urlsplit(request["url"].replace("WEBHOOK_SECRET", SECRET).replace("CHANNEL_ID", str(channel.id)))
    response = await client.post(url.path, data=form, headers=basic(url.password))
    assert response.status_code == 200 and response.json()["agent_mode"] is False
    assert "widgets.ask_switchboard.parsed.agent_mode" in states["agent_mode"]["properties"]["input"]
    assert flow["initial_state"] == "Trigger" and states["Trigger"]["transitions"][0]["next"] == "ask_switchboard"
