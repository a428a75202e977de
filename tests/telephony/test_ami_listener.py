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
