"""The AMI leader follows what the app itself changes, and what Asterisk reports about trunks
(issue 17, items 3 and 4), against the fake Asterisk replaying real captures."""

import pytest

from app.domain import sql
from app.telephony import pbx
from app.telephony.live import get_live, get_status
from tests.factories import make_company, make_user
from tests.telephony.conftest import ami_settings, eventually, own
from tests.telephony.fake_ami import blocks, reply_of
from tests.telephony.test_console_calls import retag


@pytest.fixture
def settings(settings, fake_ami):
    return ami_settings(settings, fake_ami)


async def _connected():
    status = await get_status()
    return status is not None and status["state"] == "connected"


def _status_reply(*members: tuple[str, str]) -> list[str]:
    """QueueStatus for 'support' as Asterisk answered it, with the given (interface, name) members."""
    reply = reply_of("real_action_QueueStatus_3.txt")
    member = next(b for b in reply if b.startswith("Event: QueueMember"))
    head = [b for b in reply if b.startswith(("Response", "Event: QueueParams"))]
    tail = [b for b in reply if b.startswith("Event: QueueStatusComplete")]
    return head + [retag(member, Location=i, StateInterface=i, Name=n) for i, n in members] + tail


async def _members(company):
    live = await get_live(company.id)
    queue = live["queues"].get("support")
    return queue and [m["interface"] for m in queue["members"]]


async def test_queue_members_follow_the_apps_own_changes(app, fake_ami):
    company = await make_company()
    admin = await make_user(company, "admin")
    await pbx.create_extension(admin, {"number": "1001", "name": "Alice", "codecs": ["ulaw"]}, context="sb-x")
    await pbx.create_extension(admin, {"number": "1002", "name": "Bob", "codecs": ["ulaw"]}, context="sb-x")
    fake_ami.replies["queuestatus"] = _status_reply(("PJSIP/1002", "Bob"))
    queue = await pbx.create_queue(
        admin, {"name": "support", "strategy": "ringall", "members": [{"extension": "1002"}]}
    )
    await eventually(_connected)
    assert await eventually(lambda: _members(company)) == ["PJSIP/1002"]

    # The admin adds Alice: Asterisk raises nothing until the queue is reloaded; we ask.
    fake_ami.replies["queuestatus"] = _status_reply(("PJSIP/1001", "Alice"), ("PJSIP/1002", "Bob"))
    await pbx.update_queue(
        admin, queue.id, {"strategy": "ringall", "members": [{"extension": "1001"}, {"extension": "1002"}]}
    )

    async def both():
        return await _members(company) == ["PJSIP/1001", "PJSIP/1002"]

    await eventually(both)
    assert any(a.get("Queue") == "support" for a in fake_ami.actions_named("QueueStatus"))

    # Bob's extension is deleted: his member (and its Pause button) goes.
    fake_ami.replies["queuestatus"] = _status_reply(("PJSIP/1001", "Alice"))
    bob = await sql.fetchval("SELECT id FROM pbx_object WHERE name = '1002'")
    await pbx.delete_extension(admin, bob)

    async def alice_only():
        return await _members(company) == ["PJSIP/1001"]

    await eventually(alice_only)


async def test_queue_member_added_and_removed_events(app, fake_ami):
    company = await make_company()
    await own(company, "queue", "support")
    await eventually(_connected)
    await fake_ami.push(blocks("real_event_QueueMemberAdded.txt")[0])  # Alice, PJSIP/1001, dynamic

    async def has_alice():
        return await _members(company) and "PJSIP/1001" in await _members(company)

    await eventually(has_alice)
    await fake_ami.push(blocks("real_event_QueueMemberRemoved.txt")[0])

    async def no_alice():
        members = await _members(company)
        return members is not None and "PJSIP/1001" not in members

    await eventually(no_alice)


async def test_trunk_registration_from_registry_events(app, fake_ami, client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await pbx.create_trunk(
        admin,
        {
            "name": "op1",
            "host": "sip.example.net",
            "username": "acme",
            "password": "p",
            "register": "on",
            "codecs": ["ulaw"],
        },
    )
    await eventually(_connected)
    assert fake_ami.actions_named("PJSIPShowRegistrationsOutbound")  # asked at every (re)connect

    async def trunk_known():
        return "op1" in (await get_live(company.id))["endpoints"]

    await eventually(trunk_known)  # the leader has read the new trunk (and its registration)
    # What res_pjsip_outbound_registration publishes: the client and server URIs, and the result.
    registry = (
        "Event: Registry\r\nPrivilege: system,all\r\nChannelType: PJSIP\r\n"
        "Username: sip:acme@sip.example.net\r\nDomain: sip:sip.example.net\r\nStatus: {}"
    )
    # OPTIONS are answered (the AOR is reachable) ...
    await fake_ami.push(
        retag(blocks("real_event_ContactStatus.txt")[0], AOR="op1", EndpointName="op1", ContactStatus="Reachable")
    )
    # ... but the registration is rejected: the console says so.
    await fake_ami.push(registry.format("Rejected"))

    async def trunk(expected):
        live = await get_live(company.id)
        t = live["endpoints"].get("op1")
        return t is not None and (t["registered"], t["registration"]) == expected

    await eventually(lambda: trunk((False, "Rejected")))
    await fake_ami.push(registry.format("Registered"))
    await eventually(lambda: trunk((True, "Registered")))
