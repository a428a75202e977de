"""Presence history, heartbeats and the grace period."""

import asyncio

from app.dispatch.sweeper import sweep_once
from app.domain import sql
from app.domain.presence import PresenceChange, expire_stale_presence, heartbeat, set_presence
from app.domain.tables import User
from app.realtime.leader import Leadership
from tests.factories import make_company, make_user
from tests.helpers import until


async def _age(user_id: int, seconds: int) -> None:
    await sql.execute(
        "UPDATE app_user SET last_seen_at = now() - make_interval(secs => $2) WHERE id = $1", user_id, float(seconds)
    )


async def test_changes_are_recorded_with_their_reason(app):
    company = await make_company()
    agent = await make_user(company)
    await set_presence(agent, "online")
    await set_presence(agent, "online")  # no change, no row
    await set_presence(agent, "busy")
    rows = await PresenceChange.select().where(PresenceChange.user_id == agent.id).order_by(PresenceChange.id)
    assert [(r["from_presence"], r["to_presence"], r["reason"]) for r in rows] == [
        ("offline", "online", "manual"),
        ("online", "busy", "manual"),
    ]


async def test_silent_agents_go_offline_after_the_grace_period(app):
    company = await make_company()
    silent = await make_user(company, presence="online")
    talking = await make_user(company, presence="busy")
    offline = await make_user(company, presence="offline")
    await _age(silent.id, 300)
    await _age(talking.id, 300)
    await _age(offline.id, 300)
    await heartbeat(talking.id)
    sub = app.state.hub.subscribe(company.id)
    expired = await expire_stale_presence(120)
    assert expired == [(company.id, silent.id)]
    assert (await User.objects().where(User.id == silent.id).first()).presence == "offline"
    assert (await User.objects().where(User.id == talking.id).first()).presence == "busy"
    event = await asyncio.wait_for(sub.get(), 3)
    assert (event.user_id, event.presence) == (silent.id, "offline")
    row = await PresenceChange.select().where(PresenceChange.user_id == silent.id).first()
    assert (row["from_presence"], row["reason"]) == ("online", "timeout")
    assert await expire_stale_presence(120) == []  # idempotent


async def test_deactivation_records_offline(client, app):
    company = await make_company()
    admin = await make_user(company, "admin")
    agent = await make_user(company, presence="online")
    from tests.helpers import login, post_form

    await login(client, admin.email)
    await post_form(client, f"/admin/users/{agent.id}/deactivate")
    row = await PresenceChange.select().where(PresenceChange.user_id == agent.id).first()
    assert (row["to_presence"], row["reason"]) == ("offline", "deactivated")


async def test_heartbeat_endpoint(client):
    company = await make_company()
    agent = await make_user(company, presence="online")
    from tests.helpers import login, post_form

    await login(client, agent.email)
    await _age(agent.id, 500)
    response = await post_form(client, "/presence/heartbeat")
    assert response.status_code == 204
    assert await expire_stale_presence(120) == []


async def test_sweeper_runs_in_exactly_one_process(settings):
    runs: list[str] = []

    def job(name):
        async def run():
            runs.append(name)
            await asyncio.sleep(3600)

        return run

    a = Leadership(settings.database_url, 9_999_001, "a", job("a"), retry_seconds=0.1, health_seconds=0.2)
    b = Leadership(settings.database_url, 9_999_001, "b", job("b"), retry_seconds=0.1, health_seconds=0.2)
    a.start()
    await until(lambda: runs == ["a"])
    b.start()
    await asyncio.sleep(0.5)  # b retries every 0.1 s: five chances to (wrongly) take the lead
    assert runs == ["a"] and a.is_leader and not b.is_leader
    await a.close()  # the leader goes away: the other takes over
    await until(lambda: b.is_leader)
    await b.close()
    assert runs == ["a", "b"]


async def test_sweep_once_uses_the_settings_grace(app, settings):
    company = await make_company()
    agent = await make_user(company, presence="online")
    await _age(agent.id, settings.presence_grace - 30)
    await sweep_once(settings)
    assert (await User.objects().where(User.id == agent.id).first()).presence == "online"
    await _age(agent.id, settings.presence_grace + 1)
    await sweep_once(settings)
    assert (await User.objects().where(User.id == agent.id).first()).presence == "offline"
