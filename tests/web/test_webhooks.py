"""Provider webhooks through the app: signatures first, exactly-once storage, statuses, refusals."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from app.domain import sql
from app.domain.channels import create_channel, set_channel_active
from app.providers.twilio import signature
from tests.factories import make_company

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(
        settings, sender_enabled=False, base_url="https://sb.example.com", webhook_max_bytes=20_000
    )


@pytest.fixture
async def channels():
    company = await make_company()
    creds = {
        "meta": {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1122334455667",
            "cred_access_token": "tok",
            "cred_app_secret": "test_app_secret",
            "webhook_secret": SECRET,
        },
        "waha": {
            "name": "WAHA",
            "provider": "waha",
            "cred_base_url": "http://waha.test",
            "cred_session": "default",
            "webhook_secret": SECRET,
        },
        "whapi": {"name": "Whapi", "provider": "whapi", "cred_token": "tok", "webhook_secret": SECRET},
        "twilio": {
            "name": "Twilio",
            "provider": "twilio",
            "cred_account_sid": "ACX",
            "cred_auth_token": "test_auth_token",
            "cred_from_number": "+14155238886",
            "webhook_secret": SECRET,
        },
    }
    result = {k: await create_channel(company.id, v) for k, v in creds.items()}
    result["company"] = company
    return result


def meta_headers(body: bytes, secret: str = "test_app_secret") -> dict:
    return {
        "content-type": "application/json",
        "x-hub-signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


def waha_headers(body: bytes, secret: str = SECRET) -> dict:
    return {
        "content-type": "application/json",
        "x-webhook-hmac": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest(),
        "x-webhook-hmac-algorithm": "sha512",
    }


async def post_meta(client, channel, name: str, body: bytes | None = None):
    body = body if body is not None else (FIX / f"meta/{name}").read_bytes()
    return await client.post(f"/webhooks/meta/{channel.id}", content=body, headers=meta_headers(body))


async def post_twilio(client, channel, name: str):
    body = (FIX / f"twilio/{name}").read_bytes().strip()
    url = f"https://sb.example.com/webhooks/twilio/{channel.id}"
    sig = signature("test_auth_token", url, parse_qsl(body.decode(), keep_blank_values=True))
    return await client.post(
        f"/webhooks/twilio/{channel.id}",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sig},
    )


async def count(table: str) -> int:
    return await sql.fetchval(f"SELECT count(*) FROM {table}")


async def test_meta_message_stored_once(client, channels):
    first = await post_meta(client, channels["meta"], "webhook_message_text.json")
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == 1
    again = await post_meta(client, channels["meta"], "webhook_message_text.json")
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    assert await count("message") == 1 and await count("contact") == 1 and await count("conversation") == 1
    row = await sql.fetchrow(
        "SELECT m.*, c.phone, c.name FROM message m JOIN conversation v ON v.id = m.conversation_id "
        "JOIN contact c ON c.id = v.contact_id"
    )
    assert (row["text"], row["phone"], row["name"], row["direction"], row["status"]) == (
        "Body Text",
        "+972987654321",
        "Test Name",
        "in",
        "received",
    )
    assert await sql.fetchval("SELECT last_inbound_at IS NOT NULL FROM conversation")


async def test_every_meta_message_fixture_through_the_app(client, channels):
    names = sorted(p.name for p in (FIX / "meta").glob("webhook_message_*.json"))
    for name in names:
        body = (FIX / f"meta/{name}").read_text().replace('wamid.xyzxyz"', f'wamid.{name}"').encode()
        response = await post_meta(client, channels["meta"], name, body)
        assert response.status_code == 200 and response.json()["stored"] == 1, (name, response.text)
    types = {r["type"] for r in await sql.fetch("SELECT type FROM message")}
    assert types == {"text", "audio", "voice", "video", "image", "document", "location", "reaction", "unsupported"}
    assert await count("conversation") == 1


async def test_status_before_message_is_applied_when_it_arrives(client, channels):
    meta = channels["meta"]
    early = await post_meta(client, meta, "webhook_status_delivered.json")
    assert early.status_code == 200 and early.json()["early_statuses"] == 1
    assert await count("message") == 0 and await count("pending_status") == 1
    # The business phone's own message (an echo) arrives afterwards with the same id.
    echo = json.loads((FIX / "meta/webhook_message_text.json").read_text())
    value = echo["entry"][0]["changes"][0]["value"]
    msg = value.pop("messages")[0]
    msg["to"] = msg.pop("from")
    value["message_echoes"] = [msg]
    response = await post_meta(client, meta, "", json.dumps(echo).encode())
    assert response.status_code == 200 and response.json()["stored"] == 1
    row = await sql.fetchrow("SELECT direction, status FROM message")
    assert (row["direction"], row["status"]) == ("out", "delivered")
    assert await count("pending_status") == 0


async def test_statuses_never_move_backwards(client, channels):
    meta = channels["meta"]
    company = channels["company"]
    conv = await sql.fetchval(
        "INSERT INTO contact (company_id, phone) VALUES ($1, '+972987654321') RETURNING id", company.id
    )
    conv_id = await sql.fetchval(
        "INSERT INTO conversation (company_id, channel_id, contact_id) VALUES ($1, $2, $3) RETURNING id",
        company.id,
        meta.id,
        conv,
    )
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, provider_message_id, status)
           VALUES ($1, $2, $3, 'out', 'agent', 'text', 'hi', 'wamid.xyzxyz', 'sent')""",
        company.id,
        meta.id,
        conv_id,
    )
    for name, expected in [("read", "read"), ("delivered", "read"), ("sent", "read")]:
        assert (await post_meta(client, meta, f"webhook_status_{name}.json")).status_code == 200
        assert await sql.fetchval("SELECT status FROM message") == expected
    assert await count("pending_status") == 0


