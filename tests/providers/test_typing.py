"""Typing indicators at the provider edge: presence webhooks parsed from the documented shapes,
and the requests that show the business's "typing…" (sent for real to a fake provider server).
Fixtures: tests/fixtures/providers (SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app.providers import meta, sandbox, twilio, waha, whapi
from app.providers.base import SendError, TypingChat, TypingUpdate, WebhookRequest
from tests.fake_provider import FakeProvider, json_answer

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"


def jreq(path: str) -> WebhookRequest:
    return WebhookRequest(
        url="https://sb.test/webhooks/x/1", headers={"content-type": "application/json"}, body=(FIX / path).read_bytes()
    )


def body(data: dict) -> WebhookRequest:
    return WebhookRequest(url="", headers={"content-type": "application/json"}, body=json.dumps(data).encode())


# Customer → agent: presence webhooks --------------------------------------------------------------


@pytest.mark.parametrize("name,state", [("typing_assembled", "typing"), ("paused_assembled", "paused")])
def test_waha_presence_update(name, state):
    parsed = waha.PROVIDER.parse(jreq(f"waha/webhook_presence_update_{name}.json"))
    assert parsed.typing == [TypingUpdate(phone="+11111111111", state=state)]
    assert not parsed.messages and not parsed.statuses and not parsed.ignored


def test_waha_presence_of_a_group_is_ignored():
    parsed = waha.PROVIDER.parse(jreq("waha/webhook_presence_update_group_docs.json"))
    assert parsed.typing == [] and parsed.ignored == ["group presence"]


@pytest.mark.parametrize(
    "payload,expected",
    [
        (
            {
                "id": "11111111111@c.us",
                "presences": [{"participant": "11111111111@c.us", "lastKnownPresence": "recording"}],
            },
            "recording",
        ),
        (
            {
                "id": "11111111111@c.us",
                "presences": [{"participant": "11111111111@c.us", "lastKnownPresence": "online"}],
            },
            "paused",
        ),
        ({"id": "11111111111@c.us", "presences": [{"lastKnownPresence": "dancing"}]}, None),
        ({"id": "11111111111@c.us", "presences": "typing"}, None),
        ({"id": "11111111111@c.us"}, None),
        ({"id": "status@broadcast", "presences": [{"lastKnownPresence": "typing"}]}, None),
    ],
)
def test_waha_presence_states_and_odd_shapes(payload, expected):
    parsed = waha.PROVIDER.parse(body({"event": "presence.update", "payload": payload}))
    assert [u.state for u in parsed.typing] == ([expected] if expected else [])
    if expected is None:
        assert parsed.ignored


def test_waha_presence_of_an_lid_chat_keeps_the_alias():
    parsed = waha.PROVIDER.parse(
        body(
            {
                "event": "presence.update",
                "payload": {
                    "id": "153219082764294@lid",
                    "presences": [{"participant": "153219082764294@lid", "lastKnownPresence": "typing"}],
                },
            }
        )
    )
    assert parsed.typing == [TypingUpdate(phone=None, state="typing", alias="153219082764294@lid")]


@pytest.mark.parametrize("name,state", [("typing", "typing"), ("recording", "recording"), ("online", "paused")])
def test_whapi_presences(name, state):
    parsed = whapi.PROVIDER.parse(jreq(f"whapi/webhook_presences_{name}.json"))
    assert parsed.typing == [TypingUpdate(phone="+919984351847", state=state)]
    assert not parsed.messages and not parsed.statuses and not parsed.ignored


def test_whapi_presence_odd_shapes_are_ignored():
    parsed = whapi.PROVIDER.parse(
        body(
            {
                "presences": [
                    {"contact_id": "120363419669512474@g.us", "status": "typing"},
                    {"contact_id": "919984351847", "status": "juggling"},
                    "x",
                    None,
                ]
            }
        )
    )
    assert parsed.typing == [] and len(parsed.ignored) == 2
    assert whapi.PROVIDER.parse(body({"presences": "typing"})).typing == []


def test_meta_and_twilio_have_no_presence_webhooks():
    # Meta and Twilio send no customer typing: their webhooks never carry any.
    assert meta.PROVIDER.parse(jreq("meta/webhook_message_text.json")).typing == []


# Agent → customer: the requests ----------------------------------------------------------------

CHAT = TypingChat(to_phone="+111111111", last_inbound_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA")


def test_waha_typing_requests():
    creds = {"base_url": "https://waha.test/", "session": "default", "api_key": "K"}
    start = waha.PROVIDER.build_typing(creds, CHAT, True)
    assert (start.method, str(start.url)) == ("POST", "https://waha.test/api/startTyping")
    assert json.loads(start.content) == json.loads((FIX / "waha/start_typing_request_assembled.json").read_text())
    assert start.headers["x-api-key"] == "K"
    stop = waha.PROVIDER.build_typing(creds, CHAT, False)
    assert (stop.method, str(stop.url), json.loads(stop.content)) == (
        "POST",
        "https://waha.test/api/stopTyping",
        {"session": "default", "chatId": "111111111@c.us"},
    )


def test_whapi_typing_requests():
    creds = {"token": "T", "api_base": "https://gate.test"}
    on = whapi.PROVIDER.build_typing(creds, CHAT, True)
    assert (on.method, str(on.url), json.loads(on.content)) == (
        "PUT",
        "https://gate.test/presences/111111111",
        {"presence": "typing"},
    )
    assert on.headers["authorization"] == "Bearer T"
    off = whapi.PROVIDER.build_typing(creds, CHAT, False)
    assert json.loads(off.content) == {"presence": "paused"}


def test_meta_typing_request_marks_the_last_message_read():
    creds = {"phone_number_id": "106540352242922", "access_token": "EAAA", "api_base": "https://graph.test/v21.0"}
    request = meta.PROVIDER.build_typing(creds, CHAT, True)
    assert (request.method, str(request.url)) == ("POST", "https://graph.test/v21.0/106540352242922/messages")
    assert json.loads(request.content) == json.loads((FIX / "meta/typing_indicator_request.json").read_text())
    assert request.headers["authorization"] == "Bearer EAAA"
    # No stop call at Meta, and nothing to mark read without a customer message.
    assert meta.PROVIDER.build_typing(creds, CHAT, False) is None
    assert meta.PROVIDER.build_typing(creds, TypingChat(to_phone="+1555"), True) is None


def test_who_supports_typing():
    assert [
        p.name
        for p in (whapi.PROVIDER, waha.PROVIDER, meta.PROVIDER, twilio.PROVIDER, sandbox.PROVIDER)
        if p.supports_typing
    ] == ["whapi", "waha", "meta", "sandbox"]
    assert twilio.PROVIDER.build_typing({}, CHAT, True) is None
    assert not meta.PROVIDER.typing_stops and waha.PROVIDER.typing_stops and whapi.PROVIDER.typing_stops


async def test_send_typing_goes_over_http_once_and_fails_without_retry():
    async with FakeProvider(lambda r: json_answer(200, {"result": "success"})) as fake:
        async with httpx.AsyncClient() as client:
            creds = {"base_url": fake.url, "session": "s1"}
            assert await waha.PROVIDER.send_typing(client, creds, CHAT, True) is True
            assert [(r.method, r.path, r.json()) for r in fake.requests] == [
                ("POST", "/api/startTyping", {"session": "s1", "chatId": "111111111@c.us"})
            ]
            fake.handler = lambda r: json_answer(500, {"error": "down"})
            with pytest.raises(SendError):
                await waha.PROVIDER.send_typing(client, creds, CHAT, False)
            assert len(fake.requests) == 2  # one try: no retry
            fake.hang = 1.0
            with pytest.raises(SendError) as slow:
                await waha.PROVIDER.send_typing(client, creds, CHAT, True, timeout=0.2)
            assert slow.value.code == "timeout"
