"""Voice and chat as one, at scale (issue 17): a burst of calls and chats for 200 agents.

Starts an embedded PostgreSQL and the whole app in this process (HTTP through ASGI, the hub's
LISTEN connection, the dispatcher, the AMI leader) against a fake Asterisk on 127.0.0.1.
200 agents (capacity 3, one department) are linked to extensions 2000..2199. In one burst the
fake Asterisk rings CALLS of them (queue calls whose caller ID is a known customer, as real
captured blocks re-addressed) while CHATS customers write through the Meta webhook (signed).

* ``screenpop_p95_ms``: from the moment the ringing events are written to the AMI socket to
  the moment the ringing agent's screen-pop fragment (with the customer's name) is rendered
  for their event stream (the AMI leader writes the phone state and NOTIFYs, the hub receives
  it, the renderer reads the caller card): the path an open page's SSE stream takes.
* ``capacity_violations``: chats assigned to an agent in a transaction that began after their
  phone started ringing (the default policy is "no new chats during a call"), plus agents above
  capacity. Must be 0.
* ``drain_ms``: after every call hangs up, until the chats left waiting are all assigned.

Run: `.venv/bin/python tests/benchmarks/bench_voice.py` (sizes: VOICE_AGENTS, VOICE_CALLS,
VOICE_CHATS; VOICE_CALL_RATE spreads the calls at that many per second instead of one burst).
The last line is the RESULT. Everything runs in one process on one event loop here (the app
spreads webhooks over several processes), so a burst's renders queue behind each other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx  # noqa: E402

from app import db  # noqa: E402
from app.domain import sql  # noqa: E402
from app.domain.channels import create_channel  # noqa: E402
from app.domain.phone import AgentPhoneChanged  # noqa: E402
from app.domain.tables import User  # noqa: E402
from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.web.live import render_event  # noqa: E402
from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.factories import make_company, make_department, make_user  # noqa: E402
from tests.telephony.fake_ami import FakeAmi  # noqa: E402
from tests.telephony.test_console_calls import CALLER, first, retag  # noqa: E402

AGENTS = int(os.environ.get("VOICE_AGENTS", 200))
CALLS = int(os.environ.get("VOICE_CALLS", 100))
CHATS = int(os.environ.get("VOICE_CHATS", 400))
CALL_RATE = float(os.environ.get("VOICE_CALL_RATE", 0))  # calls per second; 0 = all in one burst
SECRET = "bench-voice-secret"
META = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "providers" / "meta" / "webhook_message_text.json").read_text()
)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def customer(i: int) -> str:
    return f"+3361{i:07d}"


def ring(i: int, extension: str) -> list[str]:
    """Customer i's queue call ringing ``extension`` (real blocks, re-addressed)."""
    uid, member = f"8{i:06d}.1", f"8{i:06d}.2"
    caller = retag(
        first("real_event_Newchannel.txt", Uniqueid=CALLER),
        Channel=f"PJSIP/trunk-c{i:07x}",
        Uniqueid=uid,
        Linkedid=uid,
        CallerIDNum=customer(i),
        CallerIDName="",
    )
    ringing = first("real_flow_basic_call_1001_to_1002.txt", Event="Newstate", Channel="PJSIP/1002-00000001")
    return [
        caller,
        retag(
            ringing,
            Channel=f"PJSIP/{extension}-m{i:07x}",
            Uniqueid=member,
            Linkedid=uid,
            CallerIDNum=extension,
            CallerIDName="Agent",
            ConnectedLineNum=customer(i),
        ),
    ]


def hang_up(i: int, extension: str) -> list[str]:
    uid, member = f"8{i:06d}.1", f"8{i:06d}.2"
    base = first("real_event_Hangup.txt", Uniqueid=CALLER)
    free = retag(first("real_event_DeviceStateChange.txt", Device="PJSIP/1001"), Device=f"PJSIP/{extension}")
    return [
        retag(base, Channel=f"PJSIP/{extension}-m{i:07x}", Uniqueid=member, Linkedid=uid),
        retag(base, Channel=f"PJSIP/trunk-c{i:07x}", Uniqueid=uid, Linkedid=uid),
        free,
    ]


