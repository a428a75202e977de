"""The bus: events leave at commit, never on rollback; gaps and overflows ask for a resync."""

import asyncio

import asyncpg
import pytest

from app.domain import sql
from app.domain.events import PresenceChanged, emit
from app.realtime.hub import CLOSED, Hub, Resync


@pytest.fixture
async def hub(app):
    return app.state.hub


async def next_item(sub, timeout=3.0):
    return await asyncio.wait_for(sub.get(), timeout)


async def test_event_is_delivered_after_commit_only(hub):
    sub = hub.subscribe(company_id=1)
    async with sql.transaction():
        await emit(PresenceChanged(company_id=1, user_id=7, presence="online"))
        await asyncio.sleep(0.2)
        assert sub.queue.empty(), "delivered before commit"
    assert await next_item(sub) == PresenceChanged(company_id=1, user_id=7, presence="online")


async def test_rolled_back_event_is_never_delivered(hub):
    sub = hub.subscribe(company_id=1)
    with pytest.raises(RuntimeError):
        async with sql.transaction():
            await emit(PresenceChanged(company_id=1, user_id=7, presence="online"))
            raise RuntimeError("boom")
    async with sql.transaction():
        await emit(PresenceChanged(company_id=1, user_id=8, presence="busy"))
    assert (await next_item(sub)).user_id == 8  # the first one never arrived


async def test_emit_outside_a_transaction_is_a_programming_error(app):
    with pytest.raises(RuntimeError):
        await emit(PresenceChanged(company_id=1, user_id=1, presence="online"))


async def test_events_are_filtered_by_company(hub):
    mine, theirs = hub.subscribe(company_id=1), hub.subscribe(company_id=2)
    async with sql.transaction():
        await emit(PresenceChanged(company_id=2, user_id=3, presence="online"))
    assert (await next_item(theirs)).company_id == 2
    await asyncio.sleep(0.1)
    assert mine.queue.empty()


async def test_reconnect_after_losing_the_connection_tells_subscribers_to_resync(settings):
    hub = Hub(settings.database_url, health_interval=0.2)
    await hub.start()
    try:
        sub = hub.subscribe(company_id=1)
        conn = await asyncpg.connect(settings.database_url)
        try:
            pid = hub._conn.get_server_pid()
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
            item = await next_item(sub, timeout=10)
            assert isinstance(item, Resync) and item.reason == "reconnected"
            assert hub.connected.is_set()
            await conn.execute(
                "SELECT pg_notify('switchboard_events', $1)",
                PresenceChanged(company_id=1, user_id=5, presence="busy").encode(),
            )
            assert (await next_item(sub)).user_id == 5  # listening again
        finally:
            await conn.close()
    finally:
        await hub.close()


async def test_slow_subscriber_overflows_into_a_resync(settings):
    hub = Hub(settings.database_url)
    sub = hub.subscribe(company_id=1)
    for n in range(sub.queue.maxsize + 5):
        hub.publish_local(PresenceChanged(company_id=1, user_id=n, presence="online"))
    items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert any(isinstance(i, Resync) for i in items)
    assert len(items) < sub.queue.maxsize  # memory stays bounded


async def test_close_ends_every_stream(settings):
    hub = Hub(settings.database_url)
    await hub.start()
    sub = hub.subscribe(company_id=1)
    await hub.close()
    assert await next_item(sub) is CLOSED
    late = hub.subscribe(company_id=1)
    assert await next_item(late) is CLOSED


async def test_unknown_payloads_are_ignored(hub):
    sub = hub.subscribe(company_id=1)
    async with sql.transaction():
        await sql.execute("SELECT pg_notify('switchboard_events', 'not json')")
        await sql.execute("""SELECT pg_notify('switchboard_events', '{"name": "from-the-future", "company_id": 1}')""")
        await emit(PresenceChanged(company_id=1, user_id=9, presence="online"))
    assert (await next_item(sub)).user_id == 9


# Replay for streams that open after their page (subscribe(since=…)) ---------------------------


def listening_hub(settings, since: float) -> Hub:
    """A hub that has been listening, without a connection, since ``since`` (time.time())."""
    hub = Hub(settings.database_url)
    hub.complete_since = since
    return hub


async def test_a_late_stream_gets_the_events_since_its_page_began(settings, monkeypatch):
    import app.realtime.hub as hub_module

    clock = [1000.0]
    monkeypatch.setattr(hub_module.time, "time", lambda: clock[0])
    hub = listening_hub(settings, 900.0)
    for n, at in enumerate([990.0, 999.6, 1000.2, 1001.0]):
        clock[0] = at
        hub.publish_local(PresenceChanged(company_id=1 + n % 2, user_id=n, presence="online"))
    clock[0] = 1001.5
    # The page began at 1000.0: events from then on and up to SKEW_SECONDS (0.5) before, of its company.
    sub = hub.subscribe(company_id=1, since=1000.0)
    assert [sub.queue.get_nowait().user_id for _ in range(sub.queue.qsize())] == [2]
    sub = hub.subscribe(company_id=2, since=1000.0)
    assert [sub.queue.get_nowait().user_id for _ in range(sub.queue.qsize())] == [1, 3]
    assert hub.subscribe(company_id=1).queue.empty()  # no since: live events only


async def test_a_stream_whose_page_is_older_than_the_hub_can_vouch_for_resyncs(settings, monkeypatch):
    import app.realtime.hub as hub_module

    clock = [1000.0]
    monkeypatch.setattr(hub_module.time, "time", lambda: clock[0])
    hub = listening_hub(settings, 995.0)
    hub.publish_local(PresenceChanged(company_id=1, user_id=1, presence="online"))
    # Not listening when the page began (started or reconnected since): events may be missing.
    assert hub.subscribe(company_id=1, since=994.0).queue.get_nowait() == Resync("gap")
    # Older than the hub remembers.
    clock[0] = 995.0 + hub_module.RECENT_SECONDS + 10
    assert hub.subscribe(company_id=1, since=996.0).queue.get_nowait() == Resync("gap")
    # Forgotten events leave memory as new ones arrive.
    hub.publish_local(PresenceChanged(company_id=1, user_id=2, presence="online"))
    assert [e.user_id for _, e in hub.recent] == [2]
    # Not listening at all.
    hub.complete_since = None
    assert hub.subscribe(company_id=1, since=clock[0]).queue.get_nowait() == Resync("gap")


async def test_a_full_memory_cannot_vouch_for_what_it_pushed_out(settings, monkeypatch):
    import app.realtime.hub as hub_module

    monkeypatch.setattr(hub_module, "RECENT_MAX", 10)
    hub = listening_hub(settings, 0.0)
    for n in range(25):
        hub.publish_local(PresenceChanged(company_id=1, user_id=n, presence="online"))
    oldest = hub.recent[0][0]
    assert len(hub.recent) == 10
    assert hub.subscribe(company_id=1, since=oldest - 0.001).queue.get_nowait() == Resync("gap")


async def test_the_hub_vouches_only_from_its_latest_connection(settings):
    hub = Hub(settings.database_url)
    await hub.start()
    try:
        assert hub.complete_since is not None
        await hub._drop_connection()
        assert hub.complete_since is None  # what was sent meanwhile is lost to it
    finally:
        await hub.close()
