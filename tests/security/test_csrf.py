"""CSRF (issue 16, low): a refusal is a 403 in the access log with its request id, and audited;
the token is bound to the login session and a new one is issued at login."""

from __future__ import annotations

import logging

from app.domain import sql
from app.logs import _RequestIdFilter
from tests.factories import PASSWORD, make_company, make_user
from tests.helpers import csrf, login


async def test_a_refusal_is_logged_as_403_with_its_request_id_and_audited(client, caplog):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(_RequestIdFilter())  # what the app's log handlers carry (app.logs)
    r = await client.post(
        "/admin/departments",
        data={"name": "X", "code": "x"},
        headers={"x-request-id": "probe-42"},
    )
    assert r.status_code == 403 and r.headers["x-request-id"] == "probe-42"
    access = [
        rec for rec in caplog.records if rec.name == "switchboard.access" and "/admin/departments" in rec.getMessage()
    ]
    assert access and access[-1].getMessage().endswith(" 403") and access[-1].request_id == "probe-42"
    row = await sql.fetchrow(
        "SELECT action, actor_user_id, actor_address, request_id, target_label FROM audit_event "
        "WHERE action = 'security.csrf_refused'"
    )
    assert row and row["actor_user_id"] == admin.id and row["request_id"] == "probe-42"
    assert row["actor_address"] == "203.0.113.7" and row["target_label"] == "POST /admin/departments"


async def test_the_token_is_replaced_at_login_and_bound_to_the_session(client):
    company = await make_company()
    alice, bob = await make_user(company, "admin"), await make_user(company, "admin")
    await client.get("/login")
    before = csrf(client)
    await login(client, alice.email)
    after = csrf(client)
    assert after != before  # rotated at login: a token planted before the login is worth nothing
    # Alice's token, taken to Bob's session (e.g. a cookie planted by a sibling subdomain), is refused.
    alice_session = client.cookies.get("session")
    await client.post("/logout", data={"_csrf_token": after})
    client.cookies.delete("session")
    await client.get("/login")
    r = await client.post(
        "/login",
        data={"email": bob.email, "password": PASSWORD, "_csrf_token": csrf(client)},
    )
    assert r.status_code == 303
    bob_token = csrf(client)
    client.cookies.set("csrftoken", after)
    r = await client.post("/admin/departments", data={"name": "X", "code": "x", "_csrf_token": after})
    assert r.status_code == 403
    client.cookies.set("csrftoken", bob_token)
    r = await client.post("/admin/departments", data={"name": "Y", "code": "y", "_csrf_token": bob_token})
    assert r.status_code != 403  # past the CSRF check (the form itself may still find fault)
    assert alice_session
