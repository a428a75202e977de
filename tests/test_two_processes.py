"""Two server processes on one database: shared sessions, events crossing processes."""

import asyncio
import time

import httpx

from tests.factories import PASSWORD, make_company, make_user


async def _login(client: httpx.AsyncClient, email: str) -> None:
    await client.get("/login")
    token = client.cookies["csrftoken"]
    response = await client.post("/login", data={"email": email, "password": PASSWORD, "_csrf_token": token})
    assert response.status_code == 303


_readers: dict[int, object] = {}


async def _wait_for_event(stream: httpx.Response, name: str, timeout: float) -> tuple[str, float]:
    """Read the SSE stream until an event called ``name``; return its data."""
    lines = _readers.setdefault(id(stream), stream.aiter_lines())

    async def read() -> str:
        current = None
        async for line in lines:
            if line.startswith("event: "):
                current = line[len("event: ") :]
            elif line.startswith("data: ") and current == name:
                return line[len("data: ") :]
        raise AssertionError("stream ended")

    data = await asyncio.wait_for(read(), timeout)
    return data, time.perf_counter()


async def test_session_and_events_cross_processes(live_server, second_live_server):
    company = await make_company()
    agent = await make_user(company, "agent")
    admin = await make_user(company, "admin")

    async with (
        httpx.AsyncClient(base_url=live_server.url) as on_a,
        httpx.AsyncClient(base_url=second_live_server.url) as admin_on_b,
        httpx.AsyncClient(base_url=live_server.url) as admin_on_a,
    ):
        await _login(on_a, agent.email)
        # The session made on A is valid on B.
        on_b = httpx.AsyncClient(base_url=second_live_server.url, cookies=on_a.cookies)
        async with on_b:
            page = await on_b.get("/")
            assert page.status_code == 200 and agent.name in page.text

        await _login(admin_on_b, admin.email)
        await _login(admin_on_a, admin.email)
        async with (
            admin_on_b.stream("GET", "/events", timeout=10) as stream_b,
            admin_on_a.stream("GET", "/events", timeout=10) as stream_a,
        ):
            assert stream_b.headers["content-type"].startswith("text/event-stream")
            await _wait_for_event(stream_b, "ready", 5)
            await _wait_for_event(stream_a, "ready", 5)
            sent = time.perf_counter()
            response = await on_a.post(
                "/presence",
                data={"presence": "online", "_csrf_token": on_a.cookies["csrftoken"]},
                headers={"HX-Request": "true"},
            )
            assert response.status_code == 200
            data_b, _ = await _wait_for_event(stream_b, f"presence-{agent.id}", 5)
            data_a, _ = await _wait_for_event(stream_a, f"presence-{agent.id}", 5)
            assert "presence-online" in data_b and "presence-online" in data_a
            print(f"presence change on A -> SSE on B: {(time.perf_counter() - sent) * 1000:.1f} ms")


async def test_other_company_sse_clients_do_not_see_events(live_server):
    company, other = await make_company(), await make_company()
    agent = await make_user(company)
    outsider = await make_user(other, "admin")
    async with (
        httpx.AsyncClient(base_url=live_server.url) as agent_client,
        httpx.AsyncClient(base_url=live_server.url) as outsider_client,
    ):
        await _login(agent_client, agent.email)
        await _login(outsider_client, outsider.email)
        async with outsider_client.stream("GET", "/events", timeout=10) as stream:
            await _wait_for_event(stream, "ready", 5)
            await agent_client.post(
                "/presence", data={"presence": "online", "_csrf_token": agent_client.cookies["csrftoken"]}
            )
            try:
                await _wait_for_event(stream, f"presence-{agent.id}", 2)
            except TimeoutError:
                pass
            else:
                raise AssertionError("an event crossed companies")


async def test_sse_requires_login(live_server):
    async with httpx.AsyncClient(base_url=live_server.url) as anonymous:
        response = await anonymous.get("/events")
        assert response.status_code == 302
