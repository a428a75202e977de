"""ASVS level 2 items of issue 16: password policy and self-service change, sessions the user
sees and ends, an admin ending all of a user's sessions, the absolute session lifetime, and
two-factor login (TOTP with recovery codes, required of admins by a company setting)."""

from __future__ import annotations

import re
import time

import httpx
import pyotp
import pytest

from app.domain import sql
from app.domain.passwords import password_problem
from tests.factories import PASSWORD, make_company, make_user
from tests.helpers import csrf, login, post_form

NEW = "violet-tractor-humming-42"


@pytest.fixture
async def second(app):
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver.local",
        headers={"user-agent": "Phone browser"},
    ) as c:
        yield c


def test_password_policy():
    assert "12" in password_problem("short-pass")
    for weak in (
        "password1234",
        "qwertyuiop123",
        "aaaaaaaaaaaaaaaa",
        "alice.smith@acme.test",
    ):
        assert "too easy to guess" in password_problem(weak, ("alice.smith@acme.test", "Alice Smith")), weak
    assert password_problem(NEW) is None


async def test_change_password_ends_the_other_sessions(client, second):
    user = await make_user(await make_company(), "agent")
    await login(client, user.email)
    await login(second, user.email)
    page = await client.get("/account/security")
    assert page.status_code == 200 and "Phone browser" in page.text and "198.51.100.9" in page.text
    r = await post_form(
        client,
        "/account/security/password",
        {
            "current_password": PASSWORD,
            "new_password": "password1234",
            "confirm_password": "password1234",
        },
    )
    assert r.status_code == 400 and "too easy to guess" in r.text and "common password" in r.text  # zxcvbn's advice
    r = await post_form(
        client,
        "/account/security/password",
        {
            "current_password": "wrong-one-here",
            "new_password": NEW,
            "confirm_password": NEW,
        },
    )
    assert r.status_code == 400 and "not your current password" in r.text
    r = await post_form(
        client,
        "/account/security/password",
        {"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW},
    )
    assert r.status_code == 303
    assert (await client.get("/account/security")).status_code == 200  # this session stays
    assert (await second.get("/inbox")).status_code in (
        302,
        303,
    )  # the other one is over
    assert await sql.fetchval("SELECT count(*) FROM audit_event WHERE action = 'password.changed'") == 1
    await login(second, user.email, NEW)


async def test_users_see_and_end_their_sessions(client, second):
    user = await make_user(await make_company(), "agent")
    await login(client, user.email)
    await login(second, user.email)
    page = (await client.get("/account/security")).text
    handles = re.findall(r'id="session-([0-9a-f]+)"', page)
    assert len(handles) == 2 and "This session" in page
    other = next(h for h in handles if f"/account/security/sessions/{h}/end" in page)
    assert (await post_form(client, f"/account/security/sessions/{other}/end")).status_code == 303
    assert (await second.get("/inbox")).status_code in (302, 303)
    assert (await post_form(client, f"/account/security/sessions/{other}/end")).status_code == 404
    await login(second, user.email)
    assert (await post_form(client, "/account/security/sessions/end-others")).status_code == 303
    assert (await second.get("/inbox")).status_code in (302, 303)
    assert (await client.get("/inbox")).status_code == 200


async def test_an_admin_ends_all_sessions_of_a_user(client, second):
    company, other = await make_company(), await make_company()
    admin, agent = await make_user(company, "admin"), await make_user(company, "agent")
    stranger = await make_user(other, "agent")
    await login(second, agent.email)
    await login(client, admin.email)
    assert (await post_form(client, f"/admin/users/{stranger.id}/sessions/end")).status_code == 404
    assert (await post_form(client, f"/admin/users/{agent.id}/sessions/end")).status_code == 303
    assert (await second.get("/inbox")).status_code in (302, 303)
    assert await sql.fetchval("SELECT count(*) FROM audit_event WHERE action = 'session.all_ended'") == 1


async def test_sessions_have_an_absolute_lifetime(client):
    user = await make_user(await make_company(), "agent")
    await login(client, user.email)
    assert (await client.get("/inbox")).status_code == 200
    await sql.execute("UPDATE http_session SET created_at = now() - interval '13 hours'")
    assert (await client.get("/inbox")).status_code in (
        302,
        303,
    )  # busy, but 12 h are over


async def enrol(client) -> tuple[str, list[str]]:
    await post_form(client, "/account/security/mfa/start")
    page = (await client.get("/account/security")).text
    assert "<svg" in page and "<img" not in page  # the QR code is inline SVG
    secret = re.search(r"<code>([A-Z2-7]{16,})</code>", page).group(1)
    r = await post_form(client, "/account/security/mfa/confirm", {"code": "000000"})
    assert r.status_code == 400
    r = await post_form(client, "/account/security/mfa/confirm", {"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 200 and "Two-factor login is on" in r.text
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", r.text)
    assert len(codes) == 10
    return secret, codes


async def password_step(client, email) -> httpx.Response:
    await client.get("/login")
    return await client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "_csrf_token": csrf(client)},
    )


async def test_two_factor_login(client, second):
    user = await make_user(await make_company(), "supervisor")
    await login(client, user.email)
    secret, codes = await enrol(client)
    r = await password_step(second, user.email)
    assert r.status_code == 303 and r.headers["location"] == "/login/mfa"
    assert (await second.get("/inbox")).status_code in (302, 303)  # not logged in yet
    await password_step(second, user.email)
    r = await post_form(second, "/login/mfa", {"code": "123456"})
    assert r.status_code == 400
    # A code already used (at enrolment) is not accepted again; the next one is.
    now = time.time()
    used = await sql.fetchval("SELECT mfa_last_step FROM app_user WHERE id = $1", user.id)
    r = await post_form(second, "/login/mfa", {"code": pyotp.TOTP(secret).at(used * 30)})
    assert r.status_code == 400
    code = pyotp.TOTP(secret).at(now + 30)
    r = await post_form(second, "/login/mfa", {"code": code})
    assert r.status_code == 303 and (await second.get("/inbox")).status_code == 200
    # Recovery codes work once each.
    second.cookies.clear()
    await password_step(second, user.email)
    assert (await post_form(second, "/login/mfa", {"code": codes[0].upper()})).status_code == 303
    second.cookies.clear()
    await password_step(second, user.email)
    assert (await post_form(second, "/login/mfa", {"code": codes[0]})).status_code == 400
    actions = [r["action"] for r in await sql.fetch("SELECT action FROM audit_event ORDER BY id")]
    assert {"mfa.enabled", "login.mfa_failed", "login.mfa_succeeded"} <= set(actions)
    row = await sql.fetchrow(
        "SELECT request_id, actor_address FROM audit_event WHERE action = 'login.mfa_failed' LIMIT 1"
    )
    assert row["request_id"] and row["actor_address"] == "198.51.100.9"


async def test_wrong_codes_are_throttled(client, second):
    user = await make_user(await make_company(), "agent")
    await login(client, user.email)
    await enrol(client)
    await password_step(second, user.email)
    for _ in range(5):
        assert (await post_form(second, "/login/mfa", {"code": "000000"})).status_code == 400
    r = await post_form(second, "/login/mfa", {"code": "000000"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert await sql.fetchval("SELECT count(*) FROM audit_event WHERE action = 'login.throttled'") == 1


async def test_company_can_require_two_factor_of_admins(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    r = await post_form(
        client,
        "/admin/company",
        {
            "name": company.name,
            "timezone": "UTC",
            "language": "en",
            "mfa_required_for_admins": "1",
        },
    )
    assert r.status_code == 303
    await post_form(client, "/logout")
    client.cookies.clear()
    await login(client, admin.email)
    r = await client.get("/admin/users")
    assert r.status_code == 303 and r.headers["location"] == "/account/security"
    assert "requires two-factor" in (await client.get("/account/security")).text
    await enrol(client)
    assert (await client.get("/admin/users")).status_code == 200
    r = await post_form(client, "/account/security/mfa/disable", {"password": PASSWORD})
    assert r.status_code == 400 and "requires two-factor" in r.text
