"""Admin-set addresses (issue 16, medium): channel API base URLs, outbound webhooks and "Check
connection" follow the address policy of a default install: https only, no loopback, private
or reserved network, no internal answer echoed, a delivery log that is no port scanner."""

from __future__ import annotations

import dataclasses

import pytest

from app import netpolicy
from app.domain import sql
from app.domain.channels import create_channel
from app.domain.integrations import create_endpoint, queue_webhook
from app.netpolicy import Policy, guarded_client
from app.providers.webhook_sender import REFUSED, WebhookSender
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer
from tests.helpers import login, post_form

WAHA = {
    "name": "WAHA",
    "provider": "waha",
    "cred_session": "default",
    "cred_api_key": "key",
}


@pytest.fixture
def settings(settings):
    # A default install: no PRIVATE_NETWORKS, no ALLOW_HTTP.
    return dataclasses.replace(settings, sender_enabled=False, private_networks="", allow_http=False)


@pytest.fixture
async def admin(client, app):
    company = await make_company()
    user = await make_user(company, "admin")
    await login(client, user.email)
    client.company = company
    return client


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://waha.example.com", "https://"),
        ("https://127.0.0.1:3000", "private"),
        ("https://[::ffff:169.254.169.254]/", "private"),
        ("https://localhost:3000", "private"),
        ("https://10.0.0.5", "private"),
    ],
)
async def test_channel_server_addresses_are_refused_on_save(admin, url, says):
    r = await post_form(admin, "/admin/channels", {**WAHA, "cred_base_url": url})
    assert r.status_code == 400 and says in r.text
    assert await sql.fetchval("SELECT count(*) FROM channel") == 0
    r = await post_form(admin, "/admin/channels", {**WAHA, "cred_base_url": "https://waha.example.com"})
    assert r.status_code == 303


async def test_outbound_webhook_addresses_are_refused_on_save(admin):
    for url in (
        "http://hooks.example.com/x",
        "https://192.168.1.10/x",
        "https://[::1]:8000/health",
    ):
        r = await post_form(admin, "/admin/webhooks", {"url": url, "event_order.created": "1"})
        assert r.status_code == 400, url
    assert await sql.fetchval("SELECT count(*) FROM webhook_endpoint") == 0


async def test_check_connection_does_not_reach_or_echo_an_internal_service(admin, app):
    async with FakeProvider(lambda r: json_answer(200, {"status": "WORKING", "name": "internal-secret"})) as internal:
        channel = await create_channel(admin.company.id, {**WAHA, "cred_base_url": "https://waha.example.com"})
        # An address saved before the policy existed (or by a database edit).
        await sql.execute(
            "UPDATE channel SET credentials = jsonb_set(credentials, '{base_url}', to_jsonb($1::text))",
            internal.url,
        )
        r = await post_form(admin, f"/admin/channels/{channel.id}/check")
        assert r.status_code == 200 and "private" in r.text and "internal-secret" not in r.text
        assert internal.requests == []


async def test_check_connection_repeats_only_known_waha_states(app):
    """Even on an allowed private network, free text from the answer is not shown."""
    from app.providers.waha import PROVIDER

    async with FakeProvider(lambda r: json_answer(200, {"status": "<root:x:0:0>", "name": "internal-secret"})) as fake:
        async with guarded_client(Policy.from_settings("127.0.0.0/8", True)) as http:
            ok, message = await PROVIDER.check_connection(http, {"base_url": fake.url, "session": "default"})
    assert not ok and "root" not in message and "internal-secret" not in message and "unknown" in message


async def test_delivery_to_a_private_address_is_refused_once_without_socket_details(
    app,
):
    company = await make_company()
    async with FakeProvider() as internal:
        endpoint = await create_endpoint(
            company.id,
            {"url": "https://hooks.example.com/x", "events": ["order.created"]},
        )
        await sql.execute(
            "UPDATE webhook_endpoint SET url = $1 WHERE id = $2",
            internal.url + "/admin",
            endpoint.id,
        )
        await queue_webhook(company.id, "order.created", {"id": 1})
        async with guarded_client(netpolicy.current()) as http:
            assert await WebhookSender(http).run_once() == 1
        assert internal.requests == []
    row = await sql.fetchrow("SELECT status, last_error, next_attempt_at FROM webhook_delivery")
    assert row["status"] == "failed" and row["last_error"] == REFUSED
