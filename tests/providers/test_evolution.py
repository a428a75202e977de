"""Evolution API, the fifth provider: its documented webhook events, apikey sends, @lid, session state."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest

from app.domain import sql
from app.domain.channels import create_channel
from app.domain.messages import queue_message
from app.providers import evolution
from app.providers.base import Outgoing, WebhookRejected, WebhookRequest
from app.providers.sender import Sender
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers" / "evolution"
SECRET = "whsec-evolution-0123456789"
P = evolution.PROVIDER


def req(name: str, headers: dict | None = None, query: dict | None = None) -> WebhookRequest:
    return WebhookRequest(
        url="",
        headers={"content-type": "application/json", **(headers or {})},
        body=(FIX / name).read_bytes(),
        query=query or {},
    )


def test_messages_upsert_text_image_reaction():
    [m] = P.parse(req("webhook_messages_upsert_text.json")).messages
    assert (m.provider_message_id, m.phone, m.type, m.text, m.name, m.outbound) == (
        "3EB0A1B2C3D4E5F60001",
        "+5511988887777",
        "text",
        "Oi, meu pedido chegou?",
        "Ana",
        False,
    )
    [img] = P.parse(req("webhook_messages_upsert_image.json")).messages
    assert (img.type, img.text, img.media.mime_type) == (
        "image",
        "Foto do produto",
        "image/jpeg",
    )
    assert img.media.url.startswith("https://mmg.whatsapp.net/")
    [r] = P.parse(req("webhook_messages_upsert_reaction.json")).messages
    assert (r.type, r.text, r.reaction_to) == (
        "reaction",
        "\u2764\ufe0f",
        "3EB0FFFF000000000001",
    )


def test_lid_with_remote_jid_alt_gives_both_ids():
    [m] = P.parse(req("webhook_messages_upsert_lid_alt.json")).messages
    assert (m.phone, m.alias) == ("+5511988887777", "132375270973606@lid")


def test_send_message_echo_statuses_and_session_events():
    [echo] = P.parse(req("webhook_send_message_echo.json")).messages
    assert echo.outbound and echo.phone == "+5511988887777" and echo.name == ""
    [s] = P.parse(req("webhook_messages_update_read.json")).statuses
    assert (s.provider_message_id, s.status) == ("3EB0FFFF000000000001", "read")
    opened = P.parse(req("webhook_connection_update_open.json"))
    assert (opened.session_state, opened.session_detail) == ("working", "open")
    assert P.parse(req("webhook_connection_update_close.json")).session_state == "down"
    qr = P.parse(req("webhook_qrcode_updated.json"))
    assert qr.session_state == "pairing" and qr.qr.startswith("2@y8eK")


def test_webhook_secret_header_or_token():
    P.verify(
        {},
        SECRET,
        req("webhook_messages_upsert_text.json", {"x-webhook-secret": SECRET}),
    )
    P.verify({}, SECRET, req("webhook_messages_upsert_text.json", query={"token": SECRET}))
    with pytest.raises(WebhookRejected) as e:
        P.verify(
            {},
            SECRET,
            req("webhook_messages_upsert_text.json", {"x-webhook-secret": "nope"}),
        )
    assert e.value.status == 403
    with pytest.raises(WebhookRejected) as e:
        P.verify({}, SECRET, req("webhook_messages_upsert_text.json"))
    assert e.value.status == 401


def test_build_send_text_media_reaction_with_apikey():
    creds = {"base_url": "http://evo.test/", "instance": "shop", "api_key": "B6D7"}
    text = P.build_send(creds, Outgoing(to_phone="+5511988887777", text="Chega amanhã!"))
    assert str(text.url) == "http://evo.test/message/sendText/shop" and text.headers["apikey"] == "B6D7"
    assert json.loads(text.content) == json.loads((FIX / "send_text_request.json").read_text())
    media = P.build_send(
        creds,
        Outgoing(
            to_phone="+5511988887777",
            type="document",
            text="NF",
            media_content=b"%PDF",
            media_mime="application/pdf",
            media_filename="nf.pdf",
        ),
    )
    body = json.loads(media.content)
    assert str(media.url).endswith("/message/sendMedia/shop")
    assert (body["mediatype"], body["fileName"], body["caption"], body["media"]) == (
        "document",
        "nf.pdf",
        "NF",
        "JVBERg==",
    )
    reaction = P.build_send(
        creds,
        Outgoing(
            to_phone="+5511988887777",
            type="reaction",
            reaction="👍",
            reaction_to="3EB0A1B2C3D4E5F60001",
        ),
    )
    assert str(reaction.url).endswith("/message/sendReaction/shop")
    assert json.loads(reaction.content) == {
        "key": {
            "remoteJid": "5511988887777@s.whatsapp.net",
            "fromMe": False,
            "id": "3EB0A1B2C3D4E5F60001",
        },
        "reaction": "👍",
    }
    lid = P.build_send(creds, Outgoing(to_phone="", to_alias="132375270973606@lid", text="oi"))
    assert json.loads(lid.content)["number"] == "132375270973606@lid"


def test_read_send_response():
    ok = httpx.Response(201, json=json.loads((FIX / "send_text_response.json").read_text()))
    assert P.read_send_response(ok).provider_message_id == "3EB0FFFF000000000001"
    refused = httpx.Response(
        400,
        json={
            "status": 400,
            "error": "Bad Request",
            "response": {"message": [{"exists": False, "number": "5511"}]},
        },
    )
    with pytest.raises(Exception) as e:
        P.read_send_response(refused)
    assert e.value.permanent


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


async def test_evolution_through_the_app_and_the_sender(client):
    company = await make_company()
    agent = await make_user(company, "supervisor")
    answer = json.loads((FIX / "send_text_response.json").read_text())
    async with (
        FakeProvider(lambda r: json_answer(201, answer)) as fake,
        httpx.AsyncClient() as http,
    ):
        channel = await create_channel(
            company.id,
            {
                "name": "Evo",
                "provider": "evolution",
                "cred_base_url": fake.url,
                "cred_instance": "shop",
                "cred_api_key": "B6D7",
                "webhook_secret": SECRET,
            },
        )
        for name in (
            "webhook_messages_upsert_text.json",
            "webhook_messages_upsert_text.json",
        ):
            body = (FIX / name).read_bytes()
            r = await client.post(
                f"/webhooks/evolution/{channel.id}",
                content=body,
                headers={
                    "content-type": "application/json",
                    "x-webhook-secret": SECRET,
                },
            )
            assert r.status_code == 200
        assert await sql.fetchval("SELECT count(*) FROM message") == 1
        conv = await sql.fetchval("SELECT id FROM conversation")
        mid = await queue_message(company.id, conv, {"text": "Chega amanhã!"}, user_id=agent.id)
        await Sender(http).run_once()
        body = (FIX / "webhook_messages_update_read.json").read_bytes()
        r = await client.post(
            f"/webhooks/evolution/{channel.id}?token={SECRET}",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 200
    assert fake.requests[0].path == "/message/sendText/shop" and fake.requests[0].headers["apikey"] == "B6D7"
    row = await sql.fetchrow("SELECT status, provider_message_id FROM message WHERE id = $1", mid)
    assert (row["status"], row["provider_message_id"]) == (
        "read",
        "3EB0FFFF000000000001",
    )


async def test_session_state_asks_connection_state_then_connect_for_the_qr():
    state = {"value": "close"}

    def handler(r):
        if r.path == "/instance/connectionState/shop":
            return json_answer(200, {"instance": {"instanceName": "shop", "state": state["value"]}})
        if r.path == "/instance/connect/shop":
            return json_answer(
                200, {"pairingCode": None, "code": "2@evo-raw-qr", "base64": "data:image/png;base64,AA==", "count": 1}
            )
        return json_answer(404, {})

    creds = {"instance": "shop", "api_key": "B6D7"}
    async with FakeProvider(handler) as fake, httpx.AsyncClient() as http:
        creds["base_url"] = fake.url
        assert await P.session_state(http, creds) == ("pairing", "close", "2@evo-raw-qr")
        state["value"] = "open"
        assert await P.session_state(http, creds) == ("working", "open", "")
    assert all(r.headers["apikey"] == "B6D7" for r in fake.requests)
