"""A page's event stream starts where the page's request started: what happens between the
page's reads and the moment its stream opens (a page load, a POST-redirect-GET) still reaches
it, even when another server process serves the stream."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from app.domain import sql
from app.domain.channels import ensure_sandbox_channel, get_channel
from app.domain.messages import receive_webhook
from app.providers.base import InboundMessage, Parsed
from tests.factories import PASSWORD, make_company, make_user
from tests.test_two_processes import _login, _wait_for_event

_readers: dict[int, object] = {}


async def wait_for_text(stream: httpx.Response, name: str, text: str, timeout: float) -> str:
    """Read the stream's events (all their data lines) until one called ``name`` contains ``text``."""
    lines = _readers.setdefault(id(stream), stream.aiter_lines())

    async def read() -> str:
        current, data = None, []
        async for line in lines:
            if line.startswith("event: "):
                current, data = line[len("event: ") :], []
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
            elif line == "" and current == name and text in "\n".join(data):
                return "\n".join(data)
        raise AssertionError("stream ended")

    return await asyncio.wait_for(read(), timeout)


async def customer_writes(channel, text: str, n: int) -> None:
    await receive_webhook(
        channel,
        Parsed(
            messages=[
                InboundMessage(
                    provider_message_id=f"replay-{n}", phone="+15550100001", name="Zoé", type="text", text=text
                )
            ]
        ),
    )


async def test_events_between_a_page_and_its_stream_are_replayed_across_processes(live_server, second_live_server):
    company = await make_company()
    admin = await make_user(company, "admin")
    channel = await get_channel(company.id, (await ensure_sandbox_channel(company.id)).id)
    await customer_writes(channel, "first", 1)
    async with (
        httpx.AsyncClient(base_url=live_server.url) as on_a,
        httpx.AsyncClient(base_url=second_live_server.url) as on_b,
    ):
        await _login(on_a, admin.email)
        on_b.cookies = on_a.cookies
        conv_id = await sql.fetchval("SELECT id FROM conversation WHERE company_id = $1", company.id)
        page = await on_a.get(f"/simulator?channel={channel.id}&phone=%2B15550100001")  # served by process A
        since = re.search(r'sse-connect="/events\?topics=conversation&since=([0-9.]+)"', page.text).group(1)
        assert "first" in page.text
        await customer_writes(channel, "written while the page's stream was opening", 2)
        await asyncio.sleep(0.3)  # the event has reached both processes' hubs: a stream opened now
        # without `since` never gets it (the gap this closes); with it, it does, on process B.
        async with (
            on_b.stream("GET", f"/events?topics=conversation&since={since}", timeout=10) as late,
            on_b.stream("GET", "/events?topics=conversation", timeout=10) as unaware,
        ):
            await wait_for_text(late, f"message-new-{conv_id}", "written while the page", 5)
            with pytest.raises(asyncio.TimeoutError):
                await wait_for_text(unaware, f"message-new-{conv_id}", "written while the page", 1)
            # Live events follow the replayed ones on the same stream.
            await customer_writes(channel, "and after", 3)
            await wait_for_text(late, f"message-new-{conv_id}", "and after", 5)


async def test_a_page_older_than_the_hub_remembers_is_told_to_resync(live_server):
    company = await make_company()
    admin = await make_user(company, "admin")
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        await _login(client, admin.email)
        async with client.stream("GET", "/events?topics=conversation&since=1000000000", timeout=10) as stream:
            await _wait_for_event(stream, "ready", 5)
            data, _ = await _wait_for_event(stream, "resync", 5)
            assert data == "gap"


@pytest.mark.parametrize("since", ["soon", "nan", "inf", "1e30", "12,5", "0x10", "9" * 5000])
async def test_a_malformed_since_is_refused(client, since):
    company = await make_company()
    admin = await make_user(company, "admin")
    await client.get("/login")
    r = await client.post(
        "/login", data={"email": admin.email, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]}
    )
    assert r.status_code == 303
    r = await client.get(f"/events?topics=conversation&since={since}")
    assert r.status_code == 400
    assert "since: a time in seconds since 1970" in r.text


async def test_a_stream_needs_a_login_whatever_its_since(client):
    r = await client.get("/events?since=1700000000")
    assert r.status_code == 302 and r.headers["location"].startswith("/login")
