"""Inbound media cannot be turned into a request forgery (issue 16, high).

The media address comes from a webhook payload. It is fetched only from the hosts the channel's
provider serves files from, with credentials only there, redirects only to that provider's CDN
and without credentials, the connected address checked after DNS resolution, within size and
time limits, kept under the type its bytes show, and given up after a bounded number of tries.
Only 127.0.0.1 is ever connected to: other names are resolved by an injected resolver."""

from __future__ import annotations

import dataclasses
import json

import pytest

from app.domain import sql
from app.domain.channels import create_channel
from app.domain.messages import receive_webhook
from app.netpolicy import Policy, guarded_client
from app.providers.base import InboundMessage, Media, Parsed
from app.providers.sender import Sender
from tests.factories import make_company
from tests.fake_provider import FakeProvider, json_answer

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 200
LOCAL = Policy.from_settings("127.0.0.0/8", allow_http=True)


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


def to_localhost(*names):
    """A resolver that answers 127.0.0.1 for ``names`` and refuses to look anything else up."""

    async def resolve(host, port):
        assert host in names or host == "127.0.0.1", f"unexpected lookup of {host}"
        return ["127.0.0.1"]

    return resolve


async def twilio_channel(company, api_base="https://api.twilio.com"):
    return await create_channel(
        company.id,
        {
            "name": "tw",
            "provider": "twilio",
            "cred_account_sid": "ACX",
            "cred_auth_token": "tok",
            "cred_from_number": "+14155238886",
            "cred_api_base": api_base,
        },
    )


async def inbound(channel, url="", mime="image/jpeg", media_id="", pid="m1"):
    media = Media(url=url, mime_type=mime, media_id=media_id)
    await receive_webhook(
        channel,
        Parsed(
            messages=[
                InboundMessage(
                    provider_message_id=pid,
                    phone="+5511999999999",
                    type="image",
                    media=media,
                )
            ]
        ),
    )


async def stored_media():
    return json.loads(await sql.fetchval("SELECT data->'media' FROM message ORDER BY id DESC LIMIT 1"))


async def test_payload_url_naming_an_internal_service_is_never_requested(app, settings):
    """The probe's attack: a signed webhook whose media URL is the app's own /health."""
    company = await make_company()
    async with FakeProvider(lambda r: json_answer(200, {"status": "ok"})) as internal:
        channel = await twilio_channel(company)  # the real Twilio API, not this host
        await inbound(channel, url=internal.url + "/health")
        async with guarded_client(LOCAL) as http:
            assert await Sender(http, data_dir=settings.data_dir).fetch_media_once()
        assert internal.requests == []
    media = await stored_media()
    assert "path" not in media and "not a server of Twilio" in media["error"]


async def test_the_connected_address_is_checked_even_on_the_configured_host(app, settings):
    """The channel's own server resolving to loopback is refused unless PRIVATE_NETWORKS allows it."""
    company = await make_company()
    async with FakeProvider(lambda r: (200, {"content-type": "image/jpeg"}, JPEG)) as fake:
        port = fake.url.rsplit(":", 1)[1]
        channel = await twilio_channel(company, api_base=f"https://api.twilio.test:{port}")
        await inbound(
            channel,
            url=f"https://api.twilio.test:{port}/2010-04-01/Accounts/ACX/Messages/MM1/Media/ME1",
        )
        async with guarded_client(Policy(), to_localhost("api.twilio.test")) as http:
            assert await Sender(http, data_dir=settings.data_dir).fetch_media_once()
        assert fake.requests == []
    media = await stored_media()
    assert "path" not in media and "refused" in media["error"] and "127.0.0.1" in media["error"]


