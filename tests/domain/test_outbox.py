"""The outbox and sender worker against a fake provider server speaking the real formats."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from app.domain import sql
from app.domain.channels import create_channel
from app.domain.errors import ValidationError
from app.domain.messages import queue_message, receive_webhook, resend_message
from app.providers.base import InboundMessage, Parsed, StatusUpdate
from app.providers.sender import Sender
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
META_OK = json.loads((FIX / "meta/send_success_response.json").read_text())
TWILIO_OK = json.loads((FIX / "twilio/send_message_response_real_sms.json").read_text())


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


async def setup(provider: str, base: str, phone: str = "+972987654321"):
    company = await make_company()
    agent = await make_user(company, "supervisor")
    creds = {
        "meta": {
            "cred_phone_number_id": "1122",
            "cred_access_token": "tok",
            "cred_app_secret": "s",
            "cred_api_base": base + "/v21.0",
        },
        "twilio": {
            "cred_account_sid": "ACX",
            "cred_auth_token": "tt",
            "cred_from_number": "+14155238886",
            "cred_api_base": base,
        },
        "whapi": {"cred_token": "tok", "cred_api_base": base},
        "waha": {"cred_base_url": base, "cred_session": "default", "cred_api_key": "k"},
    }[provider]
    channel = await create_channel(company.id, {"name": provider, "provider": provider, **creds})
    await receive_webhook(
        channel, Parsed(messages=[InboundMessage(provider_message_id="in-1", phone=phone, type="text", text="hello")])
    )
    conv_id = await sql.fetchval("SELECT id FROM conversation WHERE channel_id = $1", channel.id)
    return company, agent, channel, conv_id


async def drain(sender: Sender, until, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await sender.run_once()
        if await until():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox did not reach the expected state in time")


async def status_of(message_id: int) -> str:
    return await sql.fetchval("SELECT status FROM message WHERE id = $1", message_id)


async def test_meta_send_stores_provider_id(app):
    async with FakeProvider(lambda r: json_answer(200, META_OK)) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("meta", fake.url)
        mid = await queue_message(company.id, conv, {"text": "Hello <b>there</b>"}, user_id=agent.id)
        assert await status_of(mid) == "pending"
        await Sender(client).run_once()
        row = await sql.fetchrow("SELECT status, provider_message_id, sent_at FROM message WHERE id = $1", mid)
        assert (row["status"], row["provider_message_id"]) == ("sent", "wamid.gBGGSFcCNEOPAgkO_KJ55r4w_ww") and row[
            "sent_at"
        ]
        [req] = fake.requests
        assert req.path == "/v21.0/1122/messages" and req.headers["authorization"] == "Bearer tok"
        assert req.json() == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "972987654321",
            "type": "text",
            "text": {"preview_url": False, "body": "Hello <b>there</b>"},
        }
        await Sender(client).run_once()
        assert len(fake.requests) == 1  # nothing is sent twice


async def test_outage_delays_but_loses_nothing(app):
    started = time.monotonic()
    delivered: list[str] = []

    def handler(req):
        if time.monotonic() - started < 1.5:
            return json_answer(503, {"message": "Service Unavailable"})
        delivered.append(parse_qs(req.body.decode())["Body"][0])
        return json_answer(201, {**TWILIO_OK, "sid": f"SM{len(fake.requests):032d}"})

    async with FakeProvider(handler) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("twilio", fake.url)
        ids = [await queue_message(company.id, conv, {"text": f"m{i}"}, user_id=agent.id) for i in range(3)]
        sender = Sender(client, retry_base=0.1, retry_cap=0.3, public_url="https://sb.example.com")

        async def all_sent():
            return all([await status_of(i) == "sent" for i in ids])

        await drain(sender, all_sent)
        assert len(fake.requests) > 3  # attempts failed during the outage
        assert delivered == ["m0", "m1", "m2"]  # each once, in order
        assert (
            len(
                {
                    r["provider_message_id"]
                    for r in await sql.fetch("SELECT provider_message_id FROM message WHERE direction = 'out'")
                }
            )
            == 3
        )
        body = parse_qs(fake.requests[-1].body.decode())
        assert body["StatusCallback"] == [f"https://sb.example.com/webhooks/twilio/{channel.id}"]
        assert body["To"] == ["whatsapp:+972987654321"] and body["From"] == ["whatsapp:+14155238886"]
        assert fake.requests[-1].headers["authorization"].startswith("Basic ")


async def test_retry_after_is_honoured(app):
    async with (
        FakeProvider(lambda r: json_answer(429, {}, {"retry-after": "30"})) as fake,
        httpx.AsyncClient() as client,
    ):
        company, agent, channel, conv = await setup("whapi", fake.url)
        mid = await queue_message(company.id, conv, {"text": "hi"}, user_id=agent.id)
        await Sender(client).run_once()
        wait = await sql.fetchval("SELECT extract(epoch FROM next_attempt_at - now()) FROM message WHERE id = $1", mid)
        assert 25 < wait <= 31 and await status_of(mid) == "pending"
        assert "Retrying" in await sql.fetchval("SELECT error_reason FROM message WHERE id = $1", mid)


async def test_timeout_is_retried(app):
    def handler(req):
        return json_answer(200, {"sent": True, "message": {"id": f"wh-{len(fake.requests)}"}})

    async with FakeProvider(handler) as fake, httpx.AsyncClient(timeout=0.3) as client:
        company, agent, channel, conv = await setup("whapi", fake.url)
        mid = await queue_message(company.id, conv, {"text": "hi"}, user_id=agent.id)
        fake.hang = 1.0
        await Sender(client, retry_base=0.05).run_once()
        assert await status_of(mid) == "pending"
        fake.hang = 0
        await asyncio.sleep(0.1)

        async def sent():
            return await status_of(mid) == "sent"

        await drain(Sender(client, retry_base=0.05), sent)
        assert len(fake.requests) >= 2


async def test_permanent_error_fails_with_reason_and_can_be_resent(app):
    error = json.loads((FIX / "meta/error_object_131047_reengagement.json").read_text())
    responses = [json_answer(400, {"error": error}), json_answer(200, META_OK)]
    async with FakeProvider(lambda r: responses.pop(0)) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("meta", fake.url)
        mid = await queue_message(company.id, conv, {"text": "late"}, user_id=agent.id)
        await Sender(client).run_once()
        row = await sql.fetchrow("SELECT status, error_code, error_reason FROM message WHERE id = $1", mid)
        assert (row["status"], row["error_code"]) == ("failed", "131047") and "24 hours" in row["error_reason"]
        await resend_message(company.id, mid)
        await Sender(client).run_once()
        assert await status_of(mid) == "sent" and len(fake.requests) == 2
        with pytest.raises(ValidationError):
            await resend_message(company.id, mid)


async def test_status_before_send_response_is_applied(app):
    async with FakeProvider(lambda r: json_answer(200, META_OK)) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("meta", fake.url)
        mid = await queue_message(company.id, conv, {"text": "quick"}, user_id=agent.id)
        # The provider's "delivered" webhook wins the race against its own send response.
        await receive_webhook(
            channel, Parsed(statuses=[StatusUpdate("wamid.gBGGSFcCNEOPAgkO_KJ55r4w_ww", "delivered")])
        )
        await Sender(client).run_once()
        assert await status_of(mid) == "delivered"
        assert await sql.fetchval("SELECT count(*) FROM pending_status") == 0


async def test_two_senders_never_send_twice(app):
    counter = iter(range(10_000))
    async with (
        FakeProvider(lambda r: json_answer(200, {"sent": True, "message": {"id": f"id-{next(counter)}"}})) as fake,
        httpx.AsyncClient() as client,
    ):
        company, agent, channel, conv = await setup("whapi", fake.url)
        convs = [conv]
        for i in range(9):
            await receive_webhook(
                channel,
                Parsed(
                    messages=[
                        InboundMessage(provider_message_id=f"in-x{i}", phone=f"+3361234567{i}", type="text", text="hi")
                    ]
                ),
            )
        convs = [r["id"] for r in await sql.fetch("SELECT id FROM conversation")]
        for c in convs:
            for j in range(3):
                await queue_message(company.id, c, {"text": f"{c}-{j}"}, user_id=agent.id)
        a, b = Sender(client, batch=4), Sender(client, batch=4)

        async def done():
            return await sql.fetchval("SELECT count(*) FROM message WHERE status = 'pending'") == 0

        deadline = time.monotonic() + 10
        while not await done() and time.monotonic() < deadline:
            await asyncio.gather(a.run_once(), b.run_once())
        texts = [r.json()["body"] for r in fake.requests]
        assert len(texts) == 30 and len(set(texts)) == 30
        for c in convs:  # per-conversation order
            mine = [t for t in texts if t.startswith(f"{c}-")]
            assert mine == [f"{c}-0", f"{c}-1", f"{c}-2"]


async def test_window_templates_and_limits(app):
    async with FakeProvider(lambda r: json_answer(200, META_OK)) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("meta", fake.url)
        with pytest.raises(ValidationError) as too_long:
            await queue_message(company.id, conv, {"text": "x" * 4097}, user_id=agent.id)
        assert "4096" in too_long.value.errors["text"]
        with pytest.raises(ValidationError):
            await queue_message(company.id, conv, {"text": "  "}, user_id=agent.id)
        await sql.execute("UPDATE conversation SET last_inbound_at = now() - interval '25 hours'")
        with pytest.raises(ValidationError) as closed:
            await queue_message(company.id, conv, {"text": "hi"}, user_id=agent.id)
        assert "24 hours" in closed.value.errors["text"]
        mid = await queue_message(
            company.id, conv, {"template_name": "hello_world", "template_language": "en_US"}, user_id=agent.id
        )
        await Sender(client).run_once()
        assert fake.requests[-1].json()["template"] == {"name": "hello_world", "language": {"code": "en_US"}}
        assert await status_of(mid) == "sent"
    async with FakeProvider(lambda r: json_answer(201, TWILIO_OK)) as fake:
        company, agent, channel, conv = await setup("twilio", fake.url, phone="+5511999999999")
        with pytest.raises(ValidationError) as twilio_long:
            await queue_message(company.id, conv, {"text": "x" * 1601}, user_id=agent.id)
        assert "1600" in twilio_long.value.errors["text"]


async def test_other_company_cannot_queue(app):
    async with FakeProvider() as fake:
        company, agent, channel, conv = await setup("whapi", fake.url)
        other = await make_company()
        from app.domain.errors import NotFound

        with pytest.raises(NotFound):
            await queue_message(other.id, conv, {"text": "hi"}, user_id=None)
