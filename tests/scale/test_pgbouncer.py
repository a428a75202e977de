"""Request traffic through PgBouncer in transaction mode, with LISTEN and the leaders' advisory
locks on direct connections (``DATABASE_DIRECT_URL``): webhooks are stored, events reach a
supervisor's stream, one process leads the dispatcher, and nothing needing a session sits
behind the pooler."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import asyncpg
import httpx

from app.domain.channels import create_channel
from app.realtime.leader import SWEEPER
from tests.conftest import LiveServer
from tests.factories import PASSWORD, make_company, make_user

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "providers" / "meta" / "webhook_message_text.json"
SECRET = "bouncer-app-secret"


def webhook(i: int) -> tuple[bytes, dict]:
    data = json.loads(FIX.read_text())
    value = data["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = f"97250000{i % 7:04d}"
    value["messages"][0]["id"] = f"wamid.bouncer{i}"
    value["messages"][0]["text"]["body"] = f"through the pooler {i}"
    raw = json.dumps(data).encode()
    return raw, {
        "content-type": "application/json",
        "x-hub-signature-256": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
    }


async def _stream_until(client: httpx.AsyncClient, wanted: str, started: asyncio.Event) -> None:
    async with client.stream("GET", "/events?topics=inbox", timeout=30) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: ready"):
                started.set()
            if wanted in line:
                return


async def test_requests_through_pgbouncer_and_listen_and_leadership_direct(database_url, pgbouncer, tmp_path):
    company = await make_company()
    supervisor = await make_user(company, "supervisor")
    channel = await create_channel(
        company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1",
            "cred_access_token": "t",
            "cred_app_secret": SECRET,
        },
    )
    server = LiveServer(pgbouncer, tmp_path, workers=2, env={"DATABASE_DIRECT_URL": database_url})
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            await client.get("/login")
            r = await client.post(
                "/login",
                data={"email": supervisor.email, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]},
            )
            assert r.status_code == 303
            started = asyncio.Event()
            watcher = asyncio.create_task(_stream_until(client, "through the pooler 39", started))
            await asyncio.wait_for(started.wait(), 20)
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as poster:
                answers = await asyncio.gather(
                    *(
                        poster.post(f"/webhooks/meta/{channel.id}", content=raw, headers=h)
                        for raw, h in map(webhook, range(40))
                    )
                )
            assert [a.status_code for a in answers] == [200] * 40
            await asyncio.wait_for(watcher, 20)  # the last message's bubble reached the stream (LISTEN)

        conn = await asyncpg.connect(database_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM message WHERE channel_id = $1", channel.id) == 40
            backends = await conn.fetch(
                "SELECT pid, application_name, query FROM pg_stat_activity WHERE datname = current_database()"
            )
            pooled = {b["pid"] for b in backends if b["application_name"] == "pgbouncer"}
            assert pooled, "request traffic went through PgBouncer"
            listeners = [b for b in backends if b["query"].startswith("LISTEN")]
            assert listeners and not {b["pid"] for b in listeners} & pooled  # one per process, direct
            deadline = asyncio.get_running_loop().time() + 15
            while True:  # the dispatcher's leader holds its session advisory lock on a direct connection
                leader = await conn.fetch(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1", SWEEPER
                )
                if leader or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert len(leader) == 1 and leader[0]["pid"] not in pooled
        finally:
            await conn.close()
        assert "prepared statement" not in (tmp_path / f"server-{server.port}.log").read_text()
    finally:
        server.stop()
