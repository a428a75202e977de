"""The AMI leader's side of "one person, one availability" (issue 17).

``AgentPhones`` turns the live state of the extensions linked to agents into
``agent_phone`` rows (``app.domain.phone.record_phone_states``): ringing and busy from the
extension's channels (Newstate: a queue member's phone rings before any DeviceStateChange
says so), else from the device state (DeviceStateChange); the call and the other party from
the live call; the queue pause from QueueMemberPause / QueueStatus. It runs as soon as an AMI
event changed anything, not on the console's 0.2 s publishing beat, so that the screen-pop
leaves within milliseconds of Asterisk's event.

It also carries presence to the PBX: an agent going offline (or away, by company setting) in
Switchboard is paused in every queue (``QueuePause`` without ``Queue`` = all of the
interface's queues, apps/app_queue.c ``manager_queue_member_pause``) with a reason, and
unpaused when back online. Our own pauses carry ``REASON``; a pause from the phone or from
/operator has another reason and shows on the agent's presence.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from app.domain import sql
from app.domain.events import Event, PresenceChanged, UserChanged
from app.domain.phone import PhoneState, record_phone_states
from app.realtime.hub import Resync
from app.realtime.tasks import stop_task
from app.telephony.state import OFFLINE_DEVICE, LiveState, endpoint_of

if TYPE_CHECKING:
    from app.telephony.ami import AmiListener

log = logging.getLogger(__name__)

REASON = "Switchboard: away"
RINGING_DEVICE = {"Ringing", "Ring in use"}
BUSY_DEVICE = {"In use", "Busy", "On hold"}
HEARTBEAT = 2.0  # seconds between two syncs without AMI events (a safety net, not a cache rule)


async def load_links() -> dict[str, tuple[int, int]]:
    """Extension name -> (company_id, user_id) for every linked agent."""
    rows = await sql.fetch(
        """SELECT o.name, a.company_id, a.user_id FROM agent_extension a JOIN pbx_object o ON o.id = a.extension_id"""
    )
    return {r["name"]: (r["company_id"], r["user_id"]) for r in rows}


class Index:
    """The live channels by endpoint and by call, built once per sync (not once per agent)."""

    def __init__(self, state: LiveState) -> None:
        self.by_endpoint: dict[str, list] = {}
        self.by_call: dict[str, list] = {}
        for c in state.channels.values():
            self.by_endpoint.setdefault(endpoint_of(c.channel), []).append(c)
            self.by_call.setdefault(c.linkedid, []).append(c)


def phone_state(
    state: LiveState, extension: str, company_id: int, user_id: int, index: Index | None = None
) -> PhoneState:
    """What ``extension``'s phone is doing, from the leader's live state."""
    index = index or Index(state)
    mine = index.by_endpoint.get(extension, [])
    ep = state.endpoints.get(extension)
    call_id = peer_num = peer_name = ""
    if mine:
        ch = min(mine, key=lambda c: c.started)
        status = (
            "ringing"
            if all(c.state in {"Ringing", "Ring", "Down", ""} and c.answered is None for c in mine)
            else "busy"
        )
        if ch.state == "Ring" and ch.uniqueid == ch.linkedid:  # our phone dials out: not ringing for us
            status = "busy"
        chans = list(index.by_call.get(ch.linkedid, []))
        chans.sort(key=lambda c: (c.uniqueid != ch.linkedid, c.started, c.uniqueid))
        call = state._call(ch.linkedid, chans)  # noqa: SLF001 - same package, same rules as the console
        call_id = ch.linkedid
        if call["from_num"] == extension or ch.uniqueid == ch.linkedid:
            peer_num, peer_name = call["to_num"], call["to_name"]
        else:
            peer_num, peer_name = call["from_num"], call["from_name"]
    elif ep is not None and ep.state in RINGING_DEVICE:
        status = "ringing"
    elif ep is not None and ep.state in BUSY_DEVICE:
        status = "busy"
    elif ep is not None and ep.state in OFFLINE_DEVICE and not ep.registered:
        status = "unavailable"
    else:
        status = "idle"
    paused, reason = False, ""
    for q in state.queues.values():
        for iface in (f"PJSIP/{extension}", f"SIP/{extension}"):
            m = q.members.get(iface)
            if m and m["paused"]:
                paused, reason = True, m["reason"]
    return PhoneState(user_id, company_id, extension, status, call_id, peer_num, peer_name, paused, reason)


class AgentPhones:
    """Keeps ``agent_phone`` in step with the AMI (leader only)."""

    def __init__(self, listener: AmiListener) -> None:
        self.listener = listener
        # Who is linked to which extension: re-read when a user changes (link_extension emits
        # UserChanged), when our PBX objects change, and after any gap in the bus.
        self.links: dict[str, tuple[int, int]] = {}
        self._links_stale = True
        self._last: dict[int, PhoneState] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()  # referenced until done (asyncio keeps weak ones)
        self.writes = 0

    def touch(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._last.clear()
            self._task = asyncio.create_task(self._loop(), name="agent-phones")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), HEARTBEAT)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep following the phones after a database hiccup
                log.exception("could not record the agents' phone states")
                await asyncio.sleep(1)

    async def sync(self) -> int:
        """Write the phone states that changed; returns how many."""
        if self._links_stale:
            self._links_stale = False
            self.links = await load_links()
        if self.listener.status != "connected":
            return 0
        state = self.listener.state
        index = Index(state)
        changed = []
        for extension, (company_id, user_id) in self.links.items():
            now = phone_state(state, extension, company_id, user_id, index)
            if self._last.get(user_id) != now:
                changed.append(now)
        if changed:
            await record_phone_states(changed)
            for s in changed:
                self._last[s.user_id] = s
            self.writes += len(changed)
        return len(changed)

    # Presence -> queue pause --------------------------------------------------------------

    def _spawn(self, coro) -> None:  # noqa: ANN001
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def links_changed(self) -> None:
        self._links_stale = True
        self.touch()

    def on_bus(self, item: Event | object) -> None:
        """Hub watcher: a presence change of a linked agent pauses or unpauses their queue
        members; a user changed (or a gap in the bus) makes the links be read again."""
        if isinstance(item, (UserChanged, Resync)):
            self.links_changed()
        if isinstance(item, PresenceChanged) and self.listener.is_leader:
            self._spawn(self._presence(item))

    async def _presence(self, event: PresenceChanged) -> None:
        from app.domain.phone import get_voice_settings

        if self._links_stale:
            self._links_stale = False
            self.links = await load_links()
        extension = next((e for e, (_, u) in self.links.items() if u == event.user_id), None)
        if extension is None:
            return
        settings = await get_voice_settings(event.company_id)
        away = event.presence == "offline" or (settings["pause_when"] == "not_online" and event.presence != "online")
        await self.listener.pause_member(extension, away, REASON if away else "")

    # Missed calls -> WhatsApp, automatically --------------------------------------------------

    def abandoned(self, queue: str, number: str) -> None:
        """QueueCallerAbandon (apps/app_queue.c: the caller hung up while waiting): when the
        queue's company asked for it, the customer gets the missed-call message."""
        company_id = self.listener.publisher.queue_owners.get(queue)
        if company_id is not None and number:
            self._spawn(self._follow_up(company_id, number))

    async def _follow_up(self, company_id: int, number: str) -> None:
        from app.domain.errors import DomainError
        from app.domain.missed_calls import follow_up_missed_call
        from app.domain.phone import get_voice_settings

        if not (await get_voice_settings(company_id))["missed_call_auto"]:
            return
        try:
            await follow_up_missed_call(company_id, number, automatic=True)
        except DomainError as exc:  # e.g. a national number we cannot write to: nothing to send
            log.info("no missed-call message to %s: %s", number[-4:], exc)
