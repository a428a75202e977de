"""Real provider traffic stored right (issue 15): each defect with a payload of its kind.

Payloads are in tests/fixtures/providers (see SOURCES.md for where each comes from). The WAHA lids
API is a fake server on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from app.domain import sql
from app.domain.channels import create_channel
from app.domain.contacts import update_contact
from app.domain.conversations import list_messages
from app.domain.notes import list_timeline
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer
from tests.web.test_webhooks import (  # noqa: F401
    FIX,
    SECRET,
    channels,
    count,
    meta_headers,
    post_meta,
    waha_headers,
)


@pytest.fixture
def settings(settings):
    return dataclasses.replace(
        settings,
        sender_enabled=False,
        base_url="https://sb.example.com",
        webhook_max_bytes=200_000,
    )


async def post_waha(client, channel, name: str, body: bytes | None = None):
    body = body if body is not None else (FIX / f"waha/{name}").read_bytes()
    return await client.post(f"/webhooks/waha/{channel.id}", content=body, headers=waha_headers(body))


async def post_whapi(client, channel, name: str):
    body = (FIX / f"whapi/{name}").read_bytes()
    return await client.post(
        f"/webhooks/whapi/{channel.id}",
        content=body,
        headers={"content-type": "application/json", "x-webhook-secret": SECRET},
    )


# 1. WAHA NOWEB fromMe ------------------------------------------------------------------------


async def test_noweb_from_me_goes_to_the_customer_of_each_chat(client, channels):
    """NOWEB puts the chat in `from` and leaves `to` out: each echo belongs to its own customer."""
    for name in (
        "webhook_message_any_noweb_fromme_real.json",
        "webhook_message_any_noweb_fromme_other_real.json",
    ):
        r = await post_waha(client, channels["waha"], name)
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text
    rows = await sql.fetch("""SELECT ct.phone, m.direction, m.text FROM message m JOIN conversation c ON c.id = m.conversation_id
                              JOIN contact ct ON ct.id = c.contact_id ORDER BY m.id""")
    assert [(r["phone"], r["direction"], r["text"]) for r in rows] == [
        ("+5511999990001", "out", "Order shipped today"),
        ("+5511999990002", "out", "Your table is booked"),
    ]
    assert await sql.fetchval("SELECT count(*) FROM contact WHERE phone IS NULL") == 0


async def test_a_message_without_a_reachable_id_creates_no_contact(client, channels):
    payload = json.loads((FIX / "waha/webhook_message_any_noweb_fromme_real.json").read_text())
    payload["payload"]["from"] = "me"
    payload["payload"]["_data"]["key"]["remoteJid"] = ""
    r = await post_waha(client, channels["waha"], "", json.dumps(payload).encode())
    assert r.status_code == 200 and r.json()["stored"] == 0 and r.json()["ignored"] >= 1
    assert await count("contact") == 0 and await count("message") == 0


# 2. WAHA @lid ---------------------------------------------------------------------------------


async def test_lid_sender_with_remote_jid_alt_joins_the_phone_contact(client, channels):
    first = await post_waha(client, channels["waha"], "webhook_message_noweb_lid_only.json", None)
    # No phone in the payload: the lid contact exists alone (the webhook never calls the provider).
    assert first.status_code == 200 and first.json()["stored"] == 1
    assert await sql.fetchval("SELECT count(*) FROM contact") == 1
    second = await post_waha(client, channels["waha"], "webhook_message_noweb_lid_with_alt.json")
    assert second.status_code == 200 and second.json()["stored"] == 1
    contacts = await sql.fetch("SELECT id, phone FROM contact")
    assert [c["phone"] for c in contacts] == ["+5511988887777"]
    aliases = await sql.fetch("SELECT contact_id, alias FROM contact_alias")
    assert [(a["contact_id"], a["alias"]) for a in aliases] == [(contacts[0]["id"], "132375270973606@lid")]
    # Both messages in one conversation of that one contact.
    assert await sql.fetchval("SELECT count(DISTINCT conversation_id) FROM message") == 1


async def test_lid_merges_with_an_existing_phone_contact(client, channels):
    company = channels["company"]
    phone_contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+5511988887777', 'Ana S.') RETURNING id",
        company.id,
    )
    await post_waha(client, channels["waha"], "webhook_message_noweb_lid_only.json")
    assert await count("contact") == 2
    r = await post_waha(client, channels["waha"], "webhook_message_noweb_lid_with_alt.json")
    assert r.status_code == 200
    assert [c["id"] for c in await sql.fetch("SELECT id FROM contact")] == [phone_contact]
    assert (
        await sql.fetchval("SELECT contact_id FROM contact_alias WHERE alias = '132375270973606@lid'") == phone_contact
    )
    assert (
        await sql.fetchval(
            "SELECT count(DISTINCT c.contact_id) FROM message m JOIN conversation c ON c.id = m.conversation_id"
        )
        == 1
    )


async def test_lid_resolved_through_the_waha_lids_api_and_cached(client):
    import httpx

    from app.domain.messages import resolve_alias_contacts

    company = await make_company()
    answer = json.loads((FIX / "waha/lids_get_response_docs.json").read_text())
    async with (
        FakeProvider(lambda r: json_answer(200, answer)) as fake,
        httpx.AsyncClient() as http,
    ):
        channel = await create_channel(
            company.id,
            {
                "name": "W",
                "provider": "waha",
                "cred_base_url": fake.url,
                "cred_session": "default",
                "cred_api_key": "k",
                "webhook_secret": SECRET,
            },
        )
        r = await post_waha(client, channel, "webhook_message_noweb_lid_only.json")
        assert r.status_code == 200 and r.json()["stored"] == 1
        assert fake.requests == []  # the webhook answers without waiting on WAHA
        assert await resolve_alias_contacts(http) == 1
        assert await resolve_alias_contacts(http) == 0  # resolved: not asked again
        payload = json.loads((FIX / "waha/webhook_message_noweb_lid_only.json").read_text())
        payload["payload"]["id"] = "false_132375270973606@lid_3EB0C0FFEE000000000009"
        r = await post_waha(client, channel, "", json.dumps(payload).encode())
        assert r.status_code == 200 and r.json()["stored"] == 1
    lookups = [q for q in fake.requests if "/lids/" in q.path]
    assert len(lookups) == 1 and lookups[0].path == "/api/default/lids/132375270973606%40lid"
    assert lookups[0].headers.get("x-api-key") == "k"
    assert [c["phone"] for c in await sql.fetch("SELECT phone FROM contact")] == ["+5511988887777"]
    assert await sql.fetchval("SELECT count(DISTINCT conversation_id) FROM message") == 1


async def test_reply_to_a_lid_only_contact_goes_to_the_lid(client):
    """No phone known anywhere: the reply goes to the @lid chat, which WAHA accepts, not 'no-phone'."""
    import httpx

    from app.domain.messages import queue_message
    from app.providers.sender import Sender

    company = await make_company()
    agent = await make_user(company, "supervisor")
    sent: list = []

    def handler(r):
        if "/lids/" in r.path:
            return json_answer(404, {"message": "not found"})
        sent.append(r.json())
        return json_answer(
            201,
            {
                "key": {
                    "remoteJid": "132375270973606@lid",
                    "fromMe": True,
                    "id": "3EB0REPLY1",
                }
            },
        )

    async with FakeProvider(handler) as fake:
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
        await post_waha(client, channel, "webhook_message_noweb_lid_only.json")
        conv = await sql.fetchval("SELECT id FROM conversation")
        mid = await queue_message(company.id, conv, {"text": "We are on it"}, user_id=agent.id)
        async with httpx.AsyncClient() as http:
            await Sender(http).run_once()
    assert await sql.fetchval("SELECT status FROM message WHERE id = $1", mid) == "sent"
    assert sent[0]["chatId"] == "132375270973606@lid"


# 3. Meta referral -------------------------------------------------------------------------------


async def test_meta_referral_kept_on_the_message(client, channels):
    r = await post_meta(client, channels["meta"], "webhook_message_text_referral_docs.json")
    assert r.status_code == 200 and r.json()["stored"] == 1
    row = await sql.fetchrow("SELECT text, data FROM message")
    data = json.loads(row["data"])
    assert row["text"] == "Hi, I saw your ad"
    assert data["referral"]["headline"] == "Winter sale: 30% off"
    assert data["referral"]["source_url"] == "https://fb.me/2ZB5pkzCH"
    assert data["referral"]["source_id"] == "120208543271230123"


# 4. Reaction removed -----------------------------------------------------------------------------


async def test_meta_reaction_removed_removes_it(client, channels):
    company = channels["company"]
    await post_meta(client, channels["meta"], "webhook_message_text.json")
    await post_meta(client, channels["meta"], "webhook_message_reaction_on_text.json")
    conv = await sql.fetchval("SELECT id FROM conversation")
    items, _ = await list_timeline(company.id, conv)
    target = [i for i in items if i["kind"] == "message" and i["provider_message_id"] == "wamid.xyzxyz"][0]
    assert target["reactions"] == ["\U0001f44d"]
    r = await post_meta(client, channels["meta"], "webhook_message_reaction_removed_docs.json")
    assert r.status_code == 200 and r.json()["stored"] == 1
    items, _ = await list_timeline(company.id, conv)
    messages = [i for i in items if i["kind"] == "message"]
    assert [m["provider_message_id"] for m in messages] == ["wamid.xyzxyz"]
    assert messages[0]["reactions"] == []


async def test_waha_reaction_removed_removes_it(client, channels):
    company = channels["company"]
    base = json.loads((FIX / "waha/webhook_message_reaction_removed.json").read_text())
    text = {
        "event": "message",
        "session": "default",
        "payload": {
            "id": "false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "from": "11111111111@c.us",
            "fromMe": False,
            "to": "22222222222@c.us",
            "body": "hi",
            "_data": {"type": "chat"},
        },
    }
    await post_waha(client, channels["waha"], "", json.dumps(text).encode())
    added = json.loads(json.dumps(base))
    added["payload"]["id"] = "false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAC"
    added["payload"]["reaction"]["text"] = "\u2764"
    await post_waha(client, channels["waha"], "", json.dumps(added).encode())
    await post_waha(client, channels["waha"], "webhook_message_reaction_removed.json")
    conv = await sql.fetchval("SELECT id FROM conversation")
    messages = [i for i in (await list_timeline(company.id, conv))[0] if i["kind"] == "message"]
    assert len(messages) == 1 and messages[0]["reactions"] == []


# 5. Unsupported and system messages ---------------------------------------------------------------


async def test_meta_system_message_keeps_its_text(client, channels, app):
    r = await post_meta(client, channels["meta"], "webhook_message_system_changed_number_docs.json")
    assert r.status_code == 200 and r.json()["stored"] == 1
    row = await sql.fetchrow("SELECT type, text, data FROM message")
    assert row["type"] == "unsupported"
    assert row["text"] == "User A changed from 972987654321 to 972987654322"
    assert "media" not in json.loads(row["data"])


async def test_meta_unsupported_message_shows_what_meta_said(client, channels, app):
    r = await post_meta(client, channels["meta"], "webhook_message_unsupported_docs.json")
    assert r.status_code == 200
    row = await sql.fetchrow("SELECT id, type, text FROM message")
    assert row["type"] == "unsupported" and "Message type is currently not supported." in row["text"]
    template = app.template_engine.get_template("conversations/_message.html")
    m = (await list_messages(channels["company"].id, await sql.fetchval("SELECT id FROM conversation")))[0]
    html = template.render(m=m, _=lambda s: s, translate=lambda s: s)
    assert "fetching the file" not in html
    assert "Message type is currently not supported." in html


async def test_waha_notification_is_a_readable_notice(client, channels):
    r = await post_waha(client, channels["waha"], "webhook_message_webjs_notification_template.json")
    assert r.status_code == 200
    row = await sql.fetchrow("SELECT type, text FROM message")
    assert row["type"] == "unsupported"
    assert row["text"] != "[notification_template]" and "change_number" in row["text"]


# 6. Whapi button replies ------------------------------------------------------------------------


async def test_whapi_button_reply_keeps_title_and_id(client, channels):
    r = await post_whapi(client, channels["whapi"], "webhook_messages_button_reply_docs.json")
    assert r.status_code == 200 and r.json()["stored"] == 1
    row = await sql.fetchrow("SELECT type, text, data, reply_to FROM message")
    assert (row["type"], row["text"]) == ("text", "Button1")
    assert json.loads(row["data"])["button"] == "ButtonsV3:randomId1"
    assert row["reply_to"] == "yqKj.Z7XWg0g1lA-wD8Sij1GoQ"


# 7. Deeply nested JSON -----------------------------------------------------------------------------


async def test_deeply_nested_signed_json_is_a_400_with_a_reason(client, channels):
    body = (FIX / "meta/deeply_nested_body_assembled.json").read_bytes()
    r = await client.post(
        f"/webhooks/meta/{channels['meta'].id}",
        content=body,
        headers=meta_headers(body),
    )
    assert r.status_code == 400
    assert "nested" in r.json()["error"]["message"]


# 8. pending_status --------------------------------------------------------------------------------


async def test_pending_status_keeps_one_row_per_message(client, channels):
    for name in (
        "webhook_status_sent.json",
        "webhook_status_delivered.json",
        "webhook_status_read.json",
        "webhook_status_sent.json",
        "webhook_status_read.json",
    ):
        r = await post_meta(client, channels["meta"], name)
        assert r.status_code == 200
    rows = await sql.fetch("SELECT provider_message_id, status FROM pending_status")
    assert len(rows) == 1 and rows[0]["status"] == "read"


async def test_pending_status_expires(client, channels):
    from app.domain.messages import expire_pending_statuses

    await post_meta(client, channels["meta"], "webhook_status_sent.json")
    await sql.execute("UPDATE pending_status SET received_at = now() - interval '8 days'")
    await post_meta(client, channels["meta"], "webhook_status_delivered.json")  # a fresh one for another id? same id
    await sql.execute(
        "INSERT INTO pending_status (company_id, channel_id, provider_message_id, status) "
        "VALUES ($1, $2, 'fresh-one', 'sent')",
        channels["company"].id,
        channels["meta"].id,
    )
    await sql.execute(
        "UPDATE pending_status SET received_at = now() - interval '8 days' WHERE provider_message_id <> 'fresh-one'"
    )
    assert await expire_pending_statuses() == 1
    assert [r["provider_message_id"] for r in await sql.fetch("SELECT provider_message_id FROM pending_status")] == [
        "fresh-one"
    ]


# 10. Lone UTF-16 surrogates --------------------------------------------------------------------------


async def test_lone_surrogates_are_replaced_not_refused(client, channels):
    r = await post_whapi(client, channels["whapi"], "webhook_messages_lone_surrogate_assembled.json")
    assert r.status_code == 200 and r.json()["stored"] == 1, r.text
    row = await sql.fetchrow(
        "SELECT m.text, ct.profile_name FROM message m JOIN conversation c ON c.id = m.conversation_id "
        "JOIN contact ct ON ct.id = c.contact_id"
    )
    assert row["text"] == "Price ok \ufffd thanks"
    assert row["profile_name"] == "Ger\ufffdald"


# 11. An admin's rename ---------------------------------------------------------------------------------


async def test_admin_rename_survives_the_next_message(client, channels):
    company = channels["company"]
    await post_meta(client, channels["meta"], "webhook_message_text.json")
    contact = await sql.fetchrow("SELECT id, name, profile_name FROM contact")
    assert (contact["name"], contact["profile_name"]) == ("Test Name", "Test Name")
    await update_contact(company.id, contact["id"], {"name": "Dana (VIP)", "language": "", "details": ""})
    await post_meta(client, channels["meta"], "webhook_message_reaction_on_text.json")
    row = await sql.fetchrow("SELECT name, profile_name FROM contact")
    assert (row["name"], row["profile_name"]) == ("Dana (VIP)", "Test Name")


async def test_profile_name_follows_whatsapp_when_not_renamed(client, channels):
    await post_meta(client, channels["meta"], "webhook_message_text.json")
    body = (FIX / "meta/webhook_message_reaction_on_text.json").read_text().replace('"Test Name"', '"New Profile"')
    await post_meta(client, channels["meta"], "", body.encode())
    row = await sql.fetchrow("SELECT name, profile_name FROM contact")
    assert (row["name"], row["profile_name"]) == ("New Profile", "New Profile")


async def test_meta_referral_shown_on_the_conversation(client, channels, app):
    await post_meta(client, channels["meta"], "webhook_message_text_referral_docs.json")
    m = (await list_messages(channels["company"].id, await sql.fetchval("SELECT id FROM conversation")))[0]
    html = app.template_engine.get_template("conversations/_message.html").render(
        m=m, _=lambda s: s, translate=lambda s: s
    )
    assert "Winter sale: 30% off" in html and 'href="https://fb.me/2ZB5pkzCH"' in html and "120208543271230123" in html
    m["data"]["referral"]["source_url"] = "javascript:alert(1)"
    html = app.template_engine.get_template("conversations/_message.html").render(
        m=m, _=lambda s: s, translate=lambda s: s
    )
    assert 'href="javascript' not in html


def _waha_parse(name: str, edit=None):
    from app.providers import waha
    from app.providers.base import WebhookRequest

    data = json.loads((FIX / f"waha/{name}").read_text())
    if edit:
        edit(data)
    return waha.PROVIDER.parse(
        WebhookRequest(url="", headers={"content-type": "application/json"}, body=json.dumps(data).encode())
    )


def test_each_waha_engine_names_the_chat():
    # GOWS: whatsmeow's Info.Chat, with the phone in SenderAlt.
    [m] = _waha_parse("webhook_message_gows_lid_assembled.json").messages
    assert (m.phone, m.alias, m.name, m.outbound) == ("+5511977776666", "236523865788507@lid", "Bruna", False)

    # WEBJS: fromMe names the customer in `to`.
    def webjs_from_me(d):
        d["payload"].update({"from": "33600000001@c.us", "to": "5511999990001@c.us", "fromMe": True})

    [m] = _waha_parse("webhook_message_text_webjs_full.json", webjs_from_me).messages
    assert (m.phone, m.outbound) == ("+5511999990001", True)
    # NOWEB: the chat in `from` (and _data.key.remoteJid), no `to`.
    [m] = _waha_parse("webhook_message_any_noweb_fromme_real.json").messages
    assert (m.phone, m.outbound, m.provider_message_id) == ("+5511999990001", True, "3EB0FEDF9B17CD76590928")

    # A chat with the business's own number (`me`) is not a customer.
    def self_chat(d):
        d["payload"]["_data"]["key"]["remoteJid"] = "33600000001@s.whatsapp.net"

    parsed = _waha_parse("webhook_message_any_noweb_fromme_real.json", self_chat)
    assert parsed.messages == [] and parsed.ignored == ["chat with the business's own number"]
