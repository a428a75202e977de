"""SharedResults: one making per key for concurrent callers, made inline by the first."""

import asyncio

import pytest

from app.web.shared_results import SharedResults


async def test_first_caller_makes_inline_without_a_trip_through_the_loop():
    shared = SharedResults()
    ran_between = []
    asyncio.get_running_loop().call_soon(ran_between.append, "other")

    async def make():
        return "value"

    # Nothing suspends: the callback queued before cannot have run yet.
    assert await shared.get("k", make) == "value"
    assert ran_between == []


async def test_concurrent_callers_share_one_making():
    shared, calls = SharedResults(), []
    gate = asyncio.Event()

    async def make():
        calls.append(1)
        await gate.wait()
        return 42

    tasks = [asyncio.create_task(shared.get("k", make)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*tasks) == [42] * 5
    assert calls == [1]
    assert await shared.get("k", make) == 42 and calls == [1]  # kept


async def test_a_failure_reaches_the_waiters_and_is_not_kept():
    shared, calls = SharedResults(), []
    gate = asyncio.Event()

    async def failing():
        calls.append(1)
        await gate.wait()
        raise ValueError("boom")

    tasks = [asyncio.create_task(shared.get("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results) and calls == [1]

    async def fine():
        return "ok"

    assert await shared.get("k", fine) == "ok"


async def test_waiters_make_it_themselves_when_the_maker_is_cancelled():
    shared = SharedResults()
    started = asyncio.Event()

    async def slow():
        started.set()
        await asyncio.sleep(10)
        return "never"

    maker = asyncio.create_task(shared.get("k", slow))
    await started.wait()

    async def quick():
        return "mine"

    waiter = asyncio.create_task(shared.get("k", quick))
    await asyncio.sleep(0)
    maker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await maker
    assert await asyncio.wait_for(waiter, 1) == "mine"


async def test_entries_expire_and_the_oldest_are_dropped():
    shared = SharedResults(size=2, ttl=0.05)
    made = []

    async def make(v):
        made.append(v)
        return v

    for k in ("a", "b", "c"):
        await shared.get(k, lambda k=k: make(k))
    assert not shared.fresh("a") and shared.fresh("b") and shared.fresh("c")
    await asyncio.sleep(0.06)
    assert not shared.fresh("c")
    await shared.get("c", lambda: make("c2"))
    assert made == ["a", "b", "c", "c2"]