def webhook(i: int) -> tuple[bytes, dict]:
    data = json.loads(json.dumps(META))
    value = data["entry"][0]["changes"][0]["value"]
    phone = f"9725{i:08d}"
    value["contacts"][0]["wa_id"] = phone
    value["messages"][0].update({"from": phone, "id": f"wamid.voice{i:09d}", "timestamp": str(int(time.time()))})
    raw = json.dumps(data).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "x-hub-signature-256": sig}


async def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def main() -> None:
    tmp, server, url = await embedded_database("sb-bench-voice-")
    fake = await FakeAmi().start()
    settings = Settings(
        database_url=url,
        secret_key="bench",
        data_dir=tmp,
        ami_host="127.0.0.1",
        ami_port=fake.port,
        ami_username="console",
        ami_secret="consolepass",
    )
    await db.open_pool()
    company = await make_company("Voice Bench")
    dep = await make_department(company, "Support")
    agents: list[User] = []
    for _ in range(AGENTS):
        agents.append(await make_user(company, "agent", presence="online", capacity=3, departments=[dep]))
    extensions = [str(2000 + n) for n in range(AGENTS)]
    for agent, ext in zip(agents, extensions):
        oid = await sql.fetchval(
            "INSERT INTO pbx_object (company_id, kind, name) VALUES ($1, 'extension', $2) RETURNING id", company.id, ext
        )
        await sql.execute(
            "INSERT INTO agent_extension (user_id, company_id, extension_id) VALUES ($1, $2, $3)",
            agent.id,
            company.id,
            oid,
        )
    for i in range(CALLS):
        await sql.execute(
            "INSERT INTO contact (company_id, phone, name) VALUES ($1, $2, $3)",
            company.id,
            customer(i),
            f"Customer {i}",
        )
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
    await sql.execute("UPDATE channel SET default_department_id = $2 WHERE id = $1", channel.id, dep.id)
    await db.close_pool()

    app = create_app(dataclasses.replace(settings), migrate=False, dispatcher=True)
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    life = asyncio.create_task(lifespan())
    await started.wait()
    listener = app.state.ami
    try:
        await wait_for(lambda: _true(listener.status == "connected"), 20, "the AMI connection")
        free = [
            retag(first("real_event_DeviceStateChange.txt", Device="PJSIP/1001"), Device=f"PJSIP/{e}")
            for e in extensions
        ]
        await fake.push(*free)
        await wait_for(
            lambda: _count("SELECT count(*) FROM agent_phone WHERE state = 'idle'", AGENTS), 30, "idle phones"
        )

        by_user = {a.id: a for a in agents}
        pushed: dict[str, float] = {}
        popped: dict[str, float] = {}
        seen: set[str] = set()
        received: dict[str, float] = {}
        sub = app.state.hub.subscribe(company.id, backlog=100_000)

        async def render(item: AgentPhoneChanged) -> None:
            messages = await render_event(item, by_user[item.user_id])
            pop = next((m.data for m in messages if m.event == "screen-pop"), "")
            if "Customer " in pop:
                popped[item.call_id] = time.perf_counter()

        async def watch() -> None:
            """Each agent's event stream renders its own fragments (one task per stream in the
            app): one task per ringing event here, so renders overlap as they do there."""
            tasks = []
            while len(popped) < CALLS:
                try:
                    item = await asyncio.wait_for(sub.get(), 0.05)
                except TimeoutError:
                    continue
                if isinstance(item, AgentPhoneChanged) and item.state == "ringing" and item.call_id not in seen:
                    seen.add(item.call_id)
                    received[item.call_id] = time.perf_counter()
                    tasks.append(asyncio.create_task(render(item)))
            await asyncio.gather(*tasks)

        # Warm-up (excluded): one call to the last agent, so that first-use costs (templates
        # compiled, statements prepared) are not counted as a screen-pop's latency.
        warm = AGENTS - 1
        await sql.execute(
            "INSERT INTO contact (company_id, phone, name) VALUES ($1, $2, 'Warm up')", company.id, customer(10**6)
        )
        await fake.push(*ring(10**6, extensions[warm]))
        await wait_for(
            lambda: _count(
                f"SELECT count(*) FROM agent_phone WHERE user_id = {agents[warm].id} AND state = 'ringing'", 1
            ),
            20,
            "the warm-up call",
        )
        await render_event(
            AgentPhoneChanged(company_id=company.id, user_id=agents[warm].id, state="ringing"), agents[warm]
        )
        await fake.push(*hang_up(10**6, extensions[warm]))
        await wait_for(
            lambda: _count(f"SELECT count(*) FROM agent_phone WHERE user_id = {agents[warm].id} AND state = 'idle'", 1),
            20,
            "the warm-up hang-up",
        )
        while True:  # forget the warm-up's events
            try:
                sub.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
        watcher = asyncio.create_task(watch())
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local", timeout=60) as client:
            bodies = [webhook(i) for i in range(CHATS)]
            sem = asyncio.Semaphore(32)

            async def post(i: int) -> None:
                async with sem:
                    raw, hdrs = bodies[i]
                    r = await client.post(f"/webhooks/meta/{channel.id}", content=raw, headers=hdrs)
                    assert r.status_code == 200, r.text

            t0 = time.perf_counter()
            chats = asyncio.gather(*[post(i) for i in range(CHATS)])
            for i in range(CALLS):  # the calls ring while the chats arrive
                pushed[f"8{i:06d}.1"] = time.perf_counter()
                await fake.push(*ring(i, extensions[i]))
                if CALL_RATE:
                    await asyncio.sleep(1 / CALL_RATE)
                elif i % 10 == 9:
                    await asyncio.sleep(0.005)
            await chats
            await asyncio.wait_for(watcher, 60)
            burst_s = time.perf_counter() - t0
            await wait_for(
                lambda: _count("SELECT count(*) FROM conversation WHERE status IN ('queued', 'assigned')", CHATS),
                60,
                "every chat routed or waiting",
            )
            await asyncio.sleep(1.0)  # the dispatcher's last drains
            violations = await sql.fetchval(
                """SELECT count(*) FROM conversation_event e JOIN agent_phone p ON p.user_id = e.to_user_id
                   WHERE e.kind = 'assigned' AND p.state IN ('ringing', 'busy') AND e.at > p.since"""
            )
            violations += await sql.fetchval(
                """SELECT count(*) FROM (SELECT assigned_user_id, count(*) AS n FROM conversation WHERE status = 'assigned'
                   GROUP BY 1) o JOIN app_user u ON u.id = o.assigned_user_id WHERE o.n > u.capacity"""
            )
            waiting = await sql.fetchval("SELECT count(*) FROM conversation WHERE status = 'queued'")

            t1 = time.perf_counter()
            for i in range(CALLS):
                await fake.push(*hang_up(i, extensions[i]))
            expected = min(CHATS, AGENTS * 3)
            await wait_for(
                lambda: _count("SELECT count(*) FROM conversation WHERE status = 'assigned'", expected),
                60,
                "the queue to drain after the calls",
            )
            drain_ms = (time.perf_counter() - t1) * 1000
        latencies = [(popped[k] - pushed[k]) * 1000 for k in popped]
        bus = [(received[k] - pushed[k]) * 1000 for k in received if k in pushed]
        print(
            f"voice: {AGENTS} agents, {CALLS} calls and {CHATS} chats in {burst_s:.2f}s; {waiting} chats waited for "
            f"the calls; screen-pop p50 {pct(latencies, 0.5):.1f} ms, max {max(latencies):.1f} ms; "
            f"phone event on the bus p50 {pct(bus, 0.5):.1f} ms, p95 {pct(bus, 0.95):.1f} ms"
        )
        print(
            f"RESULT voice screenpop_p95_ms={pct(latencies, 0.95):.1f} capacity_violations={violations} "
            f"drain_ms={drain_ms:.0f}"
        )
    finally:
        stop.set()
        await life
        await fake.stop()
        server.cleanup()


async def _true(value: bool) -> bool:
    return value


async def _count(query: str, at_least: int) -> bool:
    return (await sql.fetchval(query)) >= at_least


if __name__ == "__main__":
    asyncio.run(main())
