"""The AMI connection: one leader process listens, any process can send an action.

* ``AmiListener`` runs in every app process when ``AMI_HOST`` is set. It takes a PostgreSQL
  advisory lock on a dedicated connection; the process that holds it is the leader and keeps
  the one AMI event connection (panoramisk). After every (re)connect it resyncs the whole state
  (``CoreShowChannels``, ``PJSIPShowEndpoints`` or ``SIPpeers``, ``QueueStatus``), then applies
  events as they come. Snapshots are published per company by ``LivePublisher``.
* ``send_action`` opens a short connection (``Events: off``) from whichever process serves the
  request: actions never depend on being the leader.

panoramisk 1.4 quirks handled here (ASTERISK-NOTES §3): it reconnects on its own forever,
even after a refused login, and cannot be told to stop; ``_Manager`` disables that so that the
listener decides (with backoff) and reports a bad password or an unreachable Asterisk as a
status instead of a silent retry loop. A successful ``QueueAdd`` never resolves in 1.4: every
action is awaited with a timeout and single-response actions pass ``as_list=False``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass

from panoramisk import Manager

from app.domain.errors import DomainError
from app.realtime.leader import Leadership
from app.settings import Settings
from app.telephony.agents import AgentPhones
from app.telephony.live import LivePublisher, set_status
from app.telephony.state import LiveState

log = logging.getLogger(__name__)

LEADER_LOCK = 7_201_003


class AmiError(DomainError):
    """Asterisk refused an action, or could not be reached; the message says which."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def _fail(fut: asyncio.Future, exc: BaseException) -> None:
    """Fail ``fut`` without asyncio's "exception was never retrieved" when nobody awaits it."""
    if not fut.done():
        fut.set_exception(exc)
        fut.exception()


class _Manager(Manager):
    """panoramisk's Manager without its own endless reconnects; tells us about login/loss."""

    def __init__(self, **config) -> None:
        super().__init__(**config)
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.logged_in: asyncio.Future = loop.create_future()
        self.lost: asyncio.Future = loop.create_future()

    def connection_made(self, f) -> None:  # noqa: ANN001
        exc = None if f.cancelled() else f.exception()
        if f.cancelled() or exc is not None:
            err = exc or ConnectionError("cancelled")
            _fail(self.logged_in, err)
            if not self.lost.done():
                self.lost.set_result(err)
            return
        super().connection_made(f)

    def login(self, future) -> bool:  # noqa: ANN001
        ok = super().login(future)
        if not self.logged_in.done():
            self.logged_in.set_result((ok, future.result().message or ""))
        return ok

    def connection_lost(self, exc) -> None:  # noqa: ANN001
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        _fail(self.logged_in, ConnectionError("connection closed before login"))
        if not self.lost.done():
            self.lost.set_result(exc)


def _config(settings: Settings, events: str) -> dict:
    return {
        "host": settings.ami_host,
        "port": settings.ami_port,
        "username": settings.ami_username,
        "secret": settings.ami_secret,
        "events": events,
        "ping_delay": 10,
        "ping_interval": 10,
        "log": logging.getLogger("app.telephony.panoramisk"),
    }


async def open_manager(settings: Settings, *, events: str, timeout: float) -> _Manager:
    """Connect and log in; raise AmiError with a clear reason otherwise."""
    manager = _Manager(**_config(settings, events))
    try:
        await asyncio.wait_for(manager.connect(), timeout)
        ok, message = await asyncio.wait_for(asyncio.shield(manager.logged_in), timeout)
    except (TimeoutError, OSError, ConnectionError) as exc:
        manager.close()
        reason = str(exc) or type(exc).__name__
        raise AmiError(
            f"Asterisk is unreachable at {settings.ami_host}:{settings.ami_port} ({reason}).", unreachable=True
        ) from exc
    if not ok:
        manager.close()
        raise AmiError(f"Asterisk refused the AMI login: {message or 'Authentication failed'}.")
    return manager


