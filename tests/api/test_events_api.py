"""``GET /api/v1/events`` against a real server process: seed 004's call events and the chat's
events as JSON, filtered by the key's company and scopes, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from app.domain import sql
from app.domain.api_keys import create_api_key
from app.domain.channels import ensure_sandbox_channel, get_channel
from app.domain.events import emit
from app.domain.messages import receive_webhook
from app.domain.presence import set_presence
from app.providers.base import InboundMessage, Parsed
from app.telephony.live import PbxLiveChanged
from tests.factories import make_company, make_user


class Events:
    """Reads one SSE stream event by event: (name, id, data as JSON)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 5.0) -> tuple[str, str | None, object]:
        async def read():
            name, ident, data = None, None, []
            async for line in self.lines:
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("id: "):
                    ident = line[4:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and name:
                    return name, ident, json.loads("\n".join(data))
            raise AssertionError("stream ended")

        return await asyncio.wait_for(read(), timeout)

    async def until(self, name: str, timeout: float = 5.0, skip=("stats:update",)) -> tuple[str | None, object]:
        while True:
            got, ident, data = await self.next(timeout)
            if got == name:
                return ident, data
            assert got in skip or got == "ready", (got, data)


async def _key(company, *scopes) -> dict:
    _, key = await create_api_key(company.id, {"name": "events", "scopes": list(scopes)}, user_id=None)
    return {"Authorization": f"Bearer {key}"}


async def _publish(company, version: int, calls: list[dict], endpoints: dict) -> None:
    snapshot = {
        "calls": calls,
        "endpoints": endpoints,
        "queues": {},
        "stats": {
            "active_calls": len(calls),
            "registered_extensions": sum(e["registered"] for e in endpoints.values()),
            "registered_trunks": 0,
        },
    }
    async with sql.transaction():
        await sql.execute(
            """INSERT INTO pbx_live (company_id, version, snapshot) VALUES ($1, $2, $3::jsonb)
               ON CONFLICT (company_id) DO UPDATE SET version = $2, snapshot = $3::jsonb""",
            company.id,
            version,
            json.dumps(snapshot),
        )
        await emit(PbxLiveChanged(company.id, version))


CALL = {
    "id": "1795.1",
    "from_num": "1001",
    "from_name": "Alice",
    "to_num": "1002",
    "to_name": "",
    "state": "Ringing",
    "started": 1795000000.0,
    "answered": None,
    "channels": ["PJSIP/1001-00000001"],
}
PEERS = {"1001": {"kind": "extension", "state": "Not in use", "registered": True}}


async def test_seed_004_call_events_in_order_and_scoped(live_server):
    company, other = await make_company(), await make_company()
    calls_key, theirs = await _key(company, "calls"), await _key(other, "calls", "read")
    await _publish(company, 1, [], PEERS)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        async with (
            client.stream("GET", "/api/v1/events", headers=calls_key) as mine,
            client.stream("GET", "/api/v1/events", headers=theirs) as spy,
        ):
            assert mine.headers["content-type"].startswith("text/event-stream")
            ours, their = Events(mine), Events(spy)
            assert (await ours.next())[0] == "ready" and (await their.next())[0] == "ready"
            await _publish(company, 2, [CALL], PEERS)
            _, new = await ours.until("call:new")
            assert new == CALL
            _, stats = await ours.until("stats:update", skip=())
            assert stats == {"activeCalls": 1, "registeredExtensions": 1, "registeredTrunks": 0}
            await _publish(company, 3, [{**CALL, "state": "Up"}], {"1001": {**PEERS["1001"], "registered": False}})
            assert (await ours.until("call:state-change"))[1] == {"id": "1795.1", "state": "Up"}
            assert (await ours.until("peer:status"))[1] == {"type": "extension", "id": "1001", "status": "Unregistered"}
            await _publish(company, 4, [], PEERS)
            assert (await ours.until("call:hangup"))[1] == {"id": "1795.1"}
            with pytest.raises(asyncio.TimeoutError):  # another company's key hears nothing of it
                await their.until("call:new", timeout=1)


async def test_chat_events_need_read_and_resume_with_last_event_id(live_server):
    company = await make_company()
    channel = await get_channel(company.id, (await ensure_sandbox_channel(company.id)).id)
    read_key, calls_only = await _key(company, "read"), await _key(company, "calls")

    async def customer_writes(n: int, text: str) -> None:
        await receive_webhook(
            channel,
            Parsed(
                messages=[
                    InboundMessage(
                        provider_message_id=f"ev-{company.id}-{n}",
                        phone="+15550100001",
                        name="Zoé",
                        type="text",
                        text=text,
                    )
                ]
            ),
        )

    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        async with (
            client.stream("GET", "/api/v1/events", headers=read_key) as first,
            client.stream("GET", "/api/v1/events", headers=calls_only) as deaf,
        ):
            events, deaf_events = Events(first), Events(deaf)
            await events.until("ready")
            await customer_writes(1, "Bonjour")
            ident, message = await events.until(
                "message:received", skip=("conversation:queued", "conversation:assigned")
            )
            assert message["text"] == "Bonjour" and message["direction"] == "in" and ident
            with pytest.raises(asyncio.TimeoutError):
                await deaf_events.until("message:received", timeout=1)
            agent = await make_user(company, "agent")
            await set_presence(agent, "online")
            _, presence = await events.until("agent:presence", skip=("conversation:queued", "conversation:assigned"))
            assert presence == {"user_id": agent.id, "presence": "online"}
        # Disconnected: a message arrives; reconnecting with the last id gets it first.
        await customer_writes(2, "Vous êtes là ?")
        await asyncio.sleep(0.5)
        async with client.stream("GET", "/api/v1/events", headers={**read_key, "Last-Event-ID": ident}) as again:
            resumed = Events(again)
            _, message = await resumed.until(
                "message:received", skip=("conversation:queued", "conversation:assigned", "agent:presence")
            )
            assert message["text"] == "Vous êtes là ?"
        async with client.stream("GET", "/api/v1/events", headers={**read_key, "Last-Event-ID": "1000000000"}) as old:
            assert (await Events(old).until("resync"))[1] == {"reason": "gap"}
        bad = await client.get("/api/v1/events", headers={**read_key, "Last-Event-ID": "yesterday"})
        assert bad.status_code == 400
        assert (await client.get("/api/v1/events")).status_code == 401
