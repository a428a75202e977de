"""The AMI leader against a fake Asterisk replaying real captures."""

import pytest

from app.telephony.live import get_live, get_status
from tests.factories import make_company
from tests.telephony.conftest import ami_settings, eventually, own
from tests.telephony.fake_ami import blocks


@pytest.fixture
def settings(settings, fake_ami):
    return ami_settings(settings, fake_ami)


def flow():
    return blocks("real_flow_basic_call_1001_to_1002.txt")


async def calls_of(company):
    return (await get_live(company.id))["calls"]


async def test_live_call_appears_and_disappears(app, fake_ami):
    company = await make_company()
    other = await make_company()
    await own(company, "extension", "1001")
    await own(company, "extension", "1002")
    await eventually(lambda: _status_is("connected"))
    # Resync on connect: the three list actions were sent.
    names = [a["Action"] for a in fake_ami.actions]
    assert names[:3] == ["CoreShowChannels", "PJSIPShowEndpoints", "QueueStatus"]

    events = flow()
    hangup_at = next(i for i, b in enumerate(events) if b.startswith("Event: Hangup"))
    await fake_ami.push(*events[:hangup_at])
    calls = await eventually(lambda: calls_of(company))
    assert len(calls) == 1
    call = calls[0]
    assert (call["from_num"], call["from_name"], call["to_num"], call["to_name"]) == ("1001", "Alice", "1002", "Bob")
    assert call["state"] == "Up"
    assert call["channels"] == ["PJSIP/1001-00000000", "PJSIP/1002-00000001"]
    live = await get_live(company.id)
    assert live["stats"]["active_calls"] == 1
    assert await calls_of(other) == []  # not their extensions

    await fake_ami.push(*events[hangup_at:])
    await eventually(lambda: _no_calls(company))


async def _no_calls(company):
    live = await get_live(company.id)
    return live["version"] > 0 and live["calls"] == []


async def _status_is(state):
    status = await get_status()
    return status is not None and status["state"] == state


async def test_reconnect_resyncs_state(app, fake_ami):
    company = await make_company()
    await own(company, "extension", "1001")
    await own(company, "extension", "1002")
    await eventually(lambda: _status_is("connected"))
    assert len(fake_ami.actions_named("CoreShowChannels")) == 1
    # Asterisk restarts while a call is up: after the reconnect only the lists tell us so.
    fake_ami.replies["coreshowchannels"] = blocks("real_action_CoreShowChannels_2.txt")[1:]
    fake_ami.drop_all()
    calls = await eventually(lambda: calls_of(company))
    assert len(fake_ami.actions_named("CoreShowChannels")) == 2
    assert len(fake_ami.actions_named("PJSIPShowEndpoints")) == 2
    assert len(fake_ami.actions_named("QueueStatus")) == 2
    assert [c["channels"] for c in calls] == [["PJSIP/1001-00000000", "PJSIP/1002-00000001"]]
    assert calls[0]["state"] == "Up" and calls[0]["from_name"] == "Alice"
    # Endpoint states from PJSIPShowEndpoints; the queue we own from QueueStatus.
    live = await get_live(company.id)
    assert live["endpoints"]["1001"] == {"kind": "extension", "state": "Unavailable", "registered": False}


async def test_registration_events_update_extension_presence(app, fake_ami):
    company = await make_company()
    await own(company, "extension", "1001")
    await own(company, "trunk", "1002")
    await own(company, "queue", "support")
    await eventually(lambda: _status_is("connected"))
    await fake_ami.push_file("real_event_ContactStatus.txt")  # 1001 up, 1002 up, 1001 removed
    live = await eventually(lambda: _live_where(company, lambda snap: snap["endpoints"]["1002"]["registered"]))
    assert live["endpoints"]["1001"]["registered"] is False
    assert live["stats"]["registered_trunks"] == 1 and live["stats"]["registered_extensions"] == 0
    assert [m["interface"] for m in live["queues"]["support"]["members"]] == ["PJSIP/1002"]
    await fake_ami.push(blocks("real_event_DeviceStateChange.txt")[2])  # PJSIP/1001 NOT_INUSE
    live = await eventually(lambda: _live_where(company, lambda snap: snap["endpoints"]["1001"]["registered"]))
    assert live["endpoints"]["1001"]["state"] == "Not in use"
    assert live["stats"]["registered_extensions"] == 1


