"""Outbound files are sent as files where the provider accepts them (Meta upload then id, WAHA
base64, Whapi data URI), so no public BASE_URL is needed; Twilio still gets a signed link."""

from __future__ import annotations

import base64
import dataclasses
import re

import httpx
import pytest

from app.domain import sql
from app.domain.media import save_upload
from app.domain.messages import queue_message
from app.providers.sender import Sender
from tests.domain.test_outbox import META_OK, TWILIO_OK, setup, status_of
from tests.fake_provider import FakeProvider, json_answer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


async def _queue_file(settings, company, agent, conv) -> int:
    media = save_upload(settings.data_dir, company.id, PNG, "image/png", "chart.png", 1_000_000)
    return await queue_message(company.id, conv, {"text": "Our chart"}, user_id=agent.id, media=media)


def _multipart_parts(req) -> dict[str, tuple[dict, bytes]]:
    boundary = re.search(r"boundary=([^;]+)", req.headers["content-type"]).group(1).encode()
    parts = {}
    for chunk in req.body.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        name = re.search(r'name="([^"]+)"', headers["Content-Disposition"]).group(1)
        parts[name] = (headers, body)
    return parts


async def test_meta_uploads_the_file_then_sends_its_id(app, settings):
    def handler(req):
        if req.path.endswith("/media"):
            return json_answer(200, {"id": "1037543291543636"})
        return json_answer(200, META_OK)

    async with FakeProvider(handler) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("meta", fake.url)
        mid = await _queue_file(settings, company, agent, conv)
        await Sender(client, data_dir=settings.data_dir).run_once()
        assert await status_of(mid) == "sent"
        upload, send = fake.requests
        assert upload.path == "/v21.0/1122/media" and upload.headers["authorization"] == "Bearer tok"
        parts = _multipart_parts(upload)
        assert parts["messaging_product"][1] == b"whatsapp" and parts["type"][1] == b"image/png"
        assert parts["file"][1] == PNG and "chart.png" in parts["file"][0]["Content-Disposition"]
        assert send.json()["image"] == {"id": "1037543291543636", "caption": "Our chart"}


async def test_meta_upload_refused_fails_the_message_with_reason(app, settings):
    error = {
        "error": {
            "message": "(#131053) Media upload error",
            "type": "OAuthException",
            "code": 131053,
            "error_data": {"details": "Unsupported file type."},
        }
    }
    async with FakeProvider(lambda r: json_answer(400, error)) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("meta", fake.url)
        mid = await _queue_file(settings, company, agent, conv)
        await Sender(client, data_dir=settings.data_dir).run_once()
        row = await sql.fetchrow("SELECT status, error_code, error_reason FROM message WHERE id = $1", mid)
        assert row["status"] == "failed" and row["error_code"] == "131053" and row["error_reason"]
        assert len(fake.requests) == 1  # nothing sent after a refused upload


async def test_meta_upload_outage_is_retried(app, settings):
    async with FakeProvider(lambda r: json_answer(503, {})) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("meta", fake.url)
        mid = await _queue_file(settings, company, agent, conv)
        await Sender(client, data_dir=settings.data_dir).run_once()
        assert await status_of(mid) == "pending"
        assert await sql.fetchval("SELECT attempts FROM message WHERE id = $1", mid) == 1


async def test_waha_sends_the_file_as_base64(app, settings):
    answer = {
        "id": {
            "fromMe": True,
            "remote": "972987654321@c.us",
            "id": "true_972987654321@c.us_ABC",
            "_serialized": "true_972987654321@c.us_ABC",
        }
    }
    async with FakeProvider(lambda r: json_answer(201, answer)) as fake, httpx.AsyncClient() as client:
        company, agent, channel, conv = await setup("waha", fake.url)
        mid = await _queue_file(settings, company, agent, conv)
        await Sender(client, data_dir=settings.data_dir).run_once()
        [req] = fake.requests
        assert req.path == "/api/sendImage"
        body = req.json()
        assert base64.b64decode(body["file"]["data"]) == PNG and "url" not in body["file"]
        assert body["file"]["mimetype"] == "image/png" and body["file"]["filename"] == "chart.png"
        assert await status_of(mid) == "sent"


async def test_whapi_sends_the_file_as_a_data_uri(app, settings):
    async with (
        FakeProvider(lambda r: json_answer(200, {"sent": True, "message": {"id": "PsqXn5SAD5v7HRA-wHqB9tg"}})) as fake,
        httpx.AsyncClient() as client,
    ):
        company, agent, channel, conv = await setup("whapi", fake.url)
        mid = await _queue_file(settings, company, agent, conv)
        await Sender(client, data_dir=settings.data_dir).run_once()
        [req] = fake.requests
        media = req.json()["media"]
        head, _, data = media.partition(";base64,")
        assert head == "data:image/png;name=chart.png" and base64.b64decode(data) == PNG
        assert await status_of(mid) == "sent"


async def test_twilio_gets_a_signed_link_to_the_file(app, settings, client):
    async with FakeProvider(lambda r: json_answer(201, TWILIO_OK)) as fake, httpx.AsyncClient() as http:
        company, agent, channel, conv = await setup("twilio", fake.url)
        mid = await _queue_file(settings, company, agent, conv)
        await Sender(
            http, data_dir=settings.data_dir, public_url="https://sb.example.com", secret_key=settings.secret_key
        ).run_once()
        [req] = fake.requests
        link = dict(httpx.QueryParams(req.body.decode()))["MediaUrl"]
        assert link.startswith(f"https://sb.example.com/webhooks/media/{mid}/")
        served = await client.get(link.removeprefix("https://sb.example.com"))
        assert served.status_code == 200 and served.content == PNG
        forged = await client.get(f"/webhooks/media/{mid}/{'0' * 40}")
        assert forged.status_code == 404
