"""Group commit of the ingest statement (app.domain.group_commit), on the real statement and
database: concurrent calls share a commit, each caller gets its own answer after it, a failing
call does not sink the others, and two batches never deadlock."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from app.domain import sql
from app.domain.channels import create_channel
from app.domain.events import CHANNEL, ConversationOpened, MessageReceived
from app.domain.group_commit import GroupCommit
from app.domain.messages import _INBOUND_ONE, INBOUND
from app.engine import DB
from tests.factories import make_company

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "providers" / "meta" / "webhook_message_text.json"
SECRET = "group-commit-secret"


@pytest.fixture
async def channel(app):  # the app fixture opens the pool the writer uses
    company = await make_company()
    return await create_channel(
        company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1",
            "cred_access_token": "t",
            "cred_app_secret": SECRET,
        },
    )


def args(channel, phone: str, message_id: str, department_id: int | None = None) -> tuple:
    return (
        channel.company_id,
        channel.id,
        department_id,
        phone,
        "Zoé",
        "text",
        message_id,
        f"text of {message_id}",
        "{}",
        "",
        CHANNEL,
        ConversationOpened.name,
        MessageReceived.name,
    )


def call(writer: GroupCommit, channel, phone: str, message_id: str, department_id: int | None = None):
    return writer.run(
        (channel.company_id, phone, channel.id), (_INBOUND_ONE, args(channel, phone, message_id, department_id))
    )


async def stored_ids() -> list[str]:
    return [r["provider_message_id"] for r in await sql.fetch("SELECT provider_message_id FROM message ORDER BY id")]


async def test_concurrent_webhooks_share_commits_and_each_is_stored_once(client, channel):
    template = json.loads(FIX.read_text())

    def webhook(i: int) -> tuple[bytes, dict]:
        data = json.loads(json.dumps(template))
        value = data["entry"][0]["changes"][0]["value"]
        phone = f"33611{i % 7:06d}"  # seven customers: batches hold the same contact several times
        value["contacts"][0]["wa_id"] = phone
        value["messages"][0].update({"from": phone, "id": f"wamid.gc{i}"})
        raw = json.dumps(data).encode()
        return raw, {
            "content-type": "application/json",
            "x-hub-signature-256": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
        }

    before = (INBOUND.batches, INBOUND.calls)
    posts = [webhook(i) for i in range(60)] + [webhook(i) for i in range(0, 60, 3)]  # 20 provider retries
    answers = await asyncio.gather(
        *(client.post(f"/webhooks/meta/{channel.id}", content=raw, headers=h) for raw, h in posts)
    )
    assert [a.status_code for a in answers] == [200] * len(posts)
    assert sum(a.json()["stored"] for a in answers) == 60
    assert sum(a.json()["duplicates"] for a in answers) == 20
    assert sorted(await stored_ids()) == sorted(f"wamid.gc{i}" for i in range(60))
    assert await sql.fetchval("SELECT count(*) FROM contact") == 7
    assert await sql.fetchval("SELECT count(*) FROM conversation") == 7
    batches, calls = INBOUND.batches - before[0], INBOUND.calls - before[1]
    assert calls == len(posts)
    assert batches < calls  # they did share transactions


async def test_a_batch_keeps_each_customers_arrival_order(channel):
    writer = GroupCommit()
    phones = ["+33611000003", "+33611000001", "+33611000002"]
    ids = await asyncio.gather(*(call(writer, channel, phones[i % 3], f"order-{i:02d}") for i in range(30)))
    assert writer.batches < 30
    for phone in phones:  # sorted by customer for the locks, in arrival order within each
        mine = [(ids[i], i) for i in range(30) if phones[i % 3] == phone]
        assert [i for _, i in sorted(mine)] == [i for _, i in mine]


async def test_a_failing_call_is_rerun_alone_and_the_others_are_stored(channel):
    writer = GroupCommit()
    calls = [call(writer, channel, f"+3361100000{i}", f"good-{i}") for i in range(5)]
    # A default department that does not exist (deleted meanwhile): this conversation cannot be opened.
    calls.insert(2, call(writer, channel, "+33611000099", "bad", department_id=987654))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert writer.batches >= 1 and writer.fallbacks == 1
    assert type(results[2]).__name__ == "ForeignKeyViolationError"
    assert all(isinstance(r, int) for i, r in enumerate(results) if i != 2)
    assert sorted(await stored_ids()) == [f"good-{i}" for i in range(5)]


async def test_two_batches_take_row_locks_in_one_order(channel):
    """Two writers (two server processes) with the same two customers in opposite arrival
    orders. Without an order this is a deadlock (the first race proves the setup makes one):
    PostgreSQL aborts a batch after deadlock_timeout and its calls are rerun alone. With the
    ingest's order key, no batch fails. The interleaving is forced, not left to timing: a third
    transaction holds customer 1's contact row until both writers wait for it. Each writer's
    first call (another customer) is written alone by its caller; the two calls queued behind it
    make the writer's next batch."""
    one, two, other = "+33611000001", "+33611000002", "+33611000003"
    for phone in (one, two, other):  # the rows exist: each statement locks them
        await call(GroupCommit(), channel, phone, f"first-{phone}")

    async def waiting_for_locks() -> int:
        return await sql.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )

    async def until_waiting(n: int) -> None:
        for _ in range(500):
            if await waiting_for_locks() >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{n} writers never waited")

    async def race(keyed: bool, tag: str) -> tuple[int, list]:
        first, second = GroupCommit(), GroupCommit()

        def go(writer, phone, n):
            if keyed:
                return call(writer, channel, phone, f"{tag}-{n}")
            return writer.run((), (_INBOUND_ONE, args(channel, phone, f"{tag}-{n}")))

        async with DB.pool.acquire() as blocker:
            async with blocker.transaction():
                await blocker.execute("SELECT 1 FROM contact WHERE phone = $1 FOR UPDATE", one)
                a = asyncio.gather(go(first, other, 0), go(first, one, 1), go(first, two, 2))  # waits at customer 1
                await until_waiting(1)
                # Unordered: takes customer 2, then waits at customer 1 behind the first writer.
                b = asyncio.gather(go(second, other, 5), go(second, two, 3), go(second, one, 4))
                await until_waiting(2)
        results = list(await a) + list(await b)
        return first.fallbacks + second.fallbacks, results

    fallbacks, results = await race(False, "unordered")
    assert fallbacks == 1 and all(isinstance(r, int) for r in results)  # a deadlock, resolved by rerunning
    fallbacks, results = await race(True, "ordered")
    assert fallbacks == 0 and all(isinstance(r, int) for r in results)
    assert len(await stored_ids()) == 3 + 12