async def test_queue_callers_join_and_leave(app, fake_ami):
    company = await make_company()
    await own(company, "queue", "support")
    await eventually(lambda: _status_is("connected"))
    join = blocks("real_event_QueueCallerJoin.txt")[0]
    await fake_ami.push(join)
    live = await eventually(lambda: _live_where(company, lambda snap: snap["queues"]["support"]["callers"]))
    assert live["queues"]["support"]["callers"][0]["position"] == 1
    leave = blocks("real_event_QueueCallerLeave.txt")[0]
    await fake_ami.push(leave)
    await eventually(lambda: _live_where(company, lambda snap: not snap["queues"]["support"]["callers"]))


async def _live_where(company, predicate):
    live = await get_live(company.id)
    try:
        return live if live["version"] and predicate(live) else None
    except KeyError:
        return None


async def test_bad_credentials_are_reported(settings, fake_ami):
    import dataclasses

    from app.main import create_app

    bad = dataclasses.replace(settings, ami_secret="wrong")
    app = create_app(bad, migrate=False)
    async with app.lifespan():
        status = await eventually(lambda: _status_is("auth_failed"))
        assert status
        row = await get_status()
        assert "Authentication failed" in row["detail"]
        assert fake_ami.logins and fake_ami.logins[0]["Secret"] == "wrong"
        assert fake_ami.actions == []  # nothing sent after a refused login
        # Not a tight retry loop: it waits AMI_RECONNECT_MAX before asking again.
        import asyncio

        await asyncio.sleep(1)
        assert len(fake_ami.logins) == 1


async def test_unreachable_asterisk_is_reported(settings):
    import dataclasses

    from app.main import create_app
    from tests.conftest import free_port

    app = create_app(dataclasses.replace(settings, ami_port=free_port()), migrate=False)
    async with app.lifespan():
        await eventually(lambda: _status_is("unreachable"))
        assert "unreachable" in (await get_status())["detail"]


async def test_asterisk_shutdown_event_triggers_reconnect_and_resync(app, fake_ami):
    await eventually(lambda: _status_is("connected"))
    shutdown = blocks("real_shutdown.txt")[-1]
    assert shutdown.startswith("Event: Shutdown")
    await fake_ami.push(shutdown)
    await eventually(lambda: _count(fake_ami, "CoreShowChannels", 2))
    await eventually(lambda: _status_is("connected"))
    assert len(fake_ami.logins) == 2


async def _count(fake_ami, name, n):
    return len(fake_ami.actions_named(name)) >= n


def test_security_events_and_noise_do_not_change_state():
    from app.telephony.state import LiveState

    state = LiveState()
    assert not state.apply({"Event": "VarSet", "Uniqueid": "1", "Channel": "PJSIP/1001-1"})
    assert not state.apply({"Event": "SuccessfulAuth", "Privilege": "security,all"})
    assert state.apply(
        {"Event": "Newchannel", "Uniqueid": "1", "Linkedid": "1", "Channel": "PJSIP/1001-1", "ChannelState": "4"}
    )
    assert state.channels["1"].state == "Ring"
    assert state.apply({"Event": "Hangup", "Uniqueid": "1"}) and not state.channels


async def test_one_leader_holds_the_ami_connection_and_another_takes_over(settings, fake_ami):
    import asyncio

    from app import db
    from app.telephony.ami import AmiListener

    await db.open_pool()
    first, second = AmiListener(settings), AmiListener(settings)
    for listener in (first, second):
        listener.leadership.retry_seconds = 0.2
    try:
        await first.start()
        await eventually(lambda: _status_is("connected"))
        await second.start()
        await asyncio.sleep(0.6)
        assert first.is_leader and not second.is_leader
        assert len(fake_ami.logins) == 1
        await first.close()
        await eventually(lambda: _is_leader(second))
        await eventually(lambda: _count(fake_ami, "CoreShowChannels", 2))  # the new leader resynced
        await eventually(lambda: _listener_status(second, "connected"))
        assert len(fake_ami.logins) == 2
    finally:
        await first.close()
        await second.close()
        await db.close_pool()


async def _is_leader(listener):
    return listener.is_leader


async def _listener_status(listener, state):
    return listener.status == state
