"""Live PBX state built from AMI messages: channels (calls), endpoint states, queues.

Pure and synchronous: ``LiveState.apply(message)`` takes one AMI message (a mapping of
header -> value, as panoramisk gives) and updates the state; ``snapshot(owners, company_id)``
returns what one company may see, as plain JSON-able data. No I/O here: the listener
(``app.telephony.ami``) feeds it and publishes snapshots; the benchmark drives it directly.

Protocol facts used here (ASTERISK-NOTES §2, Asterisk ``main/channel.c``,
``main/devicestate.c``, ``res/res_pjsip/pjsip_options.c``):
* ChannelState numbers: 0 Down … 4 Ring, 5 Ringing, 6 Up; a call is the set of channels
  sharing a ``Linkedid``.
* Device states (DeviceStateChange ``State``): NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE,
  RINGING, RINGINUSE, ONHOLD, UNKNOWN; PJSIPShowEndpoints gives the text form.
* ContactStatus: Reachable/Unreachable/Unknown/NonQualified/Removed in the code, the docs spell
  Unqualified and add Updated/Created: accept all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

CHANNEL_STATES = {
    "0": "Down",
    "1": "Rsrvd",
    "2": "OffHook",
    "3": "Dialing",
    "4": "Ring",
    "5": "Ringing",
    "6": "Up",
    "7": "Busy",
    "8": "Dialing Offhook",
    "9": "Pre-ring",
    "65536": "Mute",
}
# DeviceStateChange / QueueMember Status numbers and names -> the label the console shows.
DEVICE_STATES = {
    "0": "Unknown",
    "1": "Not in use",
    "2": "In use",
    "3": "Busy",
    "4": "Invalid",
    "5": "Unavailable",
    "6": "Ringing",
    "7": "Ring in use",
    "8": "On hold",
    "UNKNOWN": "Unknown",
    "NOT_INUSE": "Not in use",
    "INUSE": "In use",
    "BUSY": "Busy",
    "INVALID": "Invalid",
    "UNAVAILABLE": "Unavailable",
    "RINGING": "Ringing",
    "RINGINUSE": "Ring in use",
    "ONHOLD": "On hold",
}
OFFLINE_DEVICE = {"Unknown", "Invalid", "Unavailable"}
UP_CONTACT = {"reachable", "nonqualified", "unqualified", "created", "updated", "registered"}
DOWN_CONTACT = {"unreachable", "removed", "unregistered", "rejected"}

# Events that change nothing we show: skipped before any other work (VarSet is very chatty).
IGNORED = frozenset(
    {
        "varset",
        "dialstate",
        "newconnectedline",
        "rtcpsent",
        "rtcpreceived",
        "dtmfbegin",
        "dtmfend",
        "successfulauth",
        "challengesent",
        "invalidpassword",
        "requestbadformat",
        "challengeresponsefailed",
        "invalidaccountid",
        "cdr",
        "hanguprequest",
        "softhanguprequest",
    }
)


def endpoint_of(channel: str) -> str:
    """``PJSIP/1001-00000007`` -> ``1001``; ``SIP/2001-0000000a`` -> ``2001``; else ''."""
    tech, _, rest = channel.partition("/")
    if tech not in {"PJSIP", "SIP"} or not rest:
        return ""
    return rest.rsplit("-", 1)[0]


def device_endpoint(device: str) -> str:
    """``PJSIP/1001`` (a device or queue interface) -> ``1001``."""
    tech, _, rest = device.partition("/")
    return rest if tech in {"PJSIP", "SIP"} else ""


def _duration_seconds(value: str) -> int:
    try:
        h, m, s = (int(x) for x in value.split(":"))
        return h * 3600 + m * 60 + s
    except ValueError:
        return 0


@dataclass
class Channel:
    channel: str
    uniqueid: str
    linkedid: str
    state: str
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    exten: str = ""
    accountcode: str = ""
    started: float = 0.0
    answered: float | None = None
    bridge: str = ""  # BridgeUniqueid while in a bridge: who talks to whom (BridgeEnter/BridgeLeave)
    leaving: bool = False  # transferred the call away (BlindTransfer): no longer a party to it


@dataclass
class Endpoint:
    state: str = "Unknown"
    registered: bool = False
    # Outbound registration (trunks): Registered / Unregistered / Rejected / Stopped / Failed, from
    # ``Registry`` events and ``PJSIPShowRegistrationsOutbound``; '' = not known (or no registration).
    registration: str = ""


@dataclass
class Queue:
    strategy: str = ""
    members: dict[str, dict] = field(default_factory=dict)
    callers: dict[str, dict] = field(default_factory=dict)


Owners = Mapping[str, tuple[int, str]]  # endpoint or queue name -> (company_id, kind)


def _clean(value: object) -> str:
    if isinstance(value, list):  # repeated headers
        value = value[-1] if value else ""
    text = str(value or "")
    return "" if text == "<unknown>" else text


class LiveState:
    """Everything the console shows, keyed by Asterisk's own ids."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.channels: dict[str, Channel] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.queues: dict[str, Queue] = {}
        # Each call's originating side (Linkedid -> uniqueid, number, name), remembered so that
        # From/To do not swap when the caller hangs up first.
        self.origins: dict[str, tuple[str, str, str]] = {}
        # Outbound registrations by (client URI, server URI) -> registration (trunk) name: a
        # ``Registry`` event names only the URIs (res_pjsip_outbound_registration.c).
        self.registrations: dict[tuple[str, str], str] = {}
        self.changes = 0

    def reset(self) -> None:
        """Forget everything (before a resync after a (re)connect)."""
        self.channels.clear()
        self.endpoints.clear()
        self.queues.clear()
        self.origins.clear()
        self.changes += 1

    # Applying messages -------------------------------------------------------------------

    def apply(self, msg: Mapping[str, object]) -> bool:
        """Apply one AMI event (or list item); True if anything shown changed."""
        name = str(msg.get("Event") or msg.get("event") or "")
        key = name.lower()
        if not key or key in IGNORED:
            return False
        handler = getattr(self, "_on_" + key, None)
        if handler is None:
            return False
        get = msg.get
        changed = handler(lambda k: _clean(get(k)))
        if changed:
            self.changes += 1
        return bool(changed)

    def _channel_from(self, f) -> Channel:
        uid = f("Uniqueid")
        ch = self.channels.get(uid)
        if ch is None:
            ch = Channel(
                channel=f("Channel"), uniqueid=uid, linkedid=f("Linkedid") or uid, state="", started=self.clock()
            )
            self.channels[uid] = ch
        ch.channel = f("Channel") or ch.channel
        ch.linkedid = f("Linkedid") or ch.linkedid
        ch.state = CHANNEL_STATES.get(f("ChannelState"), f("ChannelStateDesc") or ch.state)
        ch.caller_num = f("CallerIDNum") or ch.caller_num
        ch.caller_name = f("CallerIDName") or ch.caller_name
        ch.connected_num = f("ConnectedLineNum") or ch.connected_num
        ch.connected_name = f("ConnectedLineName") or ch.connected_name
        ch.exten = ch.exten or f("Exten")
        ch.accountcode = f("AccountCode") or ch.accountcode
        if ch.state == "Up" and ch.answered is None:
            ch.answered = self.clock()
        if uid == ch.linkedid:
            self.origins[uid] = (uid, ch.caller_num, ch.caller_name)
        return ch

    def _on_newchannel(self, f) -> bool:
        if not f("Uniqueid"):
            return False
        self._channel_from(f)
        return True

    def _on_newstate(self, f) -> bool:
        if not f("Uniqueid"):
            return False
        self._channel_from(f)
        return True

    _on_newcallerid = _on_newstate

    def _on_bridgeenter(self, f) -> bool:
        if not f("Uniqueid"):
            return False
        self._channel_from(f).bridge = f("BridgeUniqueid")
        return True

    def _on_bridgeleave(self, f) -> bool:
        if not f("Uniqueid"):
            return False
        self._channel_from(f).bridge = ""
        return True

    def _on_blindtransfer(self, f) -> bool:
        """``BlindTransfer`` (main/stasis_bridges.c): the transferer hands the transferee to
        ``Extension``; the call goes on between the transferee and that extension."""
        if f("Result") != "Success":
            return False
        transferee = self.channels.get(f("TransfereeUniqueid"))
        transferer = self.channels.get(f("TransfererUniqueid"))
        if transferer is not None:
            transferer.leaving = True
            transferer.bridge = ""
        if transferee is None:
            return transferer is not None
        transferee.exten = f("Extension") or transferee.exten
        transferee.bridge = ""
        self.origins[transferee.linkedid] = (transferee.uniqueid, transferee.caller_num, transferee.caller_name)
        return True

    def _on_newexten(self, f) -> bool:
        """The channel moved in the dialplan (a Redirect, an originated call answering): its
        destination is the new extension. Not a new channel: only known ones are updated."""
        ch = self.channels.get(f("Uniqueid"))
        exten = f("Exten")
        if ch is None or not exten or ch.exten == exten:
            return False
        ch.exten = exten
        return True

    def _on_dialbegin(self, f) -> bool:
        """DialBegin / DialEnd / AgentCalled / AgentConnect carry both sides: the caller's
        fields and the dialed channel's as ``Dest*`` (main/manager_channels.c snapshots)."""
        changed = False
        if f("Uniqueid"):
            self._channel_from(f)
            changed = True
        if f("DestUniqueid"):
            self._channel_from(lambda k: f("Dest" + k))
            changed = True
        return changed

    _on_dialend = _on_dialbegin
    _on_agentcalled = _on_dialbegin
    _on_agentconnect = _on_dialbegin

    def _on_coreshowchannel(self, f) -> bool:
        if not f("Uniqueid"):
            return False
        ch = self._channel_from(f)
        ch.bridge = f("BridgeId")
        ch.exten = f("Exten") or ch.exten
        ch.started = self.clock() - _duration_seconds(f("Duration"))
        if ch.state == "Up" and ch.answered is not None:
            ch.answered = ch.started
        return True

    def _on_hangup(self, f) -> bool:
        gone = self.channels.pop(f("Uniqueid"), None)
        changed = gone is not None
        if gone is not None and not any(c.linkedid == gone.linkedid for c in self.channels.values()):
            self.origins.pop(gone.linkedid, None)
        for q in self.queues.values():
            if q.callers.pop(f("Uniqueid"), None) is not None:
                changed = True
        return changed

    # Endpoints ---------------------------------------------------------------------------

    def _endpoint(self, name: str) -> Endpoint:
        ep = self.endpoints.get(name)
        if ep is None:
            ep = self.endpoints[name] = Endpoint()
        return ep

    def _on_endpointlist(self, f) -> bool:
        name = f("ObjectName")
        if not name:
            return False
        ep = self._endpoint(name)
        ep.state = DEVICE_STATES.get(f("DeviceState").upper().replace(" ", "_"), f("DeviceState") or "Unknown")
        ep.registered = ep.state not in OFFLINE_DEVICE
        return True

    def _on_peerentry(self, f) -> bool:  # chan_sip SIPpeers (Asterisk 18)
        name = f("ObjectName")
        if not name:
            return False
        ep = self._endpoint(name)
        status = f("Status")
        ep.registered = status.startswith("OK")
        ep.state = "Not in use" if ep.registered else "Unavailable"
        return True

    def _on_devicestatechange(self, f) -> bool:
        name = device_endpoint(f("Device"))
        if not name:
            return False
        ep = self._endpoint(name)
        state = DEVICE_STATES.get(f("State"), f("State") or "Unknown")
        if ep.state == state:
            return False
        ep.state = state
        ep.registered = state not in OFFLINE_DEVICE
        return True

    def _on_peerstatus(self, f) -> bool:
        name = device_endpoint(f("Peer"))
        if not name:
            return False
        status = f("PeerStatus").lower()
        ep = self._endpoint(name)
        if status in UP_CONTACT:
            ep.registered = True
            if ep.state in OFFLINE_DEVICE:
                ep.state = "Not in use"
        elif status in DOWN_CONTACT:
            ep.registered = False
            ep.state = "Unavailable"
        else:
            return False
        return True

    def _on_contactstatus(self, f) -> bool:
        name = f("EndpointName") or f("AOR")
        if not name:
            return False
        status = f("ContactStatus").lower()
        ep = self._endpoint(name)
        if status in UP_CONTACT:
            ep.registered = True
            if ep.state in OFFLINE_DEVICE:
                ep.state = "Not in use"
        elif status in DOWN_CONTACT:
            ep.registered = False
            ep.state = "Unavailable"
        else:
            return False
        return True

    def _registration(self, name: str, status: str) -> bool:
        ep = self._endpoint(name)
        if ep.registration == status:
            return False
        ep.registration = status
        return True

    def _on_registry(self, f) -> bool:
        """Outbound registration result: ``ChannelType: PJSIP, Username: <client_uri>,
        Domain: <server_uri>, Status`` (``ast_system_publish_registry`` in
        res_pjsip_outbound_registration.c); chan_sip: Username = user, Domain = host."""
        name = self.registrations.get((f("Username"), f("Domain")))
        if name is None:  # chan_sip and older forms: match on the host alone
            host = f("Domain").removeprefix("sip:")
            name = next(
                (n for (_, server), n in self.registrations.items() if server.removeprefix("sip:") == host), None
            )
        return bool(name) and self._registration(name, f("Status"))

    def _on_outboundregistrationdetail(self, f) -> bool:  # PJSIPShowRegistrationsOutbound item
        name = f("ObjectName")
        return bool(name) and bool(f("Status")) and self._registration(name, f("Status"))

    # Queues ------------------------------------------------------------------------------

    def _queue(self, name: str) -> Queue:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = Queue()
        return q

    def _on_queueparams(self, f) -> bool:
        if not f("Queue"):
            return False
        self._queue(f("Queue")).strategy = f("Strategy")
        return True

    def _member(self, f, interface_key: str, name_key: str) -> bool:
        if not f("Queue") or not f(interface_key):
            return False
        q = self._queue(f("Queue"))
        q.members[f(interface_key)] = {
            "interface": f(interface_key),
            "name": f(name_key),
            "status": DEVICE_STATES.get(f("Status"), f("Status")),
            "paused": f("Paused") == "1",
            "reason": f("PausedReason"),
            "penalty": f("Penalty"),
            "in_call": f("InCall") == "1",
        }
        return True

    def _on_queuemember(self, f) -> bool:  # QueueStatus list item
        return self._member(f, "Location", "Name")

    def _on_queuememberstatus(self, f) -> bool:
        return self._member(f, "Interface", "MemberName")

    _on_queuememberadded = _on_queuememberstatus
    _on_queuememberpause = _on_queuememberstatus

    def _on_queuememberremoved(self, f) -> bool:
        q = self.queues.get(f("Queue"))
        return bool(q and q.members.pop(f("Interface"), None) is not None)

    def _caller(self, f, joined: float) -> bool:
        if not f("Queue") or not f("Uniqueid"):
            return False
        self._queue(f("Queue")).callers[f("Uniqueid")] = {
            "uniqueid": f("Uniqueid"),
            "channel": f("Channel"),
            "caller_num": f("CallerIDNum"),
            "caller_name": f("CallerIDName"),
            "position": int(f("Position") or 0),
            "joined": joined,
        }
        return True

    def _on_queuecallerjoin(self, f) -> bool:
        return self._caller(f, self.clock())

    def _on_queueentry(self, f) -> bool:  # QueueStatus list item: a waiting caller
        try:
            wait = int(f("Wait") or 0)
        except ValueError:
            wait = 0
        return self._caller(f, self.clock() - wait)

    def _on_queuecallerleave(self, f) -> bool:
        q = self.queues.get(f("Queue"))
        return bool(q and q.callers.pop(f("Uniqueid"), None) is not None)

    # Reading -----------------------------------------------------------------------------

    def _company_of_channel(self, ch: Channel, owners: Owners, accounts: Mapping[str, int]) -> int | None:
        owner = owners.get(endpoint_of(ch.channel))
        if owner is not None:
            return owner[0]
        return accounts.get(ch.accountcode)

    def calls(self, owners: Owners, accounts: Mapping[str, int]) -> dict[int, list[dict]]:
        """Live calls per company: channels grouped by Linkedid, oldest first.

        Who talks to whom comes from bridges (BridgeEnter/BridgeLeave): a queue caller answered
        by the dialplan is "Up" while the members still ring, so a call is Up only when two of
        its channels share a bridge. The From side is the originating channel (remembered after
        it hangs up); To is its bridged peer, else every channel it rings (all members of a
        ring-all queue), else the extension it is at in the dialplan (never ``s``).
        """
        groups: dict[str, list[Channel]] = {}
        for ch in self.channels.values():
            groups.setdefault(ch.linkedid, []).append(ch)
        result: dict[int, list[dict]] = {}
        for linkedid, chans in groups.items():
            companies = {c for c in (self._company_of_channel(ch, owners, accounts) for ch in chans) if c}
            if not companies:
                continue
            chans.sort(key=lambda c: (c.uniqueid != linkedid, c.started, c.uniqueid))
            call = self._call(linkedid, chans)
            for company in companies:
                result.setdefault(company, []).append(call)
        for calls in result.values():
            calls.sort(key=lambda c: c["started"])
        return result

    def _call(self, linkedid: str, chans: list[Channel]) -> dict:
        origin_uid, from_num, from_name = self.origins.get(linkedid) or (
            chans[0].uniqueid,
            chans[0].caller_num,
            chans[0].caller_name,
        )
        origin = next((c for c in chans if c.uniqueid == origin_uid), None)
        if origin is not None:
            from_num, from_name = origin.caller_num or from_num, origin.caller_name or from_name
        others = [c for c in chans if c.uniqueid != origin_uid and not c.leaving]
        in_bridge: dict[str, int] = {}
        for c in chans:
            if c.bridge:
                in_bridge[c.bridge] = in_bridge.get(c.bridge, 0) + 1
        talking = {b for b, n in in_bridge.items() if n >= 2}
        if origin is not None and origin.bridge in talking:
            peers = [c for c in others if c.bridge == origin.bridge]
        elif talking:
            peers = [c for c in others if c.bridge in talking]
        else:
            peers = others
        nums: list[str] = []
        names: list[str] = []
        for c in peers:
            if c.caller_num and c.caller_num not in nums:
                nums.append(c.caller_num)
                names.append(c.caller_name)
        if nums:
            to_num, to_name = ", ".join(nums), ", ".join(n for n in names if n)
        elif origin is not None:
            exten = "" if origin.exten == "s" else origin.exten
            connected = origin.connected_num if origin.connected_num != from_num else ""
            to_num, to_name = exten or connected, origin.connected_name if connected and not exten else ""
        else:
            to_num, to_name = "", ""
        if talking:
            state = "Up"
        elif any(c.state in {"Ringing", "Ring"} for c in others):
            state = "Ringing"
        else:
            state = (origin or chans[0]).state
        answered = [c.answered for c in chans if c.answered is not None]
        return {
            "id": linkedid,
            "from_num": from_num,
            "from_name": from_name,
            "to_num": to_num,
            "to_name": to_name,
            "state": state,
            "started": round(min(c.started for c in chans), 3),
            "answered": round(min(answered), 3) if answered else None,
            "channels": [c.channel for c in ([origin] if origin else []) + others],
        }

    def snapshot(self, company_id: int, owners: Owners, queue_owners: Mapping[str, int], calls: list[dict]) -> dict:
        """What ``company_id`` may see: its calls, endpoints, queues and the counters.

        ``owners`` maps endpoint names to (company, 'extension' | 'trunk'); ``queue_owners``
        maps queue names (their own namespace in Asterisk) to a company.
        """
        endpoints = {}
        registered = {"extension": 0, "trunk": 0}
        for name, (company, kind) in owners.items():
            if company != company_id or kind not in registered:
                continue
            ep = self.endpoints.get(name) or Endpoint()
            up = ep.registered
            if kind == "trunk" and name in self.registrations.values():
                # A registering trunk is up when its registration is, not when OPTIONS get an answer.
                up = ep.registration == "Registered"
            endpoints[name] = {"kind": kind, "state": ep.state, "registered": up}
            if kind == "trunk":
                endpoints[name]["registration"] = ep.registration
            registered[kind] += up
        queues = {}
        for name, company in queue_owners.items():
            if company != company_id:
                continue
            q = self.queues.get(name) or Queue()
            queues[name] = {
                "strategy": q.strategy,
                "members": sorted(q.members.values(), key=lambda m: m["interface"]),
                "callers": sorted(q.callers.values(), key=lambda c: (c["position"], c["joined"])),
            }
        return {
            "calls": calls,
            "endpoints": endpoints,
            "queues": queues,
            "stats": {
                "active_calls": len(calls),
                "registered_extensions": registered["extension"],
                "registered_trunks": registered["trunk"],
            },
        }
