"""Inbound media: fetched from the (fake) provider with its authentication, kept under DATA_DIR
with size and type limits, served only to staff of the message's company."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest

from app.domain import sql
from app.domain.channels import create_channel
from app.domain.messages import receive_webhook
from app.providers import meta, twilio
from app.providers.base import Parsed, WebhookRequest
from app.providers.sender import Sender
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer
from tests.helpers import login

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
JPEG = b"\xff\xd8\xff\xe0" + b"0" * 500


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


def parsed_with_url(provider, folder: str, name: str, base: str, form: bool = False) -> Parsed:
    ctype = "application/x-www-form-urlencoded" if form else "application/json"
    raw = (FIX / f"{folder}/{name}").read_bytes().strip()
    parsed = provider.parse(WebhookRequest(url="", headers={"content-type": ctype}, body=raw))
    m = parsed.messages[0]
    if m.media.url:
        url = httpx.URL(m.media.url)
        m = dataclasses.replace(m, media=dataclasses.replace(m.media, url=base + url.raw_path.decode()))
    return Parsed(messages=[m])


async def test_twilio_media_fetched_and_served(app, client, settings):
    def handler(req):
        return 200, {"content-type": "image/jpeg"}, JPEG

    company, other = await make_company(), await make_company()
    async with FakeProvider(handler) as fake, httpx.AsyncClient() as http:
        channel = await create_channel(
            company.id,
            {
                "name": "tw",
                "provider": "twilio",
                "cred_account_sid": "ACX",
                "cred_auth_token": "tok",
                "cred_from_number": "+14155238886",
                "cred_api_base": fake.url,
            },
        )
        await receive_webhook(
            channel,
            parsed_with_url(
                twilio.PROVIDER, "twilio", "webhook_inbound_image_caption_assembled.txt", fake.url, form=True
            ),
        )
        sender = Sender(http, data_dir=settings.data_dir)
        assert await sender.fetch_media_once() is True
        assert await sender.fetch_media_once() is False
        [req] = fake.requests
        assert req.path.startswith("/2010-04-01/Accounts/") and req.headers["authorization"].startswith("Basic ")
    media = json.loads(await sql.fetchval("SELECT data->'media' FROM message"))
    assert media["size"] == len(JPEG) and media["mime_type"] == "image/jpeg"
    assert (settings.data_dir / media["path"]).read_bytes() == JPEG
    message_id = await sql.fetchval("SELECT id FROM message")

    admin = await make_user(company, "admin")
    await login(client, admin.email)
    r = await client.get(f"/conversations/media/{message_id}")
    assert r.status_code == 200 and r.content == JPEG and r.headers["content-type"].startswith("image/jpeg")
    assert r.headers["x-content-type-options"] == "nosniff"
    page = await client.get(f"/inbox/{await sql.fetchval('SELECT id FROM conversation')}")
    assert f'src="/conversations/media/{message_id}"' in page.text
    outsider = await make_user(other, "admin")
    await login(client, outsider.email)
    assert (await client.get(f"/conversations/media/{message_id}")).status_code == 404
    # An agent sees media of conversations they hold or that wait for any agent; not of a
    # colleague's conversation.
    agent = await make_user(company, "agent")
    colleague = await make_user(company, "agent")
    await sql.execute("UPDATE conversation SET status = 'assigned', assigned_user_id = $1", colleague.id)
    await login(client, agent.email)
    assert (await client.get(f"/conversations/media/{message_id}")).status_code == 404
    await sql.execute("UPDATE conversation SET assigned_user_id = $1", agent.id)
    assert (await client.get(f"/conversations/media/{message_id}")).status_code == 200


async def test_meta_media_id_resolved_then_downloaded(app, settings):
    def handler(req):
        if req.path == "/v21.0/65463453":
            return json_answer(
                200, {"url": f"{fake.url}/whatsapp_business/attachments/?mid=65463453", "mime_type": "image/jpeg"}
            )
        return 200, {"content-type": "image/jpeg"}, JPEG

    company = await make_company()
    async with FakeProvider(handler) as fake, httpx.AsyncClient() as http:
        channel = await create_channel(
            company.id,
            {
                "name": "m",
                "provider": "meta",
                "cred_phone_number_id": "1",
                "cred_access_token": "tok",
                "cred_app_secret": "s",
                "cred_api_base": fake.url + "/v21.0",
            },
        )
        await receive_webhook(
            channel, parsed_with_url(meta.PROVIDER, "meta", "webhook_message_image_media_id.json", fake.url)
        )
        await Sender(http, data_dir=settings.data_dir).fetch_media_once()
        assert [r.path for r in fake.requests] == ["/v21.0/65463453", "/whatsapp_business/attachments/?mid=65463453"]
        assert all(r.headers["authorization"] == "Bearer tok" for r in fake.requests)
    assert json.loads(await sql.fetchval("SELECT data->'media' FROM message"))["size"] == len(JPEG)


@pytest.mark.parametrize("case", ["html", "too-large", "refused"])
async def test_media_limits(app, settings, case):
    def handler(req):
        if case == "html":
            return 200, {"content-type": "text/html"}, b"<script>alert(1)</script>"
        if case == "refused":
            return json_answer(404, {"code": 20404})
        return 200, {"content-type": "image/jpeg"}, JPEG

    company = await make_company()
    async with FakeProvider(handler) as fake, httpx.AsyncClient() as http:
        channel = await create_channel(
            company.id,
            {
                "name": "tw",
                "provider": "twilio",
                "cred_account_sid": "ACX",
                "cred_auth_token": "tok",
                "cred_from_number": "+14155238886",
                "cred_api_base": fake.url,
            },
        )
        parsed = parsed_with_url(
            twilio.PROVIDER, "twilio", "webhook_inbound_document_assembled.txt", fake.url, form=True
        )
        m = dataclasses.replace(parsed.messages[0], media=dataclasses.replace(parsed.messages[0].media, mime_type=""))
        await receive_webhook(channel, Parsed(messages=[m]))
        await Sender(http, data_dir=settings.data_dir, media_max_bytes=100).fetch_media_once()
    media = json.loads(await sql.fetchval("SELECT data->'media' FROM message"))
    assert "path" not in media and media["error"]
    assert not list(Path(settings.data_dir).rglob("*.html"))


async def test_uploads_from_simulator_and_composer(app, client, settings):
    from app.domain.channels import ensure_sandbox_channel
    from tests.conftest import TEST_SECRET
    from tests.helpers import csrf

    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    sandbox = await ensure_sandbox_channel(company.id)
    files = {"file": ("photo.jpg", JPEG, "image/jpeg")}
    r = await client.post(
        "/simulator/send",
        data={"channel_id": str(sandbox.id), "phone": "+15550100001", "text": "look", "_csrf_token": csrf(client)},
        files=files,
    )
    assert r.status_code == 303, r.text
    row = await sql.fetchrow("SELECT id, type, text, data FROM message")
    assert (row["type"], row["text"]) == ("image", "look") and json.loads(row["data"])["media"]["size"] == len(JPEG)
    assert (await client.get(f"/conversations/media/{row['id']}")).content == JPEG
    bad = await client.post(
        "/simulator/send",
        data={"channel_id": str(sandbox.id), "phone": "+15550100001", "_csrf_token": csrf(client)},
        files={"file": ("x.html", b"<script>", "text/html")},
    )
    assert bad.status_code == 400 and await sql.fetchval("SELECT count(*) FROM message") == 1

    async with (
        FakeProvider(lambda r: json_answer(200, {"sent": True, "message": {"id": "wh-1"}})) as fake,
        httpx.AsyncClient() as http,
    ):
        whapi = await create_channel(
            company.id, {"name": "w", "provider": "whapi", "cred_token": "tok", "cred_api_base": fake.url}
        )
        from app.providers.base import InboundMessage

        await receive_webhook(
            whapi,
            Parsed(messages=[InboundMessage(provider_message_id="i1", phone="+919984351847", type="text", text="hi")]),
        )
        conv = await sql.fetchval("SELECT id FROM conversation WHERE channel_id = $1", whapi.id)
        r = await client.post(
            f"/inbox/{conv}/messages",
            data={"text": "your invoice", "_csrf_token": csrf(client)},
            files={"file": ("invoice.pdf", b"%PDF-1.4 test", "application/pdf")},
        )
        assert r.status_code == 303, r.text
        out = await sql.fetchrow("SELECT id, type FROM message WHERE direction = 'out'")
        assert out["type"] == "document"
        await Sender(http, public_url="http://testserver.local", secret_key=TEST_SECRET).run_once()
        sent = fake.requests[0]
        assert sent.path == "/messages/document" and sent.json()["caption"] == "your invoice"
        url = sent.json()["media"]
        assert url.startswith(f"http://testserver.local/webhooks/media/{out['id']}/")
    client.cookies.clear()  # the provider has no session
    r = await client.get(url.replace("http://testserver.local", ""))
    assert r.status_code == 200 and r.content == b"%PDF-1.4 test"
    assert (await client.get(f"/webhooks/media/{out['id']}/{'0' * 40}")).status_code == 404
    assert (await client.get(f"/webhooks/media/{row['id']}/{'0' * 40}")).status_code == 404
