"""Typing indicators through the app: the composer's route (who may, CSRF, throttle, provider
calls to a fake provider server), presence webhooks (signatures, unknown contacts) reaching the
event bus, and the live hint's recipients. Nothing is stored for typing."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from app.domain import sql
from app.domain.channels import create_channel, ensure_sandbox_channel
from app.domain.events import TypingChanged
from app.domain.messages import receive_webhook
from app.domain.typing_indicators import THROTTLE, WATCHED, Throttle
from app.providers.base import InboundMessage, Parsed
from app.web import inbox, live
from tests.factories import make_company, make_department, make_user
from tests.fake_provider import FakeProvider, json_answer
from tests.helpers import csrf, login, post_form

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
SECRET = "whsec-typing-0123456789"
CUSTOMER = "+11111111111"  # the chat of the WAHA presence fixtures


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


@pytest.fixture(autouse=True)
def fresh_throttle():
    THROTTLE.clear()  # conversation ids restart with every test's database
    WATCHED.clear()
    yield
    THROTTLE.clear()
    WATCHED.clear()


@pytest.fixture
async def fake():
    async with FakeProvider(lambda r: json_answer(200, {"success": True})) as server:
        yield server


async def open_for(channel, holder, department, phone=CUSTOMER, provider_id="in-1") -> int:
    """The customer writes (the real ingestion path), then the conversation is the holder's."""
    await receive_webhook(
        channel,
        Parsed(
            messages=[
                InboundMessage(provider_message_id=provider_id, phone=phone, name="Zoé <b>", type="text", text="Hello")
            ]
        ),
    )
    conv_id = await sql.fetchval(
        "SELECT c.id FROM conversation c JOIN contact ct ON ct.id = c.contact_id "
        "WHERE c.channel_id = $1 AND ct.phone = $2",
        channel.id,
        phone,
    )
    await sql.execute(
        "UPDATE conversation SET status = 'assigned', assigned_user_id = $1, department_id = $2 WHERE id = $3",
        holder.id if holder else None,
        department.id,
        conv_id,
    )
    return conv_id


@pytest.fixture
async def desk(app, fake):
    company = await make_company()
    sales = await make_department(company, "Sales")
    holder = await make_user(company, presence="busy", departments=[sales])
    other = await make_user(company, presence="busy", departments=[sales])
    boss = await make_user(company, "supervisor")
    waha = await create_channel(
        company.id,
        {
            "name": "WAHA",
            "provider": "waha",
            "cred_base_url": fake.url,
            "cred_session": "default",
            "webhook_secret": SECRET,
        },
    )
    conv = await open_for(waha, holder, sales)
    return {
        "company": company,
        "sales": sales,
        "holder": holder,
        "other": other,
        "boss": boss,
        "waha": waha,
        "conv": conv,
    }


async def typing(client, conv_id, state="typing", **kwargs):
    return await post_form(client, f"/inbox/{conv_id}/typing", {"state": state}, **kwargs)


def calls(fake) -> list:
    return [(r.method, r.path, r.json()) for r in fake.requests]


# Agent → customer ----------------------------------------------------------------------------------


async def test_agent_typing_reaches_waha_throttled_and_stopped(client, desk, fake):
    await login(client, desk["holder"].email)
    first = await typing(client, desk["conv"])
    assert first.status_code == 204, first.text
    chat = {"session": "default", "chatId": "11111111111@c.us"}
    assert calls(fake) == [("POST", "/api/startTyping", chat)]
    # The browser sends one every 4 s; anything faster is not passed on.
    for _ in range(5):
        assert (await typing(client, desk["conv"])).status_code == 204
    assert len(fake.requests) == 1
    assert (await typing(client, desk["conv"], "paused")).status_code == 204
    assert calls(fake)[1:] == [("POST", "/api/stopTyping", chat)]
    # Nothing shown any more: a second "paused" sends nothing.
    assert (await typing(client, desk["conv"], "paused")).status_code == 204
    assert len(fake.requests) == 2
    # Nothing stored for typing.
    assert await sql.fetchval("SELECT count(*) FROM message WHERE direction = 'out'") == 0


async def test_supervisor_may_type_too(client, desk, fake):
    await login(client, desk["boss"].email)
    assert (await typing(client, desk["conv"])).status_code == 204
    assert [r.path for r in fake.requests] == ["/api/startTyping"]


