"""Admin pages for channels, the conversation page and the simulator (roles, CSRF, scoping, escaping)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from app.domain import sql
from app.domain.channels import create_channel, ensure_sandbox_channel
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer
from tests.helpers import login, post_form

META = {
    "name": "Main number",
    "provider": "meta",
    "cred_phone_number_id": "1122334455667",
    "cred_access_token": "EAAG-secret-token-123456",
    "cred_app_secret": "app-secret-abcdef-987654",
    "cred_api_base": "",
}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False, base_url="http://sb.example.com")


@pytest.fixture
async def admin_client(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    client.company = company
    client.user = admin
    return client


async def test_create_edit_disable_channel(admin_client):
    r = await post_form(admin_client, "/admin/channels", META)
    assert r.status_code == 303, r.text
    row = await sql.fetchrow("SELECT * FROM channel")
    creds = json.loads(row["credentials"])
    assert (
        creds["access_token"] == "EAAG-secret-token-123456" and creds["api_base"] == "https://graph.facebook.com/v21.0"
    )
    assert len(row["webhook_secret"]) >= 16
    page = await admin_client.get(f"/admin/channels/{row['id']}/edit")
    assert f"http://sb.example.com/webhooks/meta/{row['id']}" in page.text
    # The generated webhook secret is shown once, with a copy button (like API keys) ...
    assert (
        f'id="webhook-secret-once">{row["webhook_secret"]}</code>' in page.text
        and 'data-copy="#webhook-secret-once"' in page.text
    )
    page = await admin_client.get(f"/admin/channels/{row['id']}/edit")
    for secret in ("EAAG-secret-token-123456", "app-secret-abcdef-987654", row["webhook_secret"]):
        assert secret not in page.text  # ... then masked, like the other secrets
    assert "verify token" in page.text and "HMAC" not in page.text  # help about this provider only
    assert "••••3456" in page.text
    # Saving with empty secret fields keeps the stored secrets.
    r = await post_form(
        admin_client,
        f"/admin/channels/{row['id']}",
        {**META, "name": "Renamed", "cred_access_token": "", "cred_app_secret": ""},
    )
    assert r.status_code == 303
    creds = json.loads(await sql.fetchval("SELECT credentials FROM channel"))
    assert (
        creds["access_token"] == "EAAG-secret-token-123456"
        and await sql.fetchval("SELECT name FROM channel") == "Renamed"
    )
    r = await post_form(admin_client, f"/admin/channels/{row['id']}/active", {"active": "0"})
    assert r.status_code == 303 and await sql.fetchval("SELECT active FROM channel") is False
    listing = await admin_client.get("/admin/channels")
    assert "Renamed" in listing.text and "disabled" in listing.text


async def test_validation_errors_never_echo_secrets(admin_client):
    r = await post_form(
        admin_client, "/admin/channels", {**META, "name": "", "cred_phone_number_id": "", "cred_api_base": "ftp://x"}
    )
    assert r.status_code == 400
    assert "This field is required." in r.text and "https://" in r.text
    channel = await create_channel(admin_client.company.id, META)
    r = await post_form(
        admin_client,
        f"/admin/channels/{channel.id}",
        {**META, "name": "", "cred_access_token": "NEW-secret-value-0000"},
    )
    assert r.status_code == 400 and "NEW-secret-value-0000" not in r.text
    r = await post_form(admin_client, "/admin/channels", {**META, "provider": "carrier-pigeon"})
    assert r.status_code == 400 and await sql.fetchval("SELECT count(*) FROM channel") == 1


async def test_duplicate_name_and_short_secret(admin_client):
    await create_channel(admin_client.company.id, META)
    r = await post_form(admin_client, "/admin/channels", META)
    assert r.status_code == 400 and "Another channel already uses this name." in r.text
    r = await post_form(admin_client, "/admin/channels", {**META, "name": "Other", "webhook_secret": "short"})
    assert r.status_code == 400 and "at least 16" in r.text


async def test_check_connection_calls_the_provider(admin_client):
    async with FakeProvider(
        lambda r: json_answer(200, {"display_phone_number": "+1 555 0100", "verified_name": "Shop"})
    ) as fake:
        channel = await create_channel(admin_client.company.id, {**META, "cred_api_base": fake.url + "/v21.0"})
        r = await post_form(admin_client, f"/admin/channels/{channel.id}/check", headers={"hx-request": "true"})
        assert r.status_code == 200 and "Connection OK." in r.text and "+1 555 0100" in r.text
        assert fake.requests[0].path == "/v21.0/1122334455667"
        assert fake.requests[0].headers["authorization"] == "Bearer EAAG-secret-token-123456"
    async with FakeProvider(lambda r: json_answer(401, {"error": {"code": 190, "message": "expired"}})) as fake:
        channel = await create_channel(admin_client.company.id, {**META, "name": "B", "cred_api_base": fake.url})
        r = await post_form(admin_client, f"/admin/channels/{channel.id}/check")
        assert "Connection failed." in r.text and "expired" in r.text
    channel = await create_channel(
        admin_client.company.id, {**META, "name": "C", "cred_api_base": "http://127.0.0.1:9"}
    )
    r = await post_form(admin_client, f"/admin/channels/{channel.id}/check")
    assert r.status_code == 200 and "Could not reach" in r.text


async def test_roles_csrf_and_other_company(client):
    company, other = await make_company(), await make_company()
    foreign = await create_channel(other.id, META)
    supervisor = await make_user(company, "supervisor")
    await login(client, supervisor.email)
    assert (await client.get("/admin/channels")).status_code == 403
    assert (await post_form(client, "/admin/channels", META)).status_code == 403
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    assert (await client.get(f"/admin/channels/{foreign.id}/edit")).status_code == 404
    assert (await post_form(client, f"/admin/channels/{foreign.id}", META)).status_code == 404
    assert (await post_form(client, f"/admin/channels/{foreign.id}/active", {"active": "0"})).status_code == 404
    assert (await post_form(client, f"/admin/channels/{foreign.id}/check")).status_code == 404
    no_csrf = await client.post("/admin/channels", data=META)
    assert no_csrf.status_code == 403 and await sql.fetchval("SELECT count(*) FROM channel") == 1


async def test_simulator_and_conversation_page(admin_client):
    channel = await ensure_sandbox_channel(admin_client.company.id)
    page = await admin_client.get(f"/simulator?channel={channel.id}")
    assert page.status_code == 200 and "Phone simulator" in page.text
    r = await post_form(
        admin_client,
        "/simulator/send",
        {"channel_id": channel.id, "phone": "+15550100001", "name": "Zoé", "text": "<script>alert(1)</script>"},
    )
    assert r.status_code == 303
    conv = await sql.fetchrow("SELECT * FROM conversation")
    show = await admin_client.get(f"/inbox/{conv['id']}")
    assert show.status_code == 200
    assert "<script>alert(1)</script>" not in show.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in show.text
    listing = await admin_client.get("/inbox?tab=all")
    assert "Zoé" in listing.text
    r = await post_form(
        admin_client, f"/inbox/{conv['id']}/messages", {"text": "Hello!"}, headers={"hx-request": "true"}
    )
    assert r.status_code == 200
    assert await sql.fetchval("SELECT status FROM message WHERE direction = 'out'") == "pending"
    r = await post_form(
        admin_client, f"/inbox/{conv['id']}/messages", {"text": "x" * 5000}, headers={"hx-request": "true"}
    )
    assert r.status_code == 400 and "4096" in r.text
    bad = await post_form(
        admin_client, "/simulator/send", {"channel_id": channel.id, "phone": "not a phone", "text": "x"}
    )
    assert bad.status_code == 400


async def test_conversations_scoped_and_guarded(client):
    company, other = await make_company(), await make_company()
    foreign_channel = await ensure_sandbox_channel(other.id)
    from app.domain.messages import receive_webhook
    from app.providers.base import InboundMessage, Parsed

    await receive_webhook(
        foreign_channel,
        Parsed(messages=[InboundMessage(provider_message_id="x", phone="+15550100009", type="text", text="secret")]),
    )
    conv_id = await sql.fetchval("SELECT id FROM conversation")
    msg_id = await sql.fetchval("SELECT id FROM message")
    agent = await make_user(company, "agent")
    await login(client, agent.email)
    assert (await client.get("/simulator")).status_code == 403
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    assert (await client.get(f"/inbox/{conv_id}")).status_code == 404
    assert (await post_form(client, f"/inbox/{conv_id}/messages", {"text": "hi"})).status_code == 404
    assert (await post_form(client, f"/conversations/messages/{msg_id}/resend")).status_code == 404
    assert (
        await post_form(
            client, "/simulator/send", {"channel_id": foreign_channel.id, "phone": "+15550100001", "text": "x"}
        )
    ).status_code == 404
    assert "secret" not in (await client.get("/inbox?tab=all")).text
    assert await sql.fetchval("SELECT count(*) FROM message") == 1
