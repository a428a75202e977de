"""Login, logout, sessions, throttling, CSRF and cookie flags."""

import asyncio
import dataclasses

import httpx

from app.main import create_app
from tests.factories import PASSWORD, make_company, make_user
from tests.helpers import csrf, login, post_form


async def test_login_page_renders_with_csrf_field(client):
    response = await client.get("/login")
    assert response.status_code == 200
    assert 'name="_csrf_token"' in response.text
    assert client.cookies.get("csrftoken")


async def test_login_then_home_then_logout(client):
    company = await make_company()
    user = await make_user(company, "agent", name="Zoé Agent")
    await login(client, user.email)
    home = await client.get("/")
    assert home.status_code == 200 and "Zoé Agent" in home.text
    response = await post_form(client, "/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    after = await client.get("/")
    assert after.status_code == 302 and after.headers["location"].startswith("/login")


async def test_email_is_case_insensitive(client):
    company = await make_company()
    await make_user(company, email="Mixed@Example.test")
    await login(client, "  MIXED@example.TEST ")


async def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    company = await make_company()
    user = await make_user(company)
    await client.get("/login")
    wrong = await post_form(client, "/login", {"email": user.email, "password": "nope-nope-nope"})
    unknown = await post_form(client, "/login", {"email": "ghost@example.test", "password": "nope-nope-nope"})
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "Wrong e-mail or password." in response.text
    assert 'value="ghost@example.test"' in unknown.text  # the form keeps what was typed


async def test_login_without_csrf_token_is_refused(client):
    company = await make_company()
    user = await make_user(company)
    await client.get("/login")
    response = await client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert client.cookies.get("session") in (None, "null")


async def test_session_id_changes_at_login(client):
    company = await make_company()
    user = await make_user(company)
    await client.get("/login")
    client.cookies.set("session", "f" * 64, domain="testserver.local")  # planted by an attacker
    await login(client, user.email)
    assert client.cookies.get("session") not in (None, "f" * 64)


async def test_deactivated_user_is_logged_out_at_next_request(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    agent = await make_user(company, "agent")
    agent_client = httpx.AsyncClient(transport=client._transport, base_url="http://testserver.local")
    async with agent_client:
        await login(agent_client, agent.email)
        assert (await agent_client.get("/")).status_code == 200
        await login(client, admin.email)
        response = await post_form(client, f"/admin/users/{agent.id}/deactivate")
        assert response.status_code == 303
        after = await agent_client.get("/")
        assert after.status_code == 302 and after.headers["location"].startswith("/login")
        # and cannot log in again
        await agent_client.get("/login")
        again = await post_form(agent_client, "/login", {"email": agent.email, "password": PASSWORD})
        assert again.status_code == 400


async def test_login_is_throttled_per_account(client):
    company = await make_company()
    user = await make_user(company)
    await client.get("/login")
    for _ in range(5):
        r = await post_form(client, "/login", {"email": user.email, "password": "wrong-password"})
        assert r.status_code == 400
    blocked = await post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    # another account from another address is not affected
    other = await make_user(company)
    other_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=client._transport.app, client=("198.51.100.9", 1)),
        base_url="http://testserver.local",
    )
    async with other_client:
        await login(other_client, other.email)


async def test_login_is_throttled_per_address(client):
    company = await make_company()
    await client.get("/login")
    for n in range(20):  # four times the account allowance, spread over many accounts
        r = await post_form(client, "/login", {"email": f"spray{n}@example.test", "password": "x" * 12})
        assert r.status_code == 400
    real = await make_user(company)
    blocked = await post_form(client, "/login", {"email": real.email, "password": PASSWORD})
    assert blocked.status_code == 429


async def test_next_parameter_only_allows_local_paths(client):
    company = await make_company()
    user = await make_user(company, "admin")
    await client.get("/login")
    cases = (("/admin/users", "/admin/users"), ("//evil.example/x", "/inbox"), ("https://evil.example", "/inbox"))
    for target, expected in cases:
        r = await post_form(client, "/login", {"email": user.email, "password": PASSWORD, "next": target})
        assert r.status_code == 303 and r.headers["location"] == expected
        client.cookies.delete("session")


async def test_protected_page_redirects_to_login_with_next(client):
    response = await client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["location"] == "/login?next=/admin/users"
    htmx = await client.get("/admin/users", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/login")


async def test_cookie_flags(client, settings):
    company = await make_company()
    user = await make_user(company)
    await client.get("/login")
    response = await post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie

    https_app = create_app(dataclasses.replace(settings, base_url="https://sb.example"), migrate=False)
    transport = httpx.ASGITransport(app=https_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://sb.example") as secure_client:
        page = await secure_client.get("/login")
        assert "Secure" in page.headers["set-cookie"]


async def test_oversized_login_form_is_refused_cleanly(client):
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": "a@b.co", "password": "x" * 2_000_000, "_csrf_token": csrf(client)}
    )
    assert response.status_code == 413
    assert "too large" in response.text


async def test_malformed_login_input_is_a_clear_400(client):
    await client.get("/login")
    for data in ({}, {"email": "\x00\x01", "password": ""}, {"email": "x" * 5000, "password": "y"}):
        response = await post_form(client, "/login", data)
        assert response.status_code == 400


async def test_concurrent_logins_all_succeed(client):
    company = await make_company()
    users = [await make_user(company) for _ in range(5)]

    async def one(user):
        async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver.local") as c:
            await login(c, user.email)
            return (await c.get("/")).status_code

    assert await asyncio.gather(*(one(u) for u in users)) == [200] * 5