async def test_provider_errors_are_swallowed_and_nothing_is_marked_failed(client, desk, fake, caplog):
    fake.handler = lambda r: json_answer(500, {"error": "session not working"})
    await login(client, desk["holder"].email)
    with caplog.at_level("INFO", logger="app.domain.typing_indicators"):
        response = await typing(client, desk["conv"])
    assert response.status_code == 204
    assert len(fake.requests) == 1  # one try, no retry
    assert "typing indicator not sent" in caplog.text
    assert await sql.fetchval("SELECT count(*) FROM message WHERE status = 'failed'") == 0


async def test_a_broken_provider_address_is_no_500(client, app):
    company = await make_company()
    sales = await make_department(company)
    holder = await make_user(company, departments=[sales])
    broken = await create_channel(
        company.id, {"name": "W", "provider": "waha", "cred_base_url": "http://127.0.0.1:1", "webhook_secret": SECRET}
    )
    # Saved before addresses were checked on save (app.netpolicy.check_url refuses it now).
    await sql.execute("""UPDATE channel SET credentials = jsonb_set(credentials, '{base_url}', '"http://[::1"')""")
    conv = await open_for(broken, holder, sales)
    await login(client, holder.email)
    assert (await typing(client, conv)).status_code == 204


async def test_a_slow_provider_does_not_hold_the_request(client, desk, fake):
    fake.hang = 5.0
    await login(client, desk["holder"].email)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await typing(client, desk["conv"])).status_code == 204
    assert loop.time() - started < 4.0  # the provider timeout (2 s), not the provider's 5 s


async def test_meta_typing_marks_the_last_customer_message_read(client, app, fake):
    company = await make_company()
    sales = await make_department(company)
    holder = await make_user(company, departments=[sales])
    meta = await create_channel(
        company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1122",
            "cred_access_token": "tok",
            "cred_app_secret": "s",
            "cred_api_base": fake.url + "/v21.0",
            "webhook_secret": SECRET,
        },
    )
    conv = await open_for(meta, holder, sales, phone="+972987654321", provider_id="wamid.first")
    await receive_webhook(
        meta,
        Parsed(
            messages=[
                InboundMessage(
                    provider_message_id="wamid.last", phone="+972987654321", type="text", text="Still there?"
                )
            ]
        ),
    )
    await login(client, holder.email)
    assert (await typing(client, conv)).status_code == 204
    assert calls(fake) == [
        (
            "POST",
            "/v21.0/1122/messages",
            {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": "wamid.last",
                "typing_indicator": {"type": "text"},
            },
        )
    ]
    assert (await typing(client, conv, "paused")).status_code == 204
    assert len(fake.requests) == 1  # Meta has no stop call


async def test_twilio_composer_sends_nothing(client, app, fake):
    company = await make_company()
    sales = await make_department(company)
    holder = await make_user(company, departments=[sales])
    twilio = await create_channel(
        company.id,
        {
            "name": "Twilio",
            "provider": "twilio",
            "cred_account_sid": "ACX",
            "cred_auth_token": "t",
            "cred_from_number": "+14155238886",
            "cred_api_base": fake.url,
            "webhook_secret": SECRET,
        },
    )
    conv = await open_for(twilio, holder, sales)
    await login(client, holder.email)
    page = await client.get(f"/inbox/{conv}")
    assert 'id="composer"' in page.text and "data-typing=" not in page.text  # the browser never asks
    assert (await typing(client, conv)).status_code == 204
    assert fake.requests == []


async def test_composer_says_whether_the_provider_can_take_it_back(client, desk):
    await login(client, desk["holder"].email)
    page = await client.get(f"/inbox/{desk['conv']}")
    assert 'data-typing="1" data-typing-stops="1"' in page.text


@pytest.mark.parametrize("who", ["other", "outsider", "foreign"])
async def test_only_the_holder_or_a_supervisor(client, desk, fake, who):
    if who == "other":
        email = desk["other"].email  # same department, not theirs: 404 like every inbox route
    elif who == "outsider":
        email = (await make_user(desk["company"], departments=[await make_department(desk["company"])])).email
    else:
        email = (await make_user(await make_company(), "supervisor")).email
    await login(client, email)
    assert (await typing(client, desk["conv"])).status_code == 404
    assert fake.requests == []


