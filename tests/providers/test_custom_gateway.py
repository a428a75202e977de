"""The Custom gateway channel kind: seed 001's generic webhook ({from, body, type}) signed with
HMAC-SHA256, stored once, and outbound messages POSTed to the gateway's URL."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.channels import create_channel
from app.domain.events import MessageReceived
from app.domain.orders import create_order, get_order
from app.providers.base import Outgoing, SendError
from app.providers.custom import PROVIDER
from tests.factories import make_company

SECRET = "whsec-custom-0123456789"


def signed(payload) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    return body, {
        "content-type": "application/json",
        "x-switchboard-signature": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }


@pytest.fixture
async def gateway(app):
    company = await make_company()
    channel = await create_channel(
        company.id,
        {
            "name": "Passerelle",
            "provider": "custom",
            "webhook_secret": SECRET,
            "cred_gateway_url": "http://127.0.0.1:9/send",
            "cred_token": "gw-token",
        },
    )
    return company, channel


async def test_the_seeds_webhook_payload_is_stored_once_and_confirms_an_order(client, gateway):
    company, channel = gateway
    order, _ = await create_order(
        company.id,
        {"phone": "+33612345678", "name": "Zoé", "items": [{"name": "Produit A", "price": "29.99", "quantity": 2}]},
    )
    # Exactly the seed's body: from as a WhatsApp JID, body, type.
    body, headers = signed({"from": "33612345678@s.whatsapp.net", "body": "Oui, je confirme", "type": "chat"})
    first = await client.post(f"/webhooks/custom/{channel.id}", content=body, headers=headers)
    assert first.status_code == 200 and first.json()["stored"] == 1, first.text
    again = await client.post(f"/webhooks/custom/{channel.id}", content=body, headers=headers)
    assert again.json()["duplicates"] == 1
    row = await sql.fetchrow("SELECT id, conversation_id, text, type FROM message WHERE direction = 'in'")
    assert (row["text"], row["type"]) == ("Oui, je confirme", "text")
    await react(MessageReceived(company.id, row["conversation_id"], row["id"]))
    # The order was asked on the company's only channel, the gateway: the customer's "oui" decides it.
    assert (await get_order(company.id, order["id"]))["status"] == "confirmed"
    # With an id, two identical texts are two messages.
    for n in (1, 2):
        body, headers = signed({"from": "+33612345678", "body": "merci", "type": "text", "id": f"gw-{n}"})
        assert (await client.post(f"/webhooks/custom/{channel.id}", content=body, headers=headers)).json()[
            "stored"
        ] == 1


async def test_refusals(client, gateway):
    company, channel = gateway
    body, headers = signed({"from": "+33612345678", "body": "x", "type": "text"})
    assert (
        await client.post(f"/webhooks/custom/{channel.id}", content=body, headers={"content-type": "application/json"})
    ).status_code == 401
    bad = {**headers, "x-switchboard-signature": "sha256=" + "0" * 64}
    assert (await client.post(f"/webhooks/custom/{channel.id}", content=body, headers=bad)).status_code == 403
    for payload in ([], {"nothing": 1}, "text"):
        body, headers = signed(payload)
        assert (await client.post(f"/webhooks/custom/{channel.id}", content=body, headers=headers)).status_code == 400
    body, headers = signed({"from": "not a phone", "body": "x"})
    assert (await client.post(f"/webhooks/custom/{channel.id}", content=body, headers=headers)).status_code == 200
    assert await sql.fetchval("SELECT count(*) FROM message") == 0


async def test_outbound_posts_to_the_gateway_and_statuses_come_back(client, gateway):
    company, channel = gateway
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if json.loads(request.content)["body"] == "busy":
            return httpx.Response(503)
        if json.loads(request.content)["body"] == "refuse":
            return httpx.Response(400, json={"error": "Number not on WhatsApp"})
        return httpx.Response(200, json={"id": "gw-out-1"})

    creds = {"gateway_url": "http://127.0.0.1:9/send", "token": "gw-token"}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        result = await PROVIDER.send(http, creds, Outgoing(to_phone="+33612345678", text="Bonjour"))
        assert result.provider_message_id == "gw-out-1"
        sent = seen[0]
        assert str(sent.url) == "http://127.0.0.1:9/send" and sent.headers["authorization"] == "Bearer gw-token"
        assert json.loads(sent.content)["to"] == "+33612345678" and json.loads(sent.content)["type"] == "text"
        expected = "sha256=" + hmac.new(b"gw-token", sent.content, hashlib.sha256).hexdigest()
        assert sent.headers["x-switchboard-signature"] == expected
        with pytest.raises(SendError) as busy:
            await PROVIDER.send(http, creds, Outgoing(to_phone="+33612345678", text="busy"))
        assert not busy.value.permanent
        with pytest.raises(SendError) as refused:
            await PROVIDER.send(http, creds, Outgoing(to_phone="+33612345678", text="refuse"))
        assert refused.value.permanent and refused.value.reason == "Number not on WhatsApp"
    # The gateway reports delivery with the id it gave.
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone) VALUES ($1, '+33612345678') RETURNING id", company.id
    )
    conv = await sql.fetchval(
        "INSERT INTO conversation (company_id, channel_id, contact_id) VALUES ($1, $2, $3) RETURNING id",
        company.id,
        channel.id,
        contact,
    )
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status,
                                provider_message_id)
           VALUES ($1, $2, $3, 'out', 'agent', 'text', 'Bonjour', 'sent', 'gw-out-1')""",
        company.id,
        channel.id,
        conv,
    )
    body, headers = signed({"statuses": [{"id": "gw-out-1", "status": "delivered"}]})
    assert (await client.post(f"/webhooks/custom/{channel.id}", content=body, headers=headers)).status_code == 200
    assert await sql.fetchval("SELECT status FROM message WHERE provider_message_id = 'gw-out-1'") == "delivered"


async def test_admin_creates_a_custom_gateway_channel_from_the_form(client, app):
    from tests.factories import make_user
    from tests.helpers import login, post_form

    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    form = await client.get("/admin/channels/new", params={"provider": "custom"})
    assert form.status_code == 200 and "Gateway URL" in form.text
    created = await post_form(
        client,
        "/admin/channels/",
        {"provider": "custom", "name": "Maison", "cred_gateway_url": "https://gw.example.com/send", "cred_token": ""},
    )
    assert created.status_code == 303, created.text
    assert await sql.fetchval("SELECT provider FROM channel WHERE name = 'Maison'") == "custom"
