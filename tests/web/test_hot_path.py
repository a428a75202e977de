"""The ingest's hot path (issue 21): provider webhooks and health checks skip the session, login
and CSRF middlewares, while staying exactly as protected as before (a webhook is authenticated
by its signature alone, never by a cookie)."""

from __future__ import annotations

from tests.web.test_webhooks import FIX, channels, meta_headers, post_meta, settings  # noqa: F401 - fixtures


async def test_a_webhook_sets_no_cookie_and_needs_none(client, channels):
    response = await post_meta(client, channels["meta"], "webhook_message_text.json")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers  # no CSRF token, no session row written
    health = await client.get("/health")
    assert health.status_code == 200 and "set-cookie" not in health.headers


async def test_cookies_do_not_stand_in_for_the_signature(client, channels):
    client.cookies.set("session", "a" * 32)
    client.cookies.set("csrftoken", "b" * 32)
    body = (FIX / "meta/webhook_message_text.json").read_bytes()
    unsigned = await client.post(
        f"/webhooks/meta/{channels['meta'].id}", content=body, headers={"content-type": "application/json"}
    )
    assert unsigned.status_code in (401, 403)
    forged = await client.post(
        f"/webhooks/meta/{channels['meta'].id}", content=body, headers=meta_headers(body, "not-the-app-secret")
    )
    assert forged.status_code in (401, 403)


async def test_other_pages_still_get_their_csrf_cookie(client):
    response = await client.get("/login")
    assert "csrftoken" in response.headers.get("set-cookie", "")