async def test_waiting_or_resolved_conversations_are_refused(client, desk, fake):
    await sql.execute("UPDATE conversation SET status = 'queued', assigned_user_id = NULL WHERE id = $1", desk["conv"])
    await login(client, desk["other"].email)  # may see it (their department's queue), may not reply
    assert (await typing(client, desk["conv"], headers={"hx-request": "true"})).status_code == 403
    await sql.execute("UPDATE conversation SET status = 'resolved' WHERE id = $1", desk["conv"])
    await login(client, desk["boss"].email)
    assert (await typing(client, desk["conv"], headers={"hx-request": "true"})).status_code == 403
    assert fake.requests == []


async def test_csrf_and_bad_input(client, desk, fake):
    await login(client, desk["holder"].email)
    conv = desk["conv"]
    assert (await client.post(f"/inbox/{conv}/typing", data={"state": "typing"})).status_code == 403
    assert (
        await client.post(f"/inbox/{conv}/typing", data={"state": "typing", "_csrf_token": "forged"})
    ).status_code == 403
    for url in (
        "/inbox/0/typing",
        "/inbox/-3/typing",
        "/inbox/99999999999/typing",
        "/inbox/abc/typing",
        "/inbox//typing",
    ):
        response = await post_form(client, url, {"state": "typing"})
        assert 400 <= response.status_code < 500, (url, response.status_code)
    for state in ("", "dancing", "x" * 5000):
        assert (await typing(client, conv, state, headers={"hx-request": "true"})).status_code == 400
    huge = await client.post(
        f"/inbox/{conv}/typing", data={"state": "typing", "pad": "z" * 2_000_000, "_csrf_token": csrf(client)}
    )
    assert huge.status_code == 413
    assert fake.requests == []


def test_throttle_timing():
    t = Throttle(interval=3.0, resume_after=1.0)
    assert t.allow(1, True, now=100.0)
    assert not t.allow(1, True, now=102.9)
    assert t.allow(2, True, now=102.9)  # per conversation
    assert t.allow(1, True, now=103.0)
    assert t.allow(1, False, now=103.5) and not t.allow(1, False, now=103.6)
    assert not t.allow(1, True, now=104.0)  # a burst of toggles is not passed on
    assert t.allow(1, True, now=104.6)


# Customer → agent ----------------------------------------------------------------------------------


def waha_headers(body: bytes, secret: str = SECRET) -> dict:
    return {
        "content-type": "application/json",
        "x-webhook-hmac": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest(),
        "x-webhook-hmac-algorithm": "sha512",
    }


async def typing_events(sub, wait: float = 1.0) -> list[TypingChanged]:
    """The TypingChanged events that reach a hub subscriber within ``wait`` seconds."""
    found, deadline = [], asyncio.get_running_loop().time() + wait
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            item = await asyncio.wait_for(sub.get(), left)
        except TimeoutError:
            break
        if isinstance(item, TypingChanged):
            found.append(item)
    return found


async def test_waha_presence_reaches_the_bus_and_stores_nothing(client, app, desk):
    sub = app.state.hub.subscribe(desk["company"].id)
    rows_before = await sql.fetchval("SELECT count(*) FROM message")
    for name in ("typing_assembled", "paused_assembled"):
        body = (FIX / f"waha/webhook_presence_update_{name}.json").read_bytes()
        response = await client.post(f"/webhooks/waha/{desk['waha'].id}", content=body, headers=waha_headers(body))
        assert response.status_code == 200, response.text
    events = await typing_events(sub)
    assert [(e.conversation_id, e.who, e.state) for e in events] == [
        (desk["conv"], "customer", "typing"),
        (desk["conv"], "customer", "paused"),
    ]
    assert await sql.fetchval("SELECT count(*) FROM message") == rows_before
    app.state.hub.unsubscribe(sub)


async def test_presence_needs_a_valid_signature(client, app, desk):
    sub = app.state.hub.subscribe(desk["company"].id)
    body = (FIX / "waha/webhook_presence_update_typing_assembled.json").read_bytes()
    bad = await client.post(f"/webhooks/waha/{desk['waha'].id}", content=body, headers=waha_headers(body, "wrong"))
    assert bad.status_code == 403
    missing = await client.post(
        f"/webhooks/waha/{desk['waha'].id}", content=body, headers={"content-type": "application/json"}
    )
    assert missing.status_code == 401
    assert await typing_events(sub, 0.5) == []
    app.state.hub.unsubscribe(sub)


