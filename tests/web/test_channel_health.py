"""Channel health (issue 15): provider status from webhooks and from the provider, the pairing QR
code drawn on the server, last received / sent / error, and the wallboard's channel alerts."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain import sql
from app.domain.channel_health import channel_alerts, get_health
from app.domain.channels import create_channel
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer
from tests.helpers import login
from tests.web.test_webhooks import waha_headers

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
SECRET = "whsec-0123456789abcdef"
QR = json.loads((FIX / "waha/qr_raw_response_docs.json").read_text())["value"]


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


class FakeWaha:
    def __init__(self) -> None:
        self.status = "SCAN_QR_CODE"

    def __call__(self, r):
        if r.path.startswith("/api/sessions/"):
            return json_answer(200, {"name": "default", "status": self.status})
        if r.path.startswith("/api/default/auth/qr"):
            return json_answer(200, {"value": QR})
        return json_answer(404, {})


async def test_session_status_webhook_then_page_shows_qr_then_working(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    waha = FakeWaha()
    async with FakeProvider(waha) as fake:
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
        body = (FIX / "waha/webhook_session_status_scan_qr.json").read_bytes()
        r = await client.post(f"/webhooks/waha/{channel.id}", content=body, headers=waha_headers(body))
        assert r.status_code == 200
        assert (await get_health(company.id, channel.id))["state"] == "pairing"
        assert [a["state"] for a in await channel_alerts(company.id)] == ["pairing"]
        await login(client, admin.email)
        page = await client.get(f"/admin/channels/{channel.id}/health")
        assert page.status_code == 200 and "<svg" in page.text and "needs pairing" in page.text
        assert (await get_health(company.id, channel.id))["qr"] == QR
        waha.status = "WORKING"
        page = await client.get(f"/admin/channels/{channel.id}/health")
        assert "<svg" not in page.text and 'data-state="working"' in page.text
        assert await channel_alerts(company.id) == []
        assert (await get_health(company.id, channel.id))["qr"] == ""


async def test_evolution_qrcode_and_connection_webhooks(client):
    company = await make_company()
    channel = await create_channel(
        company.id,
        {
            "name": "E",
            "provider": "evolution",
            "cred_base_url": "http://127.0.0.1:9",
            "cred_instance": "shop",
            "cred_api_key": "k",
            "webhook_secret": SECRET,
        },
    )
    headers = {"content-type": "application/json", "x-webhook-secret": SECRET}
    for name, state in (
        ("webhook_qrcode_updated.json", "pairing"),
        ("webhook_connection_update_open.json", "working"),
        ("webhook_connection_update_close.json", "down"),
    ):
        r = await client.post(
            f"/webhooks/evolution/{channel.id}",
            content=(FIX / f"evolution/{name}").read_bytes(),
            headers=headers,
        )
        assert r.status_code == 200
        health = await get_health(company.id, channel.id)
        assert health["state"] == state
        assert bool(health["qr"]) == (state == "pairing")
    assert [a["state"] for a in await channel_alerts(company.id)] == ["down"]


async def test_silent_far_longer_than_usual_raises_an_alert():
    company = await make_company()
    channel = await create_channel(
        company.id,
        {
            "name": "Busy",
            "provider": "whapi",
            "cred_token": "t",
            "webhook_secret": SECRET,
        },
    )
    conv_contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone) VALUES ($1, '+15550001') RETURNING id",
        company.id,
    )
    conv = await sql.fetchval(
        "INSERT INTO conversation (company_id, channel_id, contact_id) VALUES ($1, $2, $3) RETURNING id",
        company.id,
        channel.id,
        conv_contact,
    )
    now = datetime.now(UTC)
    # About one message every 20 minutes for two days, then nothing for the last six hours.
    for i in range(144):
        await sql.execute(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text,
                                                  provider_message_id, status, created_at)
                             VALUES ($1, $2, $3, 'in', 'customer', 'text', 'hi', $4, 'received', $5)""",
            company.id,
            channel.id,
            conv,
            f"m{i}",
            now - timedelta(hours=6) - timedelta(minutes=20 * i),
        )
    assert await channel_alerts(company.id, now - timedelta(hours=5, minutes=30)) == []  # 30 min: usual
    [alert] = await channel_alerts(company.id, now)
    assert alert["state"] == "silent" and alert["seconds"] >= 6 * 3600 - 5
    health = await get_health(company.id, channel.id, now)
    assert health["silent"] and health["last_received_at"] is not None