async def test_failed_status_keeps_reason(client, channels):
    meta, company = channels["meta"], channels["company"]
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone) VALUES ($1, '+972987654321') RETURNING id", company.id
    )
    conv_id = await sql.fetchval(
        "INSERT INTO conversation (company_id, channel_id, contact_id) VALUES ($1, $2, $3) RETURNING id",
        company.id,
        meta.id,
        contact,
    )
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, provider_message_id, status)
           VALUES ($1, $2, $3, 'out', 'agent', 'text', 'hi', 'wamid.xyzxyz', 'sent')""",
        company.id,
        meta.id,
        conv_id,
    )
    await post_meta(client, meta, "webhook_status_failed.json")
    row = await sql.fetchrow("SELECT status, error_code, error_reason FROM message")
    assert (row["status"], row["error_code"]) == ("failed", "130472") and "experiment" in row["error_reason"]


async def test_waha_whapi_twilio_inbound(client, channels):
    body = (FIX / "waha/webhook_message_image_caption.json").read_bytes()
    r = await client.post(f"/webhooks/waha/{channels['waha'].id}", content=body, headers=waha_headers(body))
    assert r.status_code == 200 and r.json()["stored"] == 1
    body = (FIX / "whapi/webhook_messages_text_incoming.json").read_bytes()
    r = await client.post(
        f"/webhooks/whapi/{channels['whapi'].id}",
        content=body,
        headers={"content-type": "application/json", "x-webhook-secret": SECRET},
    )
    assert r.status_code == 200 and r.json()["stored"] == 1
    r = await client.post(
        f"/webhooks/whapi/{channels['whapi'].id}?token={SECRET}",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["duplicates"] == 1
    r = await post_twilio(client, channels["twilio"], "webhook_inbound_text_assembled.txt")
    assert r.status_code == 200 and "<Response>" in r.text
    r = await post_twilio(client, channels["twilio"], "webhook_inbound_text_assembled.txt")
    assert r.status_code == 200
    assert await count("message") == 3
    phones = {r["phone"] for r in await sql.fetch("SELECT phone FROM contact")}
    assert phones == {"+11111111111", "+919984351847", "+5511999999999"}


async def test_lid_is_an_alias_not_a_second_contact(client, channels):
    waha = channels["waha"]

    def event(mid: str, jid: str) -> bytes:
        return json.dumps(
            {
                "event": "message",
                "session": "default",
                "payload": {"id": f"false_{jid}_{mid}", "from": jid, "fromMe": False, "body": "hi"},
            }
        ).encode()

    body = event("AAA1", "153219082764294@lid")
    assert (await client.post(f"/webhooks/waha/{waha.id}", content=body, headers=waha_headers(body))).status_code == 200
    body = event("AAA2", "153219082764294@lid")
    assert (await client.post(f"/webhooks/waha/{waha.id}", content=body, headers=waha_headers(body))).status_code == 200
    assert await count("contact") == 1 and await count("contact_alias") == 1 and await count("conversation") == 1


async def test_group_and_unknown_events_acknowledged(client, channels):
    for name in ("webhook_message_ack_group_read.json",):
        body = (FIX / f"waha/{name}").read_bytes()
        r = await client.post(f"/webhooks/waha/{channels['waha'].id}", content=body, headers=waha_headers(body))
        assert r.status_code == 200 and r.json()["ignored"] == 1
    r = await post_meta(client, channels["meta"], "webhook_status_group.json")
    assert r.status_code == 200 and r.json()["ignored"] == 1
    assert await count("message") == 0 and await count("pending_status") == 0


@pytest.mark.parametrize(
    "case",
    [
        "bad-signature",
        "no-signature",
        "malformed",
        "content-type",
        "huge",
        "unknown-channel",
        "wrong-provider",
        "disabled",
        "other-secret",
        "nul-and-junk",
    ],
)
async def test_bad_webhooks_are_refused_and_store_nothing(client, channels, case):
    meta = channels["meta"]
    body = (FIX / "meta/webhook_message_text.json").read_bytes()
    url, headers = f"/webhooks/meta/{meta.id}", meta_headers(body)
    if case == "bad-signature":
        headers = meta_headers(body, "wrong")
    elif case == "no-signature":
        headers = {"content-type": "application/json"}
    elif case == "malformed":
        body = b'{"entry": [ {'
        headers = meta_headers(body)
    elif case == "content-type":
        headers = {**meta_headers(body), "content-type": "text/plain"}
    elif case == "huge":
        body = b"{" + b" " * 30_000 + b"}"
        headers = meta_headers(body)
    elif case == "unknown-channel":
        url = "/webhooks/meta/999999"
    elif case == "wrong-provider":
        url = f"/webhooks/waha/{meta.id}"
    elif case == "disabled":
        await set_channel_active(channels["company"].id, meta.id, False)
    elif case == "other-secret":
        # A valid signature made with another company's secret.
        headers = meta_headers(body, "another-companys-secret")
    elif case == "nul-and-junk":
        body = b"\x00\xff\xfe"
        headers = meta_headers(body)
    response = await client.post(url, content=body, headers=headers)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    assert response.json()["error"]["message"]
    assert await count("message") == 0 and await count("contact") == 0


async def test_meta_handshake(client, channels):
    meta = channels["meta"]
    ok = await client.get(
        f"/webhooks/meta/{meta.id}", params={"hub.mode": "subscribe", "hub.verify_token": SECRET, "hub.challenge": "42"}
    )
    assert ok.status_code == 200 and ok.text == "42"
    bad = await client.get(
        f"/webhooks/meta/{meta.id}", params={"hub.mode": "subscribe", "hub.verify_token": "no", "hub.challenge": "42"}
    )
    assert bad.status_code == 403


async def test_nul_in_text_is_stored_without_it(client, channels):
    body = (FIX / "meta/webhook_message_text.json").read_text().replace("Body Text", "Body\\u0000Text").encode()
    r = await post_meta(client, channels["meta"], "", body)
    assert r.status_code == 200 and r.json()["stored"] == 1
    assert await sql.fetchval("SELECT text FROM message") == "BodyText"


async def test_twilio_statuses_and_bad_signature(client, channels):
    tw = channels["twilio"]
    r = await post_twilio(client, tw, "webhook_status_failed_63016_assembled.txt")
    assert r.status_code == 200 and await count("pending_status") == 1
    body = (FIX / "twilio/webhook_inbound_text_assembled.txt").read_bytes().strip()
    bad = await client.post(
        f"/webhooks/twilio/{tw.id}",
        content=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": base64.b64encode(b"x" * 20).decode(),
        },
    )
    assert bad.status_code == 403 and await count("message") == 0
