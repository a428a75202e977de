"""The wallboard's live updates cost one snapshot per company and second, whatever the number
of supervisors watching or of events arriving; agents' streams never get it."""

from __future__ import annotations

import asyncio

from app.domain.events import PresenceChanged
from app.domain.tables import User
from app.domain.wallboard import WallboardChanged
from app.web import live
from app.web.supervisor import PANELS, PUBLISHER
from tests.factories import make_company, make_department, make_user


async def _drain(sub) -> list:
    items = []
    while not sub.queue.empty():
        items.append(sub.queue.get_nowait())
    return items


async def test_a_burst_of_events_for_many_supervisors_makes_few_snapshots(app):
    company = await make_company()
    support = await make_department(company, "Support")
    agent = await make_user(company, "agent", name="Anna", departments=[support], presence="online")
    viewers = [await User.objects().get(User.id == (await make_user(company, "supervisor")).id) for _ in range(20)]
    agent_viewer = await User.objects().get(User.id == agent.id)
    sub = app.state.hub.subscribe(company.id)
    before = PUBLISHER.computed

    # 50 events, each rendered by 20 supervisors' streams and one agent's, within a second.
    for n in range(50):
        event = PresenceChanged(company.id, agent.id, "online" if n % 2 else "busy")
        for viewer in viewers:
            messages = await live.render_event(event, viewer)
            assert not any(m.event.startswith("wallboard-") for m in messages)
        await live.render_event(event, agent_viewer)
    await asyncio.sleep(1.6)
    computed = PUBLISHER.computed - before
    assert 1 <= computed <= 2  # the first change at once, the rest coalesced into one more

    changes = [e for e in await _drain(sub) if isinstance(e, WallboardChanged)]
    assert len(changes) == computed
    latest = changes[-1]
    sent = [await live.render_event(latest, viewer) for viewer in viewers]
    assert all(sorted(m.event for m in msgs) == sorted(f"wallboard-{p}" for p in PANELS) for msgs in sent)
    assert len({tuple(m.data for m in msgs) for msgs in sent}) == 1  # the same HTML for everyone
    assert "Anna" in next(m.data for m in sent[0] if m.event == "wallboard-agents")
    assert await live.render_event(latest, agent_viewer) == []  # agents never get the board
    # Nothing changed since: the same snapshot again sends nothing to a stream that has it.
    assert await live.render_event(latest, viewers[0]) == []
    app.state.hub.unsubscribe(sub)