@dataclass(frozen=True)
class AmiResult:
    ok: bool
    message: str


async def send_action(settings: Settings, action: dict, *, timeout: float | None = None) -> AmiResult:
    """Send one single-response action on a short connection of this process."""
    if not settings.ami_host:
        raise AmiError("The PBX is not configured (AMI_HOST is empty).", unreachable=True)
    timeout = timeout or settings.ami_timeout
    manager = await open_manager(settings, events="off", timeout=timeout)
    try:
        resp = await asyncio.wait_for(manager.send_action(dict(action), as_list=False), timeout)
    except TimeoutError as exc:
        raise AmiError(
            f"Asterisk did not answer {action.get('Action')} within {timeout:.0f} s.", unreachable=True
        ) from exc
    finally:
        manager.close()
    if isinstance(resp, list):  # defensive: list answers carry the response first
        resp = resp[0]
    return AmiResult(ok=bool(resp.success), message=str(resp.message or resp.response or ""))


class AmiListener:
    """Leader election + the AMI event connection + the live state publisher."""

    reconnect_min = 0.5  # seconds; the backoff doubles up to AMI_RECONNECT_MAX

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = LiveState()
        self.publisher = LivePublisher(self.state, settings)
        self.status = "starting"
        self.resyncs = 0
        self.events = 0  # AMI events received (for the benchmark and diagnostics)
        self._manager: _Manager | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        # The process holding the advisory lock leads; if its lock connection fails the
        # health check, the job is cancelled (AMI connection closed) and another takes over.
        self.phones = AgentPhones(self)  # linked agents' phone states (issue 17)
        self.publisher.on_owners_changed = self.owners_changed
        self.leadership = Leadership(settings.direct_url, LEADER_LOCK, "ami-listener", self._lead, retry_seconds=3.0)

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    async def start(self) -> None:
        self.leadership.start()

    async def close(self) -> None:
        await self.leadership.close()
        if self._manager:
            self._manager.close()
        await self.publisher.close()

    async def _lead(self) -> None:
        await self.publisher.start()
        await self.phones.start()
        try:
            await self._run()
        finally:
            if self._manager is not None:
                self._manager.close()
                self._manager = None
            await self.phones.close()
            await self.publisher.close()

    async def _set_status(self, state: str, detail: str = "") -> None:
        self.status = state
        self.publisher.status = (state, detail, self.name)
        log.log(
            logging.WARNING if state in {"auth_failed", "unreachable"} else logging.INFO, "AMI %s %s", state, detail
        )
        try:
            await set_status(state, detail, self.name)
        except Exception:  # noqa: BLE001 - status is best effort
            log.exception("could not record the AMI status")

    async def _run(self) -> None:
        backoff = self.reconnect_min
        while True:
            await self._set_status("connecting", f"{self.settings.ami_host}:{self.settings.ami_port}")
            try:
                self._manager = await open_manager(self.settings, events="on", timeout=self.settings.ami_timeout)
            except AmiError as exc:
                await self._set_status("unreachable" if exc.unreachable else "auth_failed", str(exc))
                self.state.reset()
                await self.publisher.flush(force=True)
                # A refused password will not fix itself quickly: wait longer before asking again.
                delay = backoff if exc.unreachable else max(backoff, self.settings.ami_reconnect_max)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self.settings.ami_reconnect_max)
                continue
            manager = self._manager
            manager.register_event("*", self._on_event)
            try:
                await self._resync(manager)
                backoff = self.reconnect_min
                await self._set_status("connected", f"{self.settings.ami_host}:{self.settings.ami_port}")
                await self.publisher.flush(force=True)
                exc = await manager.lost
                reason = (
                    f"Shutdown: {exc.get('Shutdown', '')}"
                    if exc is not None and hasattr(exc, "get")
                    else "connection closed"
                )
            except (TimeoutError, AmiError, ConnectionError) as err:
                reason = str(err) or type(err).__name__
            finally:
                manager.close()
                self._manager = None
            self.state.reset()
            await self._set_status("unreachable", f"Lost the AMI connection ({reason}); reconnecting.")
            await self.publisher.flush(force=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.settings.ami_reconnect_max)

    def _on_event(self, _manager, message) -> None:  # noqa: ANN001
        self.events += 1
        if "security" in str(message.get("Privilege", "")):
            return
        if self.state.apply(message):
            self.publisher.touch()
            self.phones.touch()
        if str(message.get("Event", "")).lower() == "queuecallerabandon":
            self.phones.abandoned(str(message.get("Queue", "")), str(message.get("CallerIDNum", "")))

    async def pause_member(self, extension: str, paused: bool, reason: str) -> None:
        """QueuePause for an agent's extension in every queue it is a member of (no ``Queue``)."""
        manager = self._manager
        if manager is None:
            return
        tech = "SIP" if self.settings.asterisk_sip_driver == "sip" else "PJSIP"
        action = {"Action": "QueuePause", "Interface": f"{tech}/{extension}", "Paused": "true" if paused else "false"}
        if reason:
            action["Reason"] = reason
        try:
            answer = await asyncio.wait_for(manager.send_action(action, as_list=False), self.settings.ami_timeout)
        except (TimeoutError, ConnectionError):
            log.warning("QueuePause %s was not answered", extension)
            return
        if isinstance(answer, list):
            answer = answer[0]
        if not answer.success:  # e.g. "Interface not found": the agent is in no queue
            log.info("QueuePause %s: %s", extension, answer.message)

    async def owners_changed(self) -> None:
        """Our PBX objects changed: re-read the queues' members and the agents' links."""
        self.phones.links_changed()
        await self.refresh_queues()

    async def refresh_queues(self) -> None:
        """Re-read our queues from Asterisk after the app changed them: app_queue learns
        Realtime members only when it (re)loads a queue, which ``QueueStatus`` with ``Queue``
        does (``load_realtime_queues`` in apps/app_queue.c); members added or removed in our
        tables raise no event before that. Each queue's members are replaced by the answer."""
        manager = self._manager
        if manager is None:
            return
        for name in sorted(self.publisher.queue_owners):
            try:
                answer = await asyncio.wait_for(
                    manager.send_action({"Action": "QueueStatus", "Queue": name}), self.settings.ami_timeout
                )
            except (TimeoutError, ConnectionError):
                log.warning("QueueStatus %s was not answered", name)
                return
            items = [i for i in (answer if isinstance(answer, list) else [answer]) if i.get("Event")]
            queue = self.state.queues.get(name)
            if queue is not None:
                queue.members.clear()
                queue.callers.clear()
            for item in items:
                self.state.apply(item)
            self.state.changes += 1
        self.publisher.touch()

    async def _resync(self, manager: _Manager) -> None:
        """Rebuild the whole state from Asterisk's lists (after every connect)."""
        timeout = self.settings.ami_timeout
        await self.publisher.load_owners()
        self.state.reset()
        sip = self.settings.asterisk_sip_driver == "sip"
        # Trunks' registration state comes from outbound registrations, not from OPTIONS.
        lists = (
            ("CoreShowChannels", "SIPpeers", "QueueStatus")
            if sip
            else ("CoreShowChannels", "PJSIPShowEndpoints", "QueueStatus", "PJSIPShowRegistrationsOutbound")
        )
        for name in lists:
            try:
                answer = await asyncio.wait_for(manager.send_action({"Action": name}), timeout)
            except TimeoutError as exc:
                raise AmiError(f"{name} was not answered during resync.") from exc
            for item in answer if isinstance(answer, list) else [answer]:
                if item.get("Event"):
                    self.state.apply(item)
        self.resyncs += 1
        self.publisher.touch()