async def test_credentials_go_only_to_the_provider_and_redirects_only_to_its_cdn(app, settings):
    company = await make_company()
    async with FakeProvider(lambda r: (200, {"content-type": "image/jpeg"}, JPEG)) as cdn:
        cdn_port = cdn.url.rsplit(":", 1)[1]

        def api(req):
            if req.path.endswith("/ME1"):
                return (
                    307,
                    {"location": f"http://mms.twiliocdn.com:{cdn_port}/ACX/file?Expires=1"},
                    b"",
                )
            return 302, {"location": f"{cdn.url}/steal"}, b""  # another host: refused

        async with FakeProvider(api) as fake:
            channel = await twilio_channel(company, api_base=fake.url)
            await inbound(
                channel,
                url=f"{fake.url}/2010-04-01/Accounts/ACX/Messages/MM1/Media/ME1",
                pid="a",
            )
            await inbound(
                channel,
                url=f"{fake.url}/2010-04-01/Accounts/ACX/Messages/MM2/Media/ME2",
                pid="b",
            )
            async with guarded_client(LOCAL, to_localhost("mms.twiliocdn.com")) as http:
                sender = Sender(http, data_dir=settings.data_dir)
                assert await sender.fetch_media_once() and await sender.fetch_media_once()
            assert [r.headers["authorization"].startswith("Basic ") for r in fake.requests] == [True, True]
        assert [r.path for r in cdn.requests] == ["/ACX/file?Expires=1"]
        assert "authorization" not in cdn.requests[0].headers and cdn.requests[0].headers["host"].startswith("mms.")
    rows = [json.loads(r["m"]) for r in await sql.fetch("SELECT data->'media' AS m FROM message ORDER BY id")]
    assert rows[0]["size"] == len(JPEG) and "error" not in rows[0]
    assert "path" not in rows[1] and "127.0.0.1" in rows[1]["error"]


