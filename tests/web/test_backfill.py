"""Backfill (issue 15): "Fetch missed messages" reads the provider's recent history of active chats
and stores what the webhooks missed, exactly once, in order, marked recovered. Fake providers on
127.0.0.1 answer with their documented list shapes."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from app.domain import sql
from app.domain.channels import create_channel
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer
from tests.helpers import login, post_form
from tests.web.test_webhooks import FIX, waha_headers

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


def waha_item(n: int, ts: int, text: str, from_me: bool = False) -> dict:
    # GET /api/{session}/chats/{chatId}/messages returns the webhook's message objects (NOWEB here).
    mid = f"3EB0HIST{n:012d}"
    return {
        "id": f"{'true' if from_me else 'false'}_5511988887777@c.us_{mid}",
        "timestamp": ts,
        "from": "5511988887777@c.us",
        "fromMe": from_me,
        "body": text,
        "hasMedia": False,
        "_data": {
            "key": {"remoteJid": "5511988887777@s.whatsapp.net", "fromMe": from_me, "id": mid},
            "message": {"conversation": text},
        },
    }


async def test_fetch_missed_messages_waha_once_in_order(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    t0 = int(time.time())
    history = [
        waha_item(3, t0 + 2, "third"),
        waha_item(2, t0 + 1, "second, answered", True),
        waha_item(1, t0, "first"),
    ]  # newest first, as WAHA lists them
    async with FakeProvider(
        lambda r: json_answer(200, history) if "/chats/" in r.path else json_answer(404, {})
    ) as fake:
        channel = await create_channel(
            company.id,
            {
                "name": "W",
                "provider": "waha",
                "cred_base_url": fake.url,
                "cred_session": "default",
                "webhook_secret": SECRET,
            },
        )
        # The first message came by webhook; the other two were missed during an outage.
        body = json.dumps({"event": "message", "session": "default", "engine": "NOWEB", "payload": history[2]}).encode()
        assert (
            await client.post(f"/webhooks/waha/{channel.id}", content=body, headers=waha_headers(body))
        ).status_code == 200
        await login(client, admin.email)
        page = await client.get(f"/admin/channels/{channel.id}/edit")
        assert "Fetch missed messages" in page.text
        r = await post_form(client, f"/admin/channels/{channel.id}/backfill")
        assert r.status_code == 303
        again = await post_form(client, f"/admin/channels/{channel.id}/backfill")
        assert again.status_code == 303
        page = await client.get(f"/admin/channels/{channel.id}/edit")
    assert "0 missed messages recovered." in page.text
    assert any("/api/default/chats/5511988887777@c.us/messages" in q.path for q in fake.requests)
    rows = await sql.fetch("SELECT text, direction, data, created_at FROM message ORDER BY created_at, id")
    assert [(r["text"], r["direction"]) for r in rows] == [
        ("first", "in"),
        ("second, answered", "out"),
        ("third", "in"),
    ]
    assert [json.loads(r["data"]).get("recovered", False) for r in rows] == [False, True, True]
    assert await sql.fetchval("SELECT count(DISTINCT conversation_id) FROM message") == 1


async def test_fetch_missed_messages_whapi_and_twilio_lists(client):
    company = await make_company()
    whapi_list = {
        "messages": [json.loads((FIX / "whapi/webhook_messages_text_incoming.json").read_text())["messages"][0]],
        "count": 1,
        "total": 1,
    }
    twilio_list = {
        "messages": [
            {
                "sid": "SM00000000000000000000000000000001",
                "from": "whatsapp:+919984351847",
                "to": "whatsapp:+14155238886",
                "body": "hello from twilio",
                "direction": "inbound",
                "num_media": "0",
                "date_sent": "Tue, 08 Dec 2026 00:10:00 +0000",
            }
        ]
    }

    def handler(r):
        if r.path.startswith("/messages/list/"):
            return json_answer(200, whapi_list)
        if "/Messages.json" in r.path:
            return json_answer(200, twilio_list)
        return json_answer(404, {})

    import httpx

    from app.domain.backfill import backfill
    from app.domain.channels import get_channel_for_webhook

    async with FakeProvider(handler) as fake, httpx.AsyncClient() as http:
        whapi = await create_channel(
            company.id,
            {"name": "H", "provider": "whapi", "cred_token": "t", "cred_api_base": fake.url, "webhook_secret": SECRET},
        )
        twilio = await create_channel(
            company.id,
            {
                "name": "T",
                "provider": "twilio",
                "cred_account_sid": "ACX",
                "cred_auth_token": "tt",
                "cred_from_number": "+14155238886",
                "cred_api_base": fake.url,
                "webhook_secret": SECRET,
            },
        )
        for ch in (whapi, twilio):
            contact = await sql.fetchval(
                "INSERT INTO contact (company_id, phone) VALUES ($1, '+919984351847') "
                "ON CONFLICT (company_id, phone) DO UPDATE SET phone = excluded.phone RETURNING id",
                company.id,
            )
            await sql.execute(
                "INSERT INTO conversation (company_id, channel_id, contact_id) VALUES ($1, $2, $3)",
                company.id,
                ch.id,
                contact,
            )
        w = await backfill(await get_channel_for_webhook(whapi.id), http)
        t = await backfill(await get_channel_for_webhook(twilio.id), http)
        t2 = await backfill(await get_channel_for_webhook(twilio.id), http)
    assert (w.recovered, t.recovered, t2.recovered, t2.already) == (1, 1, 0, 1)
    texts = {r["text"] for r in await sql.fetch("SELECT text FROM message")}
    assert texts == {"Hello world", "hello from twilio"}


async def test_meta_says_it_has_no_history(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    channel = await create_channel(
        company.id,
        {
            "name": "M",
            "provider": "meta",
            "cred_phone_number_id": "1",
            "cred_access_token": "t",
            "cred_app_secret": "s",
            "cred_api_base": "http://127.0.0.1:9/v21.0",
            "webhook_secret": SECRET,
        },
    )
    await login(client, admin.email)
    page = await client.get(f"/admin/channels/{channel.id}/edit")
    assert "has no message history" in page.text and "Fetch missed messages" not in page.text


async def test_session_back_to_working_fetches_what_it_missed(client):
    import asyncio

    company = await make_company()
    history = [waha_item(7, int(time.time()), "written during the outage")]
    async with FakeProvider(
        lambda r: json_answer(200, history) if "/chats/" in r.path else json_answer(404, {})
    ) as fake:
        channel = await create_channel(
            company.id,
            {
                "name": "W",
                "provider": "waha",
                "cred_base_url": fake.url,
                "cred_session": "default",
                "webhook_secret": SECRET,
            },
        )
        contact = await sql.fetchval(
            "INSERT INTO contact (company_id, phone) VALUES ($1, '+5511988887777') RETURNING id", company.id
        )
        await sql.execute(
            "INSERT INTO conversation (company_id, channel_id, contact_id) VALUES ($1, $2, $3)",
            company.id,
            channel.id,
            contact,
        )
        for status in ("FAILED", "WORKING"):
            body = json.dumps({"event": "session.status", "session": "default", "payload": {"status": status}}).encode()
            r = await client.post(f"/webhooks/waha/{channel.id}", content=body, headers=waha_headers(body))
            assert r.status_code == 200
        for _ in range(100):  # the backfill runs after the webhook is answered
            if await sql.fetchval("SELECT count(*) FROM message"):
                break
            await asyncio.sleep(0.05)
    row = await sql.fetchrow("SELECT text, data FROM message")
    assert row["text"] == "written during the outage" and json.loads(row["data"])["recovered"] is True