async def test_unknown_contacts_groups_and_resolved_conversations_are_acknowledged(client, app, desk):
    sub = app.state.hub.subscribe(desk["company"].id)
    stranger = json.loads((FIX / "waha/webhook_presence_update_typing_assembled.json").read_text())
    stranger["payload"]["id"] = "4915112345678@c.us"
    group = json.loads((FIX / "waha/webhook_presence_update_group_docs.json").read_text())
    for payload in (stranger, group):
        body = json.dumps(payload).encode()
        response = await client.post(f"/webhooks/waha/{desk['waha'].id}", content=body, headers=waha_headers(body))
        assert response.status_code == 200, response.text
    await sql.execute("UPDATE conversation SET status = 'resolved' WHERE id = $1", desk["conv"])
    body = (FIX / "waha/webhook_presence_update_typing_assembled.json").read_bytes()
    assert (
        await client.post(f"/webhooks/waha/{desk['waha'].id}", content=body, headers=waha_headers(body))
    ).status_code == 200
    assert await typing_events(sub, 0.5) == []
    assert await sql.fetchval("SELECT count(*) FROM contact") == 1  # no contact made for a stranger's presence
    app.state.hub.unsubscribe(sub)


async def test_whapi_presence_with_its_secret(client, app, fake):
    company = await make_company()
    sales = await make_department(company)
    holder = await make_user(company, departments=[sales])
    whapi = await create_channel(
        company.id,
        {"name": "Whapi", "provider": "whapi", "cred_token": "t", "cred_api_base": fake.url, "webhook_secret": SECRET},
    )
    conv = await open_for(whapi, holder, sales, phone="+919984351847")
    sub = app.state.hub.subscribe(company.id)
    body = (FIX / "whapi/webhook_presences_recording.json").read_bytes()
    wrong = await client.post(
        f"/webhooks/whapi/{whapi.id}",
        content=body,
        headers={"content-type": "application/json", "x-webhook-secret": "nope"},
    )
    assert wrong.status_code == 403
    ok = await client.post(
        f"/webhooks/whapi/{whapi.id}",
        content=body,
        headers={"content-type": "application/json", "x-webhook-secret": SECRET},
    )
    assert ok.status_code == 200
    assert [(e.conversation_id, e.state) for e in await typing_events(sub)] == [(conv, "recording")]
    app.state.hub.unsubscribe(sub)


async def test_the_hint_goes_to_those_who_may_see_the_conversation(desk):
    for memo in (inbox.ROWS, inbox.ITEMS, inbox.MEMBERS):
        memo._items.clear()
    company, conv = desk["company"], desk["conv"]
    event = TypingChanged(company.id, conv, "customer", "typing")
    assert [(m.event, m.data) for m in await inbox.render_live(event, desk["holder"])] == [(f"typing-{conv}", "typing")]
    assert [m.event for m in await inbox.render_live(event, desk["boss"])] == [f"typing-{conv}"]
    assert await inbox.render_live(event, desk["other"]) == []  # assigned to someone else
    # The agent's own typing is for the customer's phone (the simulator), not for the inbox.
    agent = TypingChanged(company.id, conv, "agent", "typing")
    assert await inbox.render_live(agent, desk["holder"]) == []
    admin = await make_user(company, "admin")
    assert [(m.event, m.data) for m in await live.render_event(agent, admin, frozenset({"conversation"}))] == [
        (f"typing-agent-{conv}", "typing")
    ]
    assert await live.render_event(agent, desk["holder"], frozenset({"conversation"})) == []


async def test_pane_has_the_escaped_hint(client, desk):
    await login(client, desk["holder"].email)
    page = await client.get(f"/inbox/{desk['conv']}")
    assert f'sse-swap="typing-{desk["conv"]}"' in page.text
    assert 'data-text-typing="Zoé &lt;b&gt; is typing…"' in page.text and "Zoé <b>" not in page.text


# The simulator ----------------------------------------------------------------------------------