async def test_health_is_admin_only_and_company_scoped(client):
    company, other = await make_company(), await make_company()
    agent = await make_user(company, "agent")
    admin = await make_user(company, "admin")
    theirs = await create_channel(other.id, {"name": "T", "provider": "sandbox"})
    await login(client, agent.email)
    assert (await client.get(f"/admin/channels/{theirs.id}/health")).status_code in (
        403,
        404,
    )
    await client.post("/logout", headers={"x-csrftoken": client.cookies.get("csrftoken", "")})
    client.cookies.clear()
    await login(client, admin.email)
    assert (await client.get(f"/admin/channels/{theirs.id}/health")).status_code == 404


async def test_whapi_health_and_qr_and_meta_quality():
    import httpx

    from app.domain.channel_health import refresh
    from app.domain.channels import get_channel_for_webhook

    company = await make_company()
    state = {"whapi": "QR"}

    def handler(r):
        if r.path == "/health":
            return json_answer(200, {"status": {"code": 3, "text": state["whapi"]}})
        if r.path == "/users/login":
            return json_answer(200, {"status": "OK", "rowdata": "2@whapi-raw-qr", "expire": 20})
        if r.path.startswith("/v21.0/1122"):
            return json_answer(
                200, {"status": "CONNECTED", "quality_rating": "YELLOW", "display_phone_number": "+1 555"}
            )
        return json_answer(404, {})

    async with FakeProvider(handler) as fake, httpx.AsyncClient() as http:
        whapi = await create_channel(
            company.id,
            {"name": "H", "provider": "whapi", "cred_token": "t", "cred_api_base": fake.url, "webhook_secret": SECRET},
        )
        meta = await create_channel(
            company.id,
            {
                "name": "M",
                "provider": "meta",
                "cred_phone_number_id": "1122",
                "cred_access_token": "tok",
                "cred_app_secret": "s",
                "cred_api_base": fake.url + "/v21.0",
                "webhook_secret": SECRET,
            },
        )
        await refresh(await get_channel_for_webhook(whapi.id), http)
        health = await get_health(company.id, whapi.id)
        assert (health["state"], health["qr"]) == ("pairing", "2@whapi-raw-qr")
        state["whapi"] = "AUTH"
        await refresh(await get_channel_for_webhook(whapi.id), http)
        assert (await get_health(company.id, whapi.id))["state"] == "working"
        await refresh(await get_channel_for_webhook(meta.id), http)
        health = await get_health(company.id, meta.id)
        assert health["state"] == "working" and "quality YELLOW" in health["state_detail"]
    meta_call = [r for r in fake.requests if r.path.startswith("/v21.0/1122")][0]
    assert "fields=status%2Cquality_rating" in meta_call.path and meta_call.headers["authorization"] == "Bearer tok"


async def test_an_unreachable_provider_is_down_with_the_error():
    import httpx

    from app.domain.channel_health import refresh
    from app.domain.channels import get_channel_for_webhook

    company = await make_company()
    async with FakeProvider() as fake:
        url = fake.url
    channel = await create_channel(
        company.id,
        {"name": "W", "provider": "waha", "cred_base_url": url, "cred_session": "default", "webhook_secret": SECRET},
    )
    async with httpx.AsyncClient() as http:
        await refresh(await get_channel_for_webhook(channel.id), http, timeout=2.0)
    health = await get_health(company.id, channel.id)
    assert health["state"] == "down" and "WAHA" in health["last_error"]
