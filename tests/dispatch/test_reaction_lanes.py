"""The dispatcher's reactions under a burst: none dropped, each conversation's in order, several
conversations at once (app.dispatch.sweeper lanes and backlog)."""

import asyncio

from app.dispatch import sweeper
from app.domain.events import MessageReceived, PresenceChanged
from app.realtime.hub import Hub


async def test_a_burst_larger_than_a_tab_backlog_is_handled_whole_and_in_order(monkeypatch):
    seen: list = []
    running = 0
    most_at_once = 0

    async def slow_react(event) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        await asyncio.sleep(0.001)  # a round trip
        seen.append(event)
        running -= 1

    monkeypatch.setattr(sweeper, "react", slow_react)
    hub = Hub("postgresql://unused")  # publish_local only: no connection needed
    task = asyncio.create_task(sweeper._react_forever(hub))
    await asyncio.sleep(0)
    events = [MessageReceived(company_id=1, conversation_id=1 + i % 10, message_id=i) for i in range(2000)]
    events.append(PresenceChanged(company_id=1, user_id=7, presence="online"))
    for event in events:  # all at once: far more than a browser tab's 256
        hub.publish_local(event)
    for _ in range(500):
        if len(seen) == len(events):
            break
        await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(seen) == len(events)  # nothing dropped, no resync
    for conversation in range(1, 11):
        ids = [e.message_id for e in seen if getattr(e, "conversation_id", None) == conversation]
        assert ids == sorted(ids) and len(ids) == 200
    assert most_at_once > 1  # lanes ran side by side
