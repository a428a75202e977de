"""Who talks to whom, as a real Asterisk 22 reports it (issue 17, items 3, 6 and 10).

Every event below is a real capture (``tests/fixtures/ami``); where a flow was not captured
whole, real blocks are re-addressed with ``retag`` (other channel name / ids), never invented.
"""

from app.telephony.state import LiveState
from tests.telephony.fake_ami import blocks, parse

OWNERS = {"1001": (1, "extension"), "1002": (1, "extension"), "1003": (1, "extension")}


def retag(block: str, **headers: str) -> str:
    """A real block with some header values replaced (e.g. the same event on another channel)."""
    lines = []
    for line in block.split("\r\n"):
        key = line.partition(":")[0]
        if key in headers:
            line = f"{key}: {headers[key]}"
        lines.append(line)
    return "\r\n".join(lines)


def first(name: str, **match: str) -> str:
    for b in blocks(name):
        h = parse(b)
        if all(h.get(k) == v for k, v in match.items()):
            return b
    raise AssertionError(f"no block in {name} with {match}")


def feed(state: LiveState, *texts: str) -> None:
    for text in texts:
        state.apply(parse(text))


def only_call(state: LiveState) -> dict:
    calls = state.calls(OWNERS, {})[1]
    assert len(calls) == 1, calls
    return calls[0]


CALLER = "1795314673.2"  # PJSIP/1001-00000002 calls queue 'support' (700); member PJSIP/1002-00000003 rings
MEMBER = "1795314674.3"


def queue_call_ringing(state: LiveState) -> None:
    caller_new = first("real_event_Newchannel.txt", Uniqueid=CALLER)
    ringing = first("real_flow_basic_call_1001_to_1002.txt", Event="Newstate", Channel="PJSIP/1002-00000001")
    feed(
        state,
        caller_new,
        first("real_event_QueueCallerJoin.txt", Uniqueid=CALLER),  # the dialplan answered: caller Up
        first("real_event_AgentCalled.txt", Uniqueid=CALLER),
        first("real_event_DialBegin.txt", Uniqueid=CALLER),
        retag(ringing, Channel="PJSIP/1002-00000003", Uniqueid=MEMBER, Linkedid=CALLER),
    )


def test_queue_call_rings_until_the_member_is_bridged():
    state = LiveState()
    queue_call_ringing(state)
    call = only_call(state)
    # Before: "Up, caller -> member" while the member's phone still rang.
    assert (call["state"], call["from_num"], call["to_num"], call["to_name"]) == ("Ringing", "1001", "1002", "Bob")
    feed(
        state,
        first("real_event_DialEnd.txt", Uniqueid=CALLER),
        first("real_event_AgentConnect.txt", Uniqueid=CALLER),
        first("real_event_BridgeEnter.txt", Uniqueid=MEMBER),
    )
    enter_caller = retag(
        first("real_event_BridgeEnter.txt", Uniqueid=MEMBER),
        Channel="PJSIP/1001-00000002",
        Uniqueid=CALLER,
        CallerIDNum="1001",
        CallerIDName="Alice",
        BridgeNumChannels="2",
    )
    feed(state, enter_caller)
    call = only_call(state)
    assert (call["state"], call["from_num"], call["to_num"]) == ("Up", "1001", "1002")


def test_ring_all_queue_shows_every_ringing_member():
    state = LiveState()
    queue_call_ringing(state)
    second = retag(
        first("real_event_AgentCalled.txt", Uniqueid=CALLER),
        DestChannel="PJSIP/1003-00000004",
        DestUniqueid="1795314674.4",
        DestCallerIDNum="1003",
        DestCallerIDName="Carol",
    )
    feed(state, second)
    call = only_call(state)
    assert call["state"] == "Ringing"
    assert call["to_num"] == "1002, 1003" and call["to_name"] == "Bob, Carol"


def test_caller_hanging_up_first_does_not_swap_from_and_to():
    state = LiveState()
    events = blocks("real_flow_basic_call_1001_to_1002.txt")
    hangups = [i for i, b in enumerate(events) if b.startswith("Event: Hangup\r\n")]
    feed(state, *events[: hangups[0]])
    assert (only_call(state)["from_num"], only_call(state)["to_num"]) == ("1001", "1002")
    caller_gone = next(b for b in events[hangups[0] :] if b.startswith("Event: Hangup\r\n") and "PJSIP/1001-" in b)
    feed(state, caller_gone)
    assert len(state.channels) == 1
    call = only_call(state)
    assert (call["from_num"], call["from_name"], call["to_num"]) == ("1001", "Alice", "1002")