async def test_simulator_typing(client, app):
    company = await make_company()
    sales = await make_department(company)
    admin = await make_user(company, "admin")
    holder = await make_user(company, departments=[sales])
    sandbox = await ensure_sandbox_channel(company.id)
    conv = await open_for(sandbox, holder, sales, phone="+15550100001")
    sub = app.state.hub.subscribe(company.id)
    await login(client, admin.email)
    form = {"channel_id": sandbox.id, "phone": "+15550100001", "state": "typing"}
    assert (await client.post("/simulator/typing", data=form)).status_code == 403  # no CSRF token
    assert (await post_form(client, "/simulator/typing", form)).status_code == 204
    assert (await post_form(client, "/simulator/typing", {**form, "phone": "nope"})).status_code == 400
    assert (await post_form(client, "/simulator/typing", {**form, "state": "x"})).status_code == 400
    assert (await post_form(client, "/simulator/typing", {**form, "channel_id": "abc"})).status_code == 400
    # The agent types back: the simulator's phone is told.
    await login(client, holder.email)
    assert (await typing(client, conv)).status_code == 204
    events = await typing_events(sub)
    assert [(e.who, e.state) for e in events] == [("customer", "typing"), ("agent", "typing")]
    app.state.hub.unsubscribe(sub)


# Asking for the customer's presence (WAHA sends it only for chats subscribed to) ---------------


async def test_opening_a_waha_conversation_asks_for_the_customers_presence(client, desk, fake, app):
    await login(client, desk["holder"].email)
    assert (await client.get(f"/inbox/{desk['conv']}/pane")).status_code == 200
    for _ in range(100):
        if fake.requests:
            break
        await asyncio.sleep(0.02)
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/api/default/presence/11111111111@c.us/subscribe")]
    # Opening it again soon (the page, the pane) asks nothing more.
    assert (await client.get(f"/inbox/{desk['conv']}")).status_code == 200
    assert (await client.get(f"/inbox/{desk['conv']}/pane")).status_code == 200
    await asyncio.sleep(0.2)
    assert len(fake.requests) == 1


async def test_presence_request_failures_and_other_providers_are_quiet(client, app, fake):
    from app.domain.typing_indicators import watch_customer_typing

    company = await make_company()
    sales = await make_department(company, "Sales")
    holder = await make_user(company, presence="busy", departments=[sales])
    meta = await create_channel(
        company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1122",
            "cred_access_token": "t",
            "cred_app_secret": "s",
            "cred_api_base": fake.url + "/v21.0",
            "webhook_secret": SECRET,
        },
    )
    conv = await open_for(meta, holder, sales, phone="+15550100077", provider_id="wamid.x")
    assert await watch_customer_typing(app.state.http, company.id, conv) == "nothing"  # Meta: no such call
    waha = await create_channel(
        company.id,
        {
            "name": "WAHA 2",
            "provider": "waha",
            "cred_base_url": fake.url,
            "cred_session": "default",
            "webhook_secret": SECRET,
        },
    )
    conv2 = await open_for(waha, holder, sales, phone="+15550100078", provider_id="w-2")
    fake.handler = lambda r: json_answer(500, {"error": "session not working"})
    assert await watch_customer_typing(app.state.http, company.id, conv2) == "failed"
    assert await watch_customer_typing(app.state.http, company.id, conv2) == "recent"
    assert await watch_customer_typing(app.state.http, company.id + 999, conv2 + 999) == "unsupported"


async def test_simulator_typing_refuses_other_companies_other_channels_agents_and_huge_bodies(client, app):
    company, other = await make_company(), await make_company()
    admin = await make_user(company, "admin")
    agent = await make_user(company)
    theirs = await ensure_sandbox_channel(other.id)
    ours = await ensure_sandbox_channel(company.id)
    meta = await create_channel(
        company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1",
            "cred_access_token": "t",
            "cred_app_secret": "s",
            "webhook_secret": SECRET,
        },
    )
    sub = app.state.hub.subscribe(None)
    form = {"phone": "+15550100001", "state": "typing"}
    await login(client, agent.email)
    assert (await post_form(client, "/simulator/typing", {**form, "channel_id": ours.id})).status_code == 403
    await login(client, admin.email)
    assert (await post_form(client, "/simulator/typing", {**form, "channel_id": theirs.id})).status_code == 404
    assert (await post_form(client, "/simulator/typing", {**form, "channel_id": meta.id})).status_code == 400
    huge = await post_form(client, "/simulator/typing", {**form, "channel_id": ours.id, "name": "x" * 2_000_000})
    assert huge.status_code == 413
    # Sent twice: no conversation for that phone, nothing shown, no error either time.
    for _ in range(2):
        assert (await post_form(client, "/simulator/typing", {**form, "channel_id": ours.id})).status_code == 204
    assert await typing_events(sub) == []