async def test_inside_a_transaction_the_statement_joins_it(channel):
    writer = GroupCommit()
    with pytest.raises(RuntimeError):
        async with sql.transaction():
            assert await call(writer, channel, "+33611000001", "in-tx") is not None
            raise RuntimeError("roll back")
    assert writer.batches == 0
    assert await stored_ids() == []


async def test_a_caller_that_goes_away_still_has_its_message_stored(channel):
    writer = GroupCommit()
    gone = asyncio.ensure_future(call(writer, channel, "+33611000001", "left"))
    stays = asyncio.ensure_future(call(writer, channel, "+33611000002", "stayed"))
    await asyncio.sleep(0)  # both queued
    gone.cancel()
    assert await stays is not None
    for _ in range(50):
        if len(await stored_ids()) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(await stored_ids()) == ["left", "stayed"]


async def test_concurrent_status_webhooks_share_commits_apply_forward_and_wait_for_unknown_messages(
    app, client, channel
):
    """Statuses (the most frequent webhooks: sent, delivered, read for every reply) take the same
    group commit, each after its (channel, provider id) lock: applied only forward, each applied
    one announced, a status for a message we do not have kept until it arrives, retries harmless."""
    from app.domain.events import MessageStatusChanged
    from app.domain.messages import STATUSES

    template = json.loads((FIX.parent / "webhook_status_delivered.json").read_text())
    await call(GroupCommit(), channel, "+33611000001", "customer-hello")
    conv_id = await sql.fetchval("SELECT id FROM conversation")
    ids = {}
    for i in range(8):
        ids[i] = await sql.fetchval(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, data,
                                    provider_message_id, status)
               VALUES ($1, $2, $3, 'out', 'agent', 'text', $4, '{}', $5, 'sent') RETURNING id""",
            channel.company_id,
            channel.id,
            conv_id,
            f"reply {i}",
            f"wamid.out{i}",
        )

    def status_webhook(provider_id: str, status: str) -> tuple[bytes, dict]:
        data = json.loads(json.dumps(template))
        data["entry"][0]["changes"][0]["value"]["statuses"][0].update({"id": provider_id, "status": status})
        raw = json.dumps(data).encode()
        return raw, {
            "content-type": "application/json",
            "x-hub-signature-256": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
        }

    sub = app.state.hub.subscribe(channel.company_id)
    posts = (
        [status_webhook(f"wamid.out{i}", "read") for i in range(8)]
        + [status_webhook(f"wamid.out{i}", "delivered") for i in range(8)]  # behind read or before it
        + [status_webhook(f"wamid.out{i}", "read") for i in range(0, 8, 2)]  # provider retries
        + [status_webhook(f"wamid.unknown{i}", "delivered") for i in range(3)]
    )
    before = (STATUSES.batches, STATUSES.calls)
    answers = await asyncio.gather(
        *(client.post(f"/webhooks/meta/{channel.id}", content=raw, headers=h) for raw, h in posts)
    )
    assert [a.status_code for a in answers] == [200] * len(posts)
    assert STATUSES.calls - before[1] == len(posts) and STATUSES.batches - before[0] < len(posts)
    rows = await sql.fetch("SELECT id, status FROM message WHERE direction = 'out' ORDER BY id")
    assert [r["status"] for r in rows] == ["read"] * 8  # never moved back to delivered
    assert sum(a.json()["early_statuses"] for a in answers) == 3
    assert sorted(
        r["provider_message_id"] for r in await sql.fetch("SELECT provider_message_id FROM pending_status")
    ) == [f"wamid.unknown{i}" for i in range(3)]
    applied = sum(a.json()["statuses"] for a in answers)
    assert 8 <= applied <= 16  # each read once; a delivered that came first applied too
    events = []
    while len(events) < applied:
        item = await asyncio.wait_for(sub.get(), 5)
        if isinstance(item, MessageStatusChanged):
            events.append(item)
    assert {(e.conversation_id, e.message_id) for e in events if e.status == "read"} == {
        (conv_id, ids[i]) for i in range(8)
    }
    assert all(e.company_id == channel.company_id for e in events)