def test_redirect_shows_the_new_callee():
    state = LiveState()
    events = blocks("real_flow_redirect_610_to_601.txt")
    moved = next(i for i, b in enumerate(events) if "Exten: 601" in b)
    feed(state, *events[:moved])
    assert only_call(state)["to_num"] == "610"
    feed(state, events[moved])
    assert only_call(state)["to_num"] == "601"


def test_an_originated_call_never_shows_s():
    """Originate PJSIP/1001 (answer) -> Exten 601: the channel starts at extension ``s``."""
    state = LiveState()
    answered = first("real_event_Newchannel.txt", Uniqueid=CALLER)
    new = retag(
        answered,
        Channel="PJSIP/1001-0000000a",
        Uniqueid="1795314705.12",
        Linkedid="1795314705.12",
        ChannelState="5",
        ChannelStateDesc="Ringing",
        Exten="s",
        ConnectedLineNum="1001",
    )
    feed(state, new)
    call = only_call(state)
    assert call["from_num"] == "1001" and call["to_num"] == ""
    feed(
        state,
        retag(
            first("real_event_Newexten.txt"),
            Channel="PJSIP/1001-0000000a",
            Uniqueid="1795314705.12",
            Linkedid="1795314705.12",
            Exten="601",
        ),
    )
    assert only_call(state)["to_num"] == "601"


def test_trunk_status_follows_the_outbound_registration():
    """OPTIONS say the trunk answers; the registration was rejected: not registered (and back)."""
    state = LiveState()
    owners = {"op1": (1, "trunk")}
    state.registrations = {("sip:acme@sip.example.net", "sip:sip.example.net"): "op1"}
    reachable = retag(first("real_event_ContactStatus.txt"), AOR="op1", EndpointName="op1", ContactStatus="Reachable")
    feed(state, reachable)
    registry = (
        "Event: Registry\r\nPrivilege: system,all\r\nChannelType: PJSIP\r\n"
        "Username: sip:acme@sip.example.net\r\nDomain: sip:sip.example.net\r\nStatus: {}"
    )
    feed(state, registry.format("Rejected"))
    trunk = state.snapshot(1, owners, {}, [])["endpoints"]["op1"]
    assert (trunk["registered"], trunk["registration"]) == (False, "Rejected")
    feed(state, registry.format("Registered"))
    assert state.snapshot(1, owners, {}, [])["endpoints"]["op1"]["registered"] is True
    # The list answer after a reconnect (PJSIPShowRegistrationsOutbound) says the same.
    feed(
        state,
        "Event: OutboundRegistrationDetail\r\nObjectType: registration\r\nObjectName: op1\r\nStatus: Unregistered",
    )
    assert state.snapshot(1, owners, {}, [])["endpoints"]["op1"]["registered"] is False


def test_blind_transfer_shows_the_transferee_and_its_new_callee():
    """1001 calls 1002; 1002 blind-transfers 1001 to 601 (the captured BlindTransfer event)."""
    state = LiveState()
    transfer = blocks("real_event_BlindTransfer.txt")[0]
    h = parse(transfer)
    base = blocks("real_flow_basic_call_1001_to_1002.txt")
    caller_new = retag(
        first("real_flow_basic_call_1001_to_1002.txt", Event="Newchannel", Channel="PJSIP/1001-00000000"),
        Channel=h["TransfereeChannel"],
        Uniqueid=h["TransfereeUniqueid"],
        Linkedid=h["TransfereeLinkedid"],
    )
    callee_new = retag(
        first("real_flow_basic_call_1001_to_1002.txt", Event="Newchannel", Channel="PJSIP/1002-00000001"),
        Channel=h["TransfererChannel"],
        Uniqueid=h["TransfererUniqueid"],
        Linkedid=h["TransfererLinkedid"],
    )
    enters = [
        retag(
            b,
            Channel=h["TransfereeChannel"] if "1001-" in b else h["TransfererChannel"],
            Uniqueid=h["TransfereeUniqueid"] if "1001-" in b else h["TransfererUniqueid"],
            Linkedid=h["TransfereeLinkedid"],
        )
        for b in base
        if b.startswith("Event: BridgeEnter")
    ]
    feed(state, caller_new, callee_new, *enters)
    call = only_call(state)
    assert (call["state"], call["from_num"], call["to_num"]) == ("Up", "1001", "1002")
    feed(state, transfer)
    call = only_call(state)
    # Before: the row kept the old callee until the transferer's channel was gone.
    assert (call["from_num"], call["to_num"]) == ("1001", "601")
