"""One person, one availability (issue 17): an agent linked to an extension gets no new chat
while their phone rings or talks, the queue drains to them when the call ends, and presence
goes both ways between Switchboard and the PBX's queues. Fake Asterisk, real captures."""

import asyncio

import pytest

from app.dispatch.assignment import queue_conversation
from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.phone import AgentPhoneChanged, get_phone, link_extension
from app.domain.presence import set_presence
from app.telephony import pbx
from app.telephony.live import get_status
from tests.dispatch.factories import conversation, make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form
from tests.telephony.conftest import ami_settings, eventually
from tests.telephony.fake_ami import blocks
from tests.telephony.test_console_calls import CALLER, MEMBER, first, retag

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def settings(settings, fake_ami):
    return ami_settings(settings, fake_ami)


async def _connected():
    status = await get_status()
    return status is not None and status["state"] == "connected"


def ringing_events() -> list[str]:
    """Alice (1001) calls queue 'support'; the dialplan answers; member Bob (1002) rings."""
    ringing = first("real_flow_basic_call_1001_to_1002.txt", Event="Newstate", Channel="PJSIP/1002-00000001")
    return [
        first("real_event_Newchannel.txt", Uniqueid=CALLER),
        first("real_event_QueueCallerJoin.txt", Uniqueid=CALLER),
        first("real_event_AgentCalled.txt", Uniqueid=CALLER),
        first("real_event_DialBegin.txt", Uniqueid=CALLER),
        retag(ringing, Channel="PJSIP/1002-00000003", Uniqueid=MEMBER, Linkedid=CALLER),
    ]


def hangup_events() -> list[str]:
    """Both hang up; Asterisk then says the member's device is free again."""
    caller = first("real_event_Hangup.txt", Uniqueid=CALLER)
    free = retag(first("real_event_DeviceStateChange.txt", Device="PJSIP/1001"), Device="PJSIP/1002")
    return [
        retag(caller, Channel="PJSIP/1002-00000003", Uniqueid=MEMBER, CallerIDNum="1002", CallerIDName="Bob"),
        caller,
        free,
    ]


@pytest.fixture
async def team(app, fake_ami):
    company = await make_company()
    admin = await make_user(company, "admin")
    dep = await make_department(company)
    agent = await make_user(company, "agent", presence="online", capacity=3, departments=[dep])
    await pbx.create_extension(admin, {"number": "1002", "name": "Bob", "codecs": ["ulaw"]}, context="sbx")
    ext = await sql.fetchval("SELECT id FROM pbx_object WHERE name = '1002'")
    await link_extension(admin, agent.id, ext)  # as the user form does
    await eventually(_connected)
    # The phone is registered and free (the captured endpoint list had every phone unavailable).
    await fake_ami.push(retag(first("real_event_DeviceStateChange.txt", Device="PJSIP/1001"), Device="PJSIP/1002"))
    await eventually(lambda: _phone_state(agent, "idle"))
    return company, admin, dep, agent


async def _phone_state(agent, expected):
    phone = await get_phone(agent.company_id, agent.id)
    return phone is not None and phone["state"] == expected and phone


async def test_no_new_chat_during_a_call_and_the_queue_drains_when_it_ends(app, fake_ami, team):
    company, admin, dep, agent = team
    sub = app.state.hub.subscribe(company.id)
    channel = await make_channel(company, department=dep)
    await fake_ami.push(*ringing_events())
    phone = await eventually(lambda: _phone_state(agent, "ringing"))
    assert (phone["peer_num"], phone["peer_name"], phone["call_id"]) == ("1001", "Alice", CALLER)

    waiting = await make_conversation(company, channel, status="bot", department=dep)
    await queue_conversation(company.id, waiting, dep.id)
    assert (await conversation(waiting))["status"] == "queued"  # the agent's phone rings: no chat

    await fake_ami.push(*hangup_events())
    await eventually(lambda: _phone_state(agent, "idle"))
    ended = None
    while ended is None:  # the event the dispatcher reacts to
        item = await asyncio.wait_for(sub.get(), 5)
        if isinstance(item, AgentPhoneChanged) and item.state == "idle":
            ended = item
    await react(ended)
    row = await conversation(waiting)
    assert (row["status"], row["assigned_user_id"]) == ("assigned", agent.id)


async def test_fewer_chats_during_a_call_by_company_setting(client, fake_ami, team):
    company, admin, dep, agent = team
    await login(client, admin.email)
    response = await post_form(
        client, "/admin/pbx/voice", {"during_call": "fewer", "capacity_cut": "2", "pause_when": "offline"}
    )
    assert response.status_code == 303, response.text
    channel = await make_channel(company, department=dep)
    await fake_ami.push(*ringing_events())
    await eventually(lambda: _phone_state(agent, "ringing"))
    convs = [await make_conversation(company, channel, status="bot", department=dep) for _ in range(2)]
    for c in convs:
        await queue_conversation(company.id, c, dep.id)
    statuses = [(await conversation(c))["status"] for c in convs]
    assert statuses == ["assigned", "queued"]  # capacity 3 - 2 during the call


async def test_going_offline_pauses_the_agents_queue_members(app, fake_ami, team):
    company, admin, dep, agent = team
    await asyncio.sleep(0.3)
    await set_presence(agent, "offline")

    async def paused(value):
        sent = [a for a in fake_ami.actions_named("QueuePause") if a.get("Interface") == "PJSIP/1002"]
        return sent and sent[-1]["Paused"] == value and sent[-1]

    sent = await eventually(lambda: paused("true"))
    assert "Queue" not in sent and sent["Reason"].startswith("Switchboard")  # every queue, with a reason
    await set_presence(agent, "online")
    await eventually(lambda: paused("false"))


