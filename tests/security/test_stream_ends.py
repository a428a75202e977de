"""A live event stream ends with its access (issue 16, medium): at logout, when the session is
ended or expires, and at any change of the user's role, departments or status, whichever
process serves the stream (two real server processes on one database)."""

from __future__ import annotations

import httpx
import pytest

from app.domain import sql
from tests.factories import make_company, make_user
from tests.test_two_processes import _login, _wait_for_event


async def _stream_ends_with(stream: httpx.Response, name: str, timeout: float = 6.0) -> str:
    data, _ = await _wait_for_event(stream, name, timeout)
    # ... and then the server closes it.
    with pytest.raises(AssertionError, match="stream ended"):
        await _wait_for_event(stream, "never", timeout)
    return data


async def test_logout_on_one_process_ends_the_stream_on_the_other(live_server, second_live_server):
    company = await make_company()
    agent = await make_user(company, "agent")
    async with httpx.AsyncClient(base_url=live_server.url) as on_a:
        await _login(on_a, agent.email)
        async with httpx.AsyncClient(base_url=second_live_server.url, cookies=on_a.cookies) as on_b:
            async with on_b.stream("GET", "/events", timeout=15) as stream:
                await _wait_for_event(stream, "ready", 5)
                r = await on_a.post("/logout", data={"_csrf_token": on_a.cookies["csrftoken"]})
                assert r.status_code == 303
                assert await _stream_ends_with(stream, "logged-out") == "session"


@pytest.mark.parametrize("change", ["role", "departments", "deactivated", "expired"])
async def test_access_changes_end_the_stream(live_server, second_live_server, change):
    company = await make_company()
    supervisor = await make_user(company, "supervisor")
    department = await sql.fetchval(
        "INSERT INTO department (company_id, name, code) VALUES ($1, 'Sales', 'sales') RETURNING id",
        company.id,
    )
    async with httpx.AsyncClient(base_url=live_server.url) as on_a:
        await _login(on_a, supervisor.email)
        async with httpx.AsyncClient(base_url=second_live_server.url, cookies=on_a.cookies) as on_b:
            async with on_b.stream("GET", "/events", timeout=15) as stream:
                await _wait_for_event(stream, "ready", 5)
                if change == "role":
                    await sql.execute(
                        "UPDATE app_user SET role = 'agent' WHERE id = $1",
                        supervisor.id,
                    )
                elif change == "departments":
                    await sql.execute(
                        "INSERT INTO user_department (company_id, user_id, department_id) VALUES ($1, $2, $3)",
                        company.id,
                        supervisor.id,
                        department,
                    )
                elif change == "deactivated":
                    await sql.execute(
                        "UPDATE app_user SET active = false WHERE id = $1",
                        supervisor.id,
                    )
                else:  # idle lifetime over (no row is deleted: the keep-alive beat notices)
                    await sql.execute(
                        "UPDATE http_session SET expires_at = now() WHERE user_id = $1",
                        supervisor.id,
                    )
                expected = "reload" if change in ("role", "departments") else "logged-out"
                await _stream_ends_with(stream, expected)


async def test_presence_changes_do_not_end_the_stream(live_server):
    company = await make_company()
    agent = await make_user(company, "agent")
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        await _login(client, agent.email)
        async with client.stream("GET", "/events", timeout=15) as stream:
            await _wait_for_event(stream, "ready", 5)
            r = await client.post(
                "/presence",
                data={"presence": "online", "_csrf_token": client.cookies["csrftoken"]},
                headers={"HX-Request": "true"},
            )
            assert r.status_code == 200
            await _wait_for_event(stream, f"presence-{agent.id}", 5)
            # Still open: the next keep-alive beats keep coming.
            r = await client.post(
                "/presence",
                data={"presence": "busy", "_csrf_token": client.cookies["csrftoken"]},
                headers={"HX-Request": "true"},
            )
            data, _ = await _wait_for_event(stream, f"presence-{agent.id}", 5)
            assert "busy" in data
