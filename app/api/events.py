"""``GET /api/v1/events``: live events as JSON for programs (``text/event-stream``).

Seed 004's events, named as its WebSocket's (``stats:update`` every 2 s, ``call:new``,
``call:state-change``, ``call:hangup``, ``peer:status``), and the chat's
(``conversation:queued``, ``conversation:assigned``, ``conversation:resolved``,
``message:received``, ``message:sent``, ``agent:presence``), each ``data:`` one JSON object.

What a stream carries follows its key: ``calls`` for ``stats:update`` and ``call:*``,
``pbx:read`` or ``calls`` for ``peer:status``, ``read`` for the chat's events; always only the
key's company. A logged-in admin gets all of them, a supervisor all but ``peer:status``.

Resuming: each event's ``id:`` is the time it reached this process's hub; a client that
reconnects with ``Last-Event-ID`` first gets what it missed, if the hub still remembers it
(the last minute), else a ``resync`` event telling it to reload what it shows. Call events are
derived by comparing the company's successive PBX snapshots, so a resumed stream gets the
calls' changes since its last snapshot rather than every intermediate state.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from litestar import Request, get
from litestar.exceptions import ValidationException
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.api.auth import ApiPrincipal
from app.domain import api_reads
from app.domain.errors import NotFound
from app.domain.events import (
    ConversationRouted,
    Event,
    MessageReceived,
    MessageStatusChanged,
    PresenceChanged,
)
from app.realtime.hub import RECENT_SECONDS, Closed, Resync
from app.telephony.live import PbxLiveChanged, get_live

ROLE_SCOPES = {"admin": ("read", "calls", "pbx:read"), "supervisor": ("read", "calls")}
ROUTED = {"queued": "conversation:queued", "assigned": "conversation:assigned", "resolved": "conversation:resolved"}


def scopes_of(principal: object) -> set[str]:
    if isinstance(principal, ApiPrincipal):
        return set(principal.scopes)
    return set(ROLE_SCOPES.get(getattr(principal, "role", ""), ()))


def wants(scopes: set[str], event: Event) -> bool:
    if isinstance(event, PbxLiveChanged):
        return bool(scopes & {"calls", "pbx:read"})
    if isinstance(event, (ConversationRouted, MessageReceived, MessageStatusChanged, PresenceChanged)):
        return "read" in scopes
    return False


@dataclass
class PbxDiff:
    """One stream's memory of the last snapshot it saw, to turn snapshots into seed 004's events."""

    calls: dict[str, str] = field(default_factory=dict)  # call id -> state
    peers: dict[str, str] = field(default_factory=dict)  # endpoint name -> status
    primed: bool = False

    def events(self, live: dict, scopes: set[str]) -> list[tuple[str, dict]]:
        out: list[tuple[str, dict]] = []
        calls = {c["id"]: c for c in live["calls"]}
        peers = {
            n: ("Registered" if e["registered"] else "Unregistered", e["kind"]) for n, e in live["endpoints"].items()
        }
        if "calls" in scopes:
            for call_id, call in calls.items():
                if call_id not in self.calls:
                    out.append(("call:new", call))
                elif self.calls[call_id] != call["state"]:
                    out.append(("call:state-change", {"id": call_id, "state": call["state"]}))
            out.extend(("call:hangup", {"id": call_id}) for call_id in self.calls if call_id not in calls)
            s = live["stats"]
            out.append(
                (
                    "stats:update",
                    {
                        "activeCalls": s["active_calls"],
                        "registeredExtensions": s["registered_extensions"],
                        "registeredTrunks": s["registered_trunks"],
                    },
                )
            )
        if scopes & {"calls", "pbx:read"} and self.primed:
            out.extend(
                ("peer:status", {"type": kind, "id": name, "status": status})
                for name, (status, kind) in peers.items()
                if self.peers.get(name) != status
            )
        self.calls = {call_id: call["state"] for call_id, call in calls.items()}
        self.peers = {name: status for name, (status, _) in peers.items()}
        self.primed = True
        return out


async def chat_event(company_id: int, event: Event) -> tuple[str, dict] | None:
    if isinstance(event, PresenceChanged):
        return "agent:presence", {"user_id": event.user_id, "presence": event.presence}
    if isinstance(event, ConversationRouted):
        name = ROUTED.get(event.status)
        if name is None:
            return None
        return name, {
            "conversation_id": event.conversation_id,
            "status": event.status,
            "user_id": event.user_id,
            "previous_user_id": event.previous_user_id,
            "department_id": event.department_id,
        }
    if isinstance(event, MessageReceived) or (isinstance(event, MessageStatusChanged) and event.status == "sent"):
        try:
            message = await api_reads.get_message(company_id, event.message_id)
        except NotFound:
            return None
        return ("message:received" if isinstance(event, MessageReceived) else "message:sent"), message
    return None


def _last_event_id(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationException("Last-Event-ID: the id of an event of this stream.") from None
    if not math.isfinite(value) or value > time.time() + 60:
        raise ValidationException("Last-Event-ID: the id of an event of this stream.")
    return value


@get(
    "/events",
    summary="Live events (text/event-stream of JSON), resumable with Last-Event-ID",
    opt={"any_scope": True},
    tags=["events"],
    media_type="text/event-stream",
)
async def api_events(request: Request) -> ServerSentEvent:
    hub = request.app.state.hub
    keepalive = request.app.state.settings.sse_keepalive
    company_id = request.user.company_id
    scopes = scopes_of(request.user)
    last = _last_event_id(request.headers.get("last-event-id") or request.query_params.get("last_event_id"))
    # Subscribe and read the hub's memory with no await in between: no event falls in the gap.
    sub = hub.subscribe(company_id, lambda e: wants(scopes, e))
    backlog: list[tuple[float, Event]] | None = []
    if last is not None:
        if hub.complete_since is None or last < hub.complete_since or last < time.time() - RECENT_SECONDS:
            backlog = None
        else:
            backlog = [(at, e) for at, e in hub.recent if at > last and e.company_id == company_id and wants(scopes, e)]

    diff = PbxDiff()

    async def stream() -> AsyncGenerator[ServerSentEventMessage, None]:
        try:
            yield ServerSentEventMessage(event="ready", data=json.dumps({"scopes": sorted(scopes)}), retry=2000)
            if scopes & {"calls", "pbx:read"}:
                diff.events(await get_live(company_id), set())  # the current state is the baseline
            if backlog is None:
                yield ServerSentEventMessage(event="resync", data=json.dumps({"reason": "gap"}))
            for at, event in backlog or []:
                for message in await _messages(event, at):
                    yield message
            while True:
                try:
                    item = await asyncio.wait_for(sub.get(), keepalive)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keepalive", data=None)
                    continue
                if isinstance(item, Closed):
                    return
                if isinstance(item, Resync):
                    yield ServerSentEventMessage(event="resync", data=json.dumps({"reason": item.reason}))
                    continue
                for message in await _messages(item, _arrival(item)):
                    yield message
        finally:
            hub.unsubscribe(sub)

    def _arrival(event: Event) -> float:
        # The time the hub stamped on this very event (newest first: it is among the last ones).
        for at, seen in reversed(hub.recent):
            if seen is event:
                return at
        return time.time()

    async def _messages(event: Event, at: float) -> list[ServerSentEventMessage]:
        if isinstance(event, PbxLiveChanged):
            pairs = diff.events(await get_live(company_id), scopes)
        else:
            found = await chat_event(company_id, event)
            pairs = [found] if found else []
        return [
            ServerSentEventMessage(event=name, data=json.dumps(data, separators=(",", ":"), default=str), id=repr(at))
            for name, data in pairs
        ]  # exact: float(repr(x)) == x

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