@pytest.mark.parametrize(
    "declared, body, kept",
    [
        ("image/jpeg", b"<html><script>alert(1)</script></html>", None),
        (
            "image/png",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            None,
        ),
        ("application/pdf", JPEG, "image/jpeg"),
        ("image/jpeg", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", None),
        ("", b"%PDF-1.7\n...", "application/pdf"),
    ],
)
async def test_stored_type_comes_from_the_bytes(app, settings, declared, body, kept):
    company = await make_company()
    async with FakeProvider(lambda r: (200, {"content-type": declared or "image/jpeg"}, body)) as fake:
        channel = await twilio_channel(company, api_base=fake.url)
        await inbound(channel, url=f"{fake.url}/2010-04-01/x/Media/ME1", mime=declared)
        async with guarded_client(LOCAL) as http:
            await Sender(http, data_dir=settings.data_dir).fetch_media_once()
    media = await stored_media()
    if kept is None:
        assert "path" not in media and "not kept" in media["error"]
    else:
        assert media["mime_type"] == kept and (settings.data_dir / media["path"]).read_bytes() == body


async def test_media_that_never_comes_fails_with_a_reason_after_bounded_tries(app, settings):
    company = await make_company()
    async with FakeProvider(lambda r: json_answer(503, {"message": "down"})) as fake:
        channel = await twilio_channel(company, api_base=fake.url)
        await inbound(channel, url=f"{fake.url}/2010-04-01/x/Media/ME1")
        async with guarded_client(LOCAL) as http:
            sender = Sender(http, data_dir=settings.data_dir, media_max_attempts=3)
            for _ in range(5):
                await sql.execute("UPDATE message SET next_attempt_at = now()")
                await sender.fetch_media_once()
        assert len(fake.requests) == 3
    media = await stored_media()
    assert media["error"].startswith("Gave up after 3 attempts") and media["tries"] == 2


async def test_a_slow_file_is_cut_off_by_the_time_limit(app, settings):
    company = await make_company()
    async with FakeProvider(lambda r: (200, {"content-type": "image/jpeg"}, JPEG)) as fake:
        fake.hang = 2.0
        channel = await twilio_channel(company, api_base=fake.url)
        await inbound(channel, url=f"{fake.url}/2010-04-01/x/Media/ME1")
        async with guarded_client(LOCAL) as http:
            await Sender(http, data_dir=settings.data_dir, media_timeout=0.3).fetch_media_once()
    media = await stored_media()
    assert "path" not in media and "error" not in media and media["tries"] == 1
    assert await sql.fetchval("SELECT next_attempt_at > now() FROM message")


async def test_an_announced_oversize_file_is_refused_before_reading(app, settings):
    company = await make_company()
    async with FakeProvider(lambda r: (200, {"content-type": "image/jpeg"}, JPEG)) as fake:
        channel = await twilio_channel(company, api_base=fake.url)
        await inbound(channel, url=f"{fake.url}/2010-04-01/x/Media/ME1")
        async with guarded_client(LOCAL) as http:
            await Sender(http, data_dir=settings.data_dir, media_max_bytes=100).fetch_media_once()
    assert "larger than" in (await stored_media())["error"]


async def test_waha_files_come_from_the_configured_server_only(app, settings):
    """WAHA names files under its own WAHA_BASE_URL (localhost:3000 in the fixtures): the path is
    fetched from the server the admin configured; a path outside /api/files/ is not a file."""
    company = await make_company()
    async with FakeProvider(lambda r: (200, {"content-type": "image/jpeg"}, JPEG)) as fake:
        channel = await create_channel(
            company.id,
            {
                "name": "wa",
                "provider": "waha",
                "cred_base_url": fake.url,
                "cred_session": "default",
                "cred_api_key": "key-1",
            },
        )
        await inbound(channel, url="http://localhost:3000/api/files/true_1@c.us_AAA.jpg", pid="w1")
        await inbound(channel, url=f"{fake.url}/api/sessions/default", pid="w2")
        async with guarded_client(LOCAL) as http:
            sender = Sender(http, data_dir=settings.data_dir)
            await sender.fetch_media_once()
            await sender.fetch_media_once()
        assert [(r.path, r.headers.get("x-api-key")) for r in fake.requests] == [
            ("/api/files/true_1@c.us_AAA.jpg", "key-1")
        ]
    rows = [json.loads(r["m"]) for r in await sql.fetch("SELECT data->'media' AS m FROM message ORDER BY id")]
    assert rows[0]["size"] == len(JPEG) and "gave no address" in rows[1]["error"]


async def test_meta_graph_answer_naming_another_host_gets_no_request(app, settings):
    company = await make_company()
    async with FakeProvider(lambda r: (200, {"content-type": "image/jpeg"}, JPEG)) as elsewhere:
        port = elsewhere.url.rsplit(":", 1)[1]

        def graph(req):
            return json_answer(
                200,
                {
                    "url": f"http://files.attacker.test:{port}/x",
                    "mime_type": "image/jpeg",
                },
            )

        async with FakeProvider(graph) as fake:
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
            await inbound(channel, media_id="65463453")
            async with guarded_client(LOCAL, to_localhost("files.attacker.test")) as http:
                await Sender(http, data_dir=settings.data_dir).fetch_media_once()
            assert [r.path for r in fake.requests] == ["/v21.0/65463453"]
        assert elsewhere.requests == []
    assert "files.attacker.test" in (await stored_media())["error"]


async def test_the_signed_link_to_an_outbound_file_expires(client, app, settings, monkeypatch):
    """Twilio downloads outbound files from a signed link (issue 16, low): it stops working after
    an hour, and its expiry cannot be extended without the key."""
    from app.domain.media import LINK_SECONDS, media_token
    from tests.conftest import TEST_SECRET

    company = await make_company()
    path = f"media/{company.id}/up-x.pdf"
    (settings.data_dir / path).parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / path).write_bytes(b"%PDF-1.4 test")
    conv = await sql.fetchval(
        """INSERT INTO conversation (company_id, channel_id, contact_id, status)
           VALUES ($1, $2, $3, 'assigned') RETURNING id""",
        company.id,
        (await twilio_channel(company)).id,
        await sql.fetchval(
            "INSERT INTO contact (company_id, phone) VALUES ($1, '+15550100001') RETURNING id",
            company.id,
        ),
    )
    mid = await sql.fetchval(
        """INSERT INTO message (company_id, conversation_id, channel_id, direction, author, type, data, status)
           SELECT company_id, id, channel_id, 'out', 'agent', 'document', $2::jsonb, 'sent' FROM conversation WHERE id = $1
           RETURNING id""",
        conv,
        json.dumps({"media": {"path": path, "mime_type": "application/pdf"}}),
    )
    fresh = media_token(TEST_SECRET, mid, path)
    assert (await client.get(f"/webhooks/media/{mid}/{fresh}")).content == b"%PDF-1.4 test"
    import time as _time

    old = media_token(TEST_SECRET, mid, path, now=_time.time() - LINK_SECONDS - 1)
    assert (await client.get(f"/webhooks/media/{mid}/{old}")).status_code == 404
    expires, signature = old.split(".")
    stretched = f"{int(expires) + 2 * LINK_SECONDS}.{signature}"
    assert (await client.get(f"/webhooks/media/{mid}/{stretched}")).status_code == 404