async def test_a_pause_from_the_phone_shows_on_the_agent(app, fake_ami, team):
    company, admin, dep, agent = team
    pause = retag(
        blocks("real_event_QueueMemberPause.txt")[0],
        Interface="PJSIP/1002",
        StateInterface="PJSIP/1002",
        MemberName="Bob",
    )
    await fake_ami.push(pause)

    async def lunch():
        phone = await get_phone(company.id, agent.id)
        return phone and phone["paused"] and phone["paused_reason"] == "lunch"

    await eventually(lunch)


async def test_linking_an_extension_in_the_user_form(client, team):
    company, admin, dep, agent = team
    other = await make_user(company, "agent")
    ext = await sql.fetchval("SELECT id FROM pbx_object WHERE name = '1002'")
    await login(client, admin.email)
    form = await client.get(f"/admin/users/{other.id}/edit")
    assert 'name="extension_id"' in form.text
    taken = await post_form(
        client,
        f"/admin/users/{other.id}",
        {"name": other.name, "email": other.email, "role": "agent", "capacity": "5", "extension_id": str(ext)},
    )
    assert taken.status_code == 400 and "already someone" in taken.text
    await pbx.create_extension(admin, {"number": "1003", "name": "Carol", "codecs": ["ulaw"]}, context="sbx")
    free = await sql.fetchval("SELECT id FROM pbx_object WHERE name = '1003'")
    ok = await post_form(
        client,
        f"/admin/users/{other.id}",
        {"name": other.name, "email": other.email, "role": "agent", "capacity": "5", "extension_id": str(free)},
    )
    assert ok.status_code == 303
    assert await sql.fetchval("SELECT extension_id FROM agent_extension WHERE user_id = $1", other.id) == free
    stranger = await make_user(await make_company(), "admin")
    await login(client, stranger.email)
    page = await client.get(f"/admin/users/{other.id}/edit")
    assert page.status_code == 404


async def test_screen_pop_shows_the_caller_and_goes_at_hang_up(app, client, fake_ami, team):
    from app.web.live import render_event

    company, admin, dep, agent = team
    # Alice calls from 1001; as a customer she is +33 6 12 34 56 78, and the trunk says 0612345678.
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33612345678', 'Alice Martin') RETURNING id",
        company.id,
    )
    channel = await make_channel(company, department=dep)
    conv = await make_conversation(company, channel, status="queued", department=dep, contact_id=contact)
    await sql.execute(
        "INSERT INTO conversation_note (company_id, conversation_id, text) VALUES ($1, $2, 'VIP: call back')",
        company.id,
        conv,
    )
    events = [
        retag(b, CallerIDNum="0612345678") if CALLER in b and "CallerIDNum: 1001" in b else b for b in ringing_events()
    ]
    sub = app.state.hub.subscribe(company.id)
    await fake_ami.push(*events)
    await eventually(lambda: _phone_state(agent, "ringing"))
    ringing = None
    while ringing is None:
        item = await asyncio.wait_for(sub.get(), 5)
        if isinstance(item, AgentPhoneChanged) and item.state == "ringing":
            ringing = item
    messages = {m.event: m.data for m in await render_event(ringing, agent)}
    assert "Alice Martin" in messages["screen-pop"] and f"/inbox/{conv}" in messages["screen-pop"]
    assert "VIP: call back" in messages["screen-pop"]
    assert "Phone ringing" in messages["my-phone"]
    other = await make_user(company, "agent")
    assert await render_event(ringing, other) == []  # only the agent whose phone rings
    await login(client, agent.email)
    page = await client.get("/phone/me")
    assert page.status_code == 200 and "Alice Martin" in page.text
    await fake_ami.push(*hangup_events())
    await eventually(lambda: _phone_state(agent, "idle"))
    assert "Alice Martin" not in (await client.get("/phone/me")).text


async def test_unknown_caller_offers_to_create_a_contact(client, fake_ami, team):
    company, admin, dep, agent = team
    await fake_ami.push(*ringing_events())  # 1001 is nobody's number
    await eventually(lambda: _phone_state(agent, "ringing"))
    await login(client, agent.email)
    page = await client.get("/phone/me")
    assert "Create contact" in page.text
    created = await post_form(
        client, "/phone/contacts", {"phone": "+33698765432", "name": "New <b>one</b>"}, headers={"hx-request": "true"}
    )
    assert created.status_code == 200
    assert await sql.fetchval("SELECT name FROM contact WHERE phone = '+33698765432'") == "New <b>one</b>"


async def test_click_to_call_from_a_conversation_rings_the_agents_phone_first(client, fake_ami, team):
    company, admin, dep, agent = team
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33612345678', 'Alice') RETURNING id", company.id
    )
    await login(client, agent.email)
    ok = await post_form(client, "/phone/call", {"contact_id": str(contact)}, headers={"hx-request": "true"})
    assert ok.status_code == 200 and "Originate successfully queued" in ok.text
    sent = fake_ami.actions_named("Originate")[-1]
    assert (sent["Channel"], sent["Exten"], sent["CallerID"]) == ("PJSIP/1002", "+33612345678", '"Bob" <1002>')
    assert sent["Context"] == f"sb{company.id}-internal"
    unlinked = await make_user(company, "agent")
    await login(client, unlinked.email)
    refused = await post_form(client, "/phone/call", {"contact_id": str(contact)}, headers={"hx-request": "true"})
    assert refused.status_code == 400 and "no phone" in refused.text
    stranger = await make_user(await make_company(), "agent")
    await login(client, stranger.email)
    assert (await post_form(client, "/phone/call", {"contact_id": str(contact)})).status_code == 404
