"""Outbound webhooks: queued with the change, signed, retried with backoff, replayed; conversations too."""

import dataclasses
import json

import httpx
import pytest

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.channels import get_channel
from app.domain.integrations import claim_due, create_endpoint, replay_delivery, set_endpoint_active, sign, verify
from app.domain.messages import receive_webhook
from app.domain.orders import create_order, decide_order
from app.providers.base import InboundMessage, Parsed
from app.providers.webhook_sender import WebhookSender
from tests.api.conftest import make_shop
from tests.fake_provider import FakeProvider, json_answer

ITEMS = [{"name": "Lampe", "price": "19.00", "quantity": 3}]


@pytest.fixture
def settings(settings):
    """No background workers in the app: these tests run the webhook worker step by step."""
    return dataclasses.replace(settings, sender_enabled=False)


def test_signature_round_trip_and_tampering():
    body = b'{"event":"order.confirmed"}'
    header = sign("whsec_x", body, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify("whsec_x", body, header, now=1_700_000_100)
    assert not verify("whsec_x", body + b" ", header, now=1_700_000_100)
    assert not verify("whsec_y", body, header, now=1_700_000_100)
    assert not verify("whsec_x", body, header, now=1_700_001_000)  # too old: a replayed capture
    assert not verify("whsec_x", body, "garbage", now=1_700_000_100)


async def test_order_events_are_delivered_signed_once(app):
    shop = await make_shop()
    async with FakeProvider() as receiver:
        endpoint = await create_endpoint(
            shop.company.id, {"url": receiver.url + "/hooks", "events": ["order.created", "order.confirmed"]}
        )
        order, _ = await create_order(shop.company.id, {"phone": "+33612345678", "external_id": "W-1", "items": ITEMS})
        await decide_order(shop.company.id, order["id"], "confirm", by="api")
        async with httpx.AsyncClient() as http:
            worker = WebhookSender(http)
            assert await worker.run_once() == 2
            assert await worker.run_once() == 0  # delivered: nothing left
    assert [r.headers["x-switchboard-event"] for r in receiver.requests] == ["order.created", "order.confirmed"]
    for req in receiver.requests:
        assert req.path == "/hooks" and verify(endpoint.secret, req.body, req.headers["x-switchboard-signature"])
    confirmed = receiver.requests[1].json()
    assert confirmed["event"] == "order.confirmed" and confirmed["data"]["external_id"] == "W-1"
    assert confirmed["data"]["status"] == "confirmed" and confirmed["data"]["total"] == "57.00"
    assert confirmed["id"] == int(receiver.requests[1].headers["x-switchboard-delivery"])
    rows = await sql.fetch("SELECT status, response_status FROM webhook_delivery ORDER BY id")
    assert [(r["status"], r["response_status"]) for r in rows] == [("delivered", 200)] * 2


async def test_failures_back_off_then_fail_and_replay_sends_again(app):
    shop = await make_shop()
    answers = [500, 500, 200]
    async with FakeProvider(lambda r: json_answer(answers.pop(0), {})) as receiver:
        await create_endpoint(shop.company.id, {"url": receiver.url, "events": ["order.created"]})
        await create_order(shop.company.id, {"phone": "+33612345678", "items": ITEMS})
        async with httpx.AsyncClient() as http:
            worker = WebhookSender(http, max_attempts=2, retry_base=5)
            assert await worker.run_once() == 1
            row = await sql.fetchrow(
                "SELECT status, attempts, response_status, next_attempt_at > now() + interval '3 seconds' AS later FROM webhook_delivery"
            )
            assert (row["status"], row["attempts"], row["response_status"], row["later"]) == ("pending", 1, 500, True)
            assert await worker.run_once() == 0  # not due yet
            await sql.execute("UPDATE webhook_delivery SET next_attempt_at = now()")
            assert await worker.run_once() == 1
            row = await sql.fetchrow("SELECT id, company_id, status, last_error FROM webhook_delivery")
            assert (row["status"], row["last_error"]) == ("failed", "HTTP 500")
            await replay_delivery(row["company_id"], row["id"])
            assert await worker.run_once() == 1
    assert len(receiver.requests) == 3
    assert await sql.fetchval("SELECT status FROM webhook_delivery") == "delivered"


async def test_unreachable_receiver_is_retried(app):
    shop = await make_shop()
    await create_endpoint(shop.company.id, {"url": "http://127.0.0.1:9/none", "events": ["order.created"]})
    await create_order(shop.company.id, {"phone": "+33612345678", "items": ITEMS})
    async with httpx.AsyncClient() as http:
        assert await WebhookSender(http).run_once() == 1
    row = await sql.fetchrow("SELECT status, response_status, last_error FROM webhook_delivery")
    assert row["status"] == "pending" and row["response_status"] is None and "ConnectError" in row["last_error"]


async def test_claims_never_overlap(app):
    shop = await make_shop()
    await create_endpoint(shop.company.id, {"url": "http://127.0.0.1:9/", "events": ["order.created"]})
    for n in range(5):
        await create_order(shop.company.id, {"phone": f"+3361234567{n}", "items": ITEMS})
    first, second = await claim_due(3), await claim_due(3)
    assert len(first) == 3 and len(second) == 2 and not {d.id for d in first} & {d.id for d in second}


async def test_a_paused_endpoints_deliveries_wait(app):
    shop = await make_shop()
    endpoint = await create_endpoint(shop.company.id, {"url": "http://127.0.0.1:9/", "events": ["order.created"]})
    await create_order(shop.company.id, {"phone": "+33612345670", "items": ITEMS})
    await set_endpoint_active(shop.company.id, endpoint.id, False)
    assert await claim_due() == []
    await set_endpoint_active(shop.company.id, endpoint.id, True)
    assert len(await claim_due()) == 1


async def test_conversation_changes_and_only_subscribed_active_endpoints(app):
    shop = await make_shop()
    other = await make_shop("Other")
    await create_endpoint(
        shop.company.id, {"url": "http://x.example/a", "events": ["conversation.opened", "conversation.queued"]}
    )
    await create_endpoint(shop.company.id, {"url": "http://x.example/b", "events": ["order.created"]})
    paused = await create_endpoint(shop.company.id, {"url": "http://x.example/c", "events": ["conversation.opened"]})
    await sql.execute("UPDATE webhook_endpoint SET active = false WHERE id = $1", paused.id)
    await create_endpoint(other.company.id, {"url": "http://x.example/o", "events": ["conversation.opened"]})
    channel = await get_channel(shop.company.id, shop.channel_id)
    await receive_webhook(
        channel,
        Parsed(
            messages=[
                InboundMessage(provider_message_id="m1", phone="+33611111111", name="Léa", type="text", text="Bonjour")
            ]
        ),
    )
    conv = await sql.fetchval("SELECT id FROM conversation WHERE company_id = $1", shop.company.id)
    await queue_conversation(shop.company.id, conv, shop.department.id)
    rows = await sql.fetch(
        """SELECT d.event, e.url, d.payload FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id
           ORDER BY d.id"""
    )
    events = [(r["event"], r["url"]) for r in rows]
    assert events[:2] == [("conversation.opened", "http://x.example/a"), ("conversation.queued", "http://x.example/a")]
    # conversation.queued is followed by the assignment to the online agent, to which /a did not subscribe.
    assert all(url == "http://x.example/a" for _, url in events)
    payload = json.loads(rows[1]["payload"])
    assert payload["data"]["conversation_id"] == conv and payload["data"]["phone"] == "+33611111111"
    assert payload["company_id"] == shop.company.id
