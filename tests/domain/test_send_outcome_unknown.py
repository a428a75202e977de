"""Outbound after a crash or a lost answer (issue 15, defect 9): a send whose outcome is unknown is
never repeated blindly. Fault tests against a fake provider on 127.0.0.1 that keeps what it got."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
import pytest

from app.domain import sql
from app.domain.channels import get_channel_for_webhook
from app.domain.messages import queue_message, receive_webhook, resend_message
from app.domain.outbox import claim_due
from app.providers.base import InboundMessage, Outgoing, Parsed
from app.providers.sender import Sender
from tests.domain.test_outbox import setup, status_of
from tests.fake_provider import FakeProvider, json_answer


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


class Phone:
    """A provider that keeps every message it accepted and lists them back (WAHA or Whapi shape)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.accepted: list[dict] = []

    def sends(self) -> int:
        return len(self.accepted)

    def __call__(self, r):
        if r.method == "POST":
            body = r.json()
            n = len(self.accepted) + 1
            item = {
                "n": n,
                "text": body.get("text") or body.get("body"),
                "at": int(time.time()),
            }
            self.accepted.append(item)
            if self.provider == "waha":
                return json_answer(
                    201,
                    {
                        "key": {
                            "remoteJid": "972987654321@s.whatsapp.net",
                            "fromMe": True,
                            "id": f"W{n}",
                        }
                    },
                )
            return json_answer(200, {"sent": True, "message": {"id": f"H{n}"}})
        if self.provider == "waha":  # GET /api/default/chats/{chat}/messages
            return json_answer(
                200,
                [
                    {
                        "id": f"true_972987654321@c.us_W{a['n']}",
                        "fromMe": True,
                        "body": a["text"],
                        "timestamp": a["at"],
                    }
                    for a in self.accepted
                ],
            )
        return json_answer(
            200,
            {
                "messages": [
                    {
                        "id": f"H{a['n']}",
                        "from_me": True,
                        "type": "text",
                        "text": {"body": a["text"]},
                        "timestamp": a["at"],
                        "chat_id": "972987654321@s.whatsapp.net",
                    }
                    for a in self.accepted
                ],
                "count": len(self.accepted),
            },
        )


async def expire_lease(message_id: int) -> None:
    await sql.execute("UPDATE message SET next_attempt_at = now() WHERE id = $1", message_id)


@pytest.mark.parametrize("provider", ["waha", "whapi"])
async def test_timeout_after_the_provider_accepted_sends_once(app, provider):
    phone = Phone(provider)
    async with FakeProvider(phone) as fake, httpx.AsyncClient(timeout=0.3) as client:
        company, agent, channel, conv = await setup(provider, fake.url)
        mid = await queue_message(company.id, conv, {"text": "Your order ships today"}, user_id=agent.id)
        fake.hang = 1.0  # the provider takes the message, its answer never comes in time
        await Sender(client, retry_base=0.01).run_once()
        fake.hang = 0
        await asyncio.sleep(0.9)  # the provider finishes taking it after our timeout
        assert phone.sends() == 1 and await status_of(mid) == "pending"
        await expire_lease(mid)
        for _ in range(3):
            await Sender(client, retry_base=0.01).run_once()
            await expire_lease(mid)
    assert phone.sends() == 1  # 0 duplicates to the customer
    row = await sql.fetchrow(
        "SELECT status, provider_message_id, send_started_at FROM message WHERE id = $1",
        mid,
    )
    assert row["status"] == "sent" and row["provider_message_id"] == ("W1" if provider == "waha" else "H1")
    assert row["send_started_at"] is None


async def test_crash_between_the_call_and_its_record_sends_once(app):
    """The process dies after the provider accepted and before it recorded anything."""
    phone = Phone("whapi")
    async with FakeProvider(phone) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("whapi", fake.url)
        mid = await queue_message(company.id, conv, {"text": "See you at 10"}, user_id=agent.id)
        [claimed] = await claim_due(10, 120)  # the dying process's claim, committed
        ch = await get_channel_for_webhook(channel.id)
        await ch.impl.send(
            client,
            ch.credentials,
            Outgoing(to_phone=claimed.to_phone, text=claimed.text),
        )
        # ... kill -9 here: nothing recorded. The lease runs out:
        await expire_lease(mid)
        await Sender(client).run_once()
        await expire_lease(mid)
        await Sender(client).run_once()
    assert phone.sends() == 1
    assert await status_of(mid) == "sent"


async def test_not_at_the_provider_after_a_crash_is_sent(app):
    """The process died before the request left: the list shows nothing, so it is sent (once)."""
    phone = Phone("waha")
    async with FakeProvider(phone) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("waha", fake.url)
        mid = await queue_message(company.id, conv, {"text": "Hello"}, user_id=agent.id)
        await claim_due(10, 120)
        await expire_lease(mid)
        await Sender(client).run_once()
    assert phone.sends() == 1 and await status_of(mid) == "sent"


async def test_meta_cannot_list_so_the_agent_is_told_and_may_resend(app):
    phone_sends: list = []

    def handler(r):
        phone_sends.append(r)
        return json_answer(
            200,
            {
                "messaging_product": "whatsapp",
                "messages": [{"id": f"wamid.{len(phone_sends)}"}],
            },
        )

    async with FakeProvider(handler) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("meta", fake.url)
        mid = await queue_message(company.id, conv, {"text": "Your code is 1234"}, user_id=agent.id)
        await claim_due(10, 120)  # claimed, then the process died: did Meta get it? Nobody knows.
        await expire_lease(mid)
        await Sender(client).run_once()
        row = await sql.fetchrow("SELECT status, error_code, error_reason FROM message WHERE id = $1", mid)
        assert (row["status"], row["error_code"]) == ("failed", "unknown")
        assert row["error_reason"].startswith("May not have been sent")
        assert phone_sends == []  # never resent by itself
        await resend_message(company.id, mid)  # the agent's Resend button
        await Sender(client).run_once()
    assert len(phone_sends) == 1 and await status_of(mid) == "sent"


async def test_the_providers_echo_settles_an_unknown_send(app):
    """WAHA's message.any echo of our message (same text, the provider id) arrives after the crash."""
    phone = Phone("waha")
    async with FakeProvider(phone) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("waha", fake.url)
        mid = await queue_message(company.id, conv, {"text": "Parcel left the depot"}, user_id=agent.id)
        await claim_due(10, 120)
        ch = await get_channel_for_webhook(channel.id)
        echo = InboundMessage(
            provider_message_id="3EB0ECHO",
            phone="+972987654321",
            type="text",
            text="Parcel left the depot",
            outbound=True,
        )
        result = await receive_webhook(ch, Parsed(messages=[echo]))
        assert result.stored == 1
        await expire_lease(mid)
        await Sender(client).run_once()
    assert phone.sends() == 0
    rows = await sql.fetch("SELECT id, status, provider_message_id FROM message WHERE direction = 'out'")
    assert [(r["id"], r["status"], r["provider_message_id"]) for r in rows] == [(mid, "sent", "3EB0ECHO")]
