"""Typing indicators, both ways. Nothing here is stored: they are shown, then forgotten.

Customer → agent: a provider's presence webhook (or the simulator) becomes a ``TypingChanged``
event for the customer's open conversation on that channel, sent at once with NOTIFY (there is
nothing to commit), so the inbox of every process shows "<customer> is typing…" to those who
may see the conversation. Presence of an unknown contact, or of a contact with no open
conversation, is dropped.

Agent → customer: the composer reports that the agent types (at most every few seconds) or
stopped; we make one provider call with a short timeout and no retry. A failure is logged and
forgotten: it never marks anything failed. The Sandbox has no provider: its simulator page is
the customer's phone, so the agent's typing goes there as an event. Calls are limited per
conversation in each process (``Throttle``), whatever browsers send.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import httpx

from app.domain import sql
from app.domain.channels import WEBHOOK_CHANNELS, ChannelInfo
from app.domain.events import TypingChanged, publish_now
from app.providers.base import SendError, TypingChat, TypingUpdate

log = logging.getLogger(__name__)

# Seconds between two "typing" calls for one conversation (browsers send one per 4 s of typing;
# WhatsApp shows the indicator for about 10 s, Meta's for 25 s).
MIN_INTERVAL = 3.0
# Seconds after a "paused" before "typing" may be sent again (a burst of toggles is not passed on).
RESUME_AFTER = 1.0
# Seconds we wait for the provider: an indicator that arrives late is worse than none.
PROVIDER_TIMEOUT = 2.0
# Presence updates read from one webhook (a provider batch), the rest ignored.
MAX_UPDATES = 20
# Seconds between two requests for a customer's presence events (WAHA sends presence.update
# only for chats subscribed to; a subscription does not outlive the provider's session).
WATCH_EVERY = 600.0


class Throttle:
    """Per-conversation memory of the last indicator sent: (when, shown), least recent dropped."""

    def __init__(self, interval: float = MIN_INTERVAL, resume_after: float = RESUME_AFTER, size: int = 10_000) -> None:
        self.interval, self.resume_after, self.size = interval, resume_after, size
        self._last: OrderedDict[int, tuple[float, bool]] = OrderedDict()

    def allow(self, key: int, on: bool, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        last = self._last.get(key)
        if on and last is not None:
            wait = self.interval if last[1] else self.resume_after
            if now - last[0] < wait:
                return False
        if not on and (last is None or not last[1]):
            return False  # nothing shown: nothing to take back
        self._last[key] = (now, on)
        self._last.move_to_end(key)
        while len(self._last) > self.size:
            self._last.popitem(last=False)
        return True

    def clear(self) -> None:
        self._last.clear()


THROTTLE = Throttle()
WATCHED: OrderedDict[int, float] = OrderedDict()  # conversation -> when its presence was asked for


# Customer → agent -------------------------------------------------------------------------------

_OPEN_CONVERSATION = """
SELECT c.id FROM conversation c JOIN contact ct ON ct.id = c.contact_id
WHERE c.company_id = $1 AND c.channel_id = $2 AND c.status <> 'resolved'
  AND (ct.phone = $3 OR ct.id IN (SELECT contact_id FROM contact_alias WHERE company_id = $1 AND alias = $4))
ORDER BY c.id DESC LIMIT 1
"""


async def receive_typing(channel: ChannelInfo, updates: list[TypingUpdate]) -> int:
    """Show the customers' typing in their open conversations; returns how many were shown.

    Unknown contacts and conversations store nothing and are not an error (the provider gets its
    200): presence arrives for every chat of the number, not only for our customers."""
    shown = 0
    for update in updates[:MAX_UPDATES]:
        if not update.phone and not update.alias:
            continue
        conversation_id = await sql.fetchval(
            _OPEN_CONVERSATION, channel.company_id, channel.id, update.phone, update.alias or None
        )
        if conversation_id is None:
            continue
        await publish_now(TypingChanged(channel.company_id, conversation_id, "customer", update.state))
        shown += 1
    return shown


# Agent → customer -------------------------------------------------------------------------------

_CHAT = """
SELECT c.channel_id, ct.phone,
       (SELECT m.provider_message_id FROM message m
        WHERE m.conversation_id = c.id AND m.direction = 'in' AND m.provider_message_id IS NOT NULL
        ORDER BY m.id DESC LIMIT 1) AS last_inbound_id
FROM conversation c JOIN contact ct ON ct.id = c.contact_id
WHERE c.company_id = $1 AND c.id = $2
"""


async def agent_typing(client: httpx.AsyncClient, company_id: int, conversation_id: int, on: bool) -> str:
    """Tell the customer that the agent types (``on``) or stopped. The caller has checked that
    this user may reply. Returns what happened, for the log and tests: ``sent``, ``shown``
    (Sandbox), ``throttled``, ``unsupported``, ``nothing`` (no call for this) or ``failed``."""
    if not THROTTLE.allow(conversation_id, on):
        return "throttled"
    row = await sql.fetchrow(_CHAT, company_id, conversation_id)
    channel = await WEBHOOK_CHANNELS.get(row["channel_id"]) if row is not None else None
    if channel is None or not channel.active or channel.company_id != company_id or not channel.impl.supports_typing:
        return "unsupported"
    if channel.provider == "sandbox":
        # The simulator page plays the customer's phone: it shows "typing…" live.
        await publish_now(TypingChanged(company_id, conversation_id, "agent", "typing" if on else "paused"))
        return "shown"
    if not row["phone"]:
        return "unsupported"  # only an @lid alias is known: no chat id to address
    chat = TypingChat(to_phone=row["phone"], last_inbound_id=row["last_inbound_id"] or "")
    try:
        sent = await channel.impl.send_typing(client, channel.credentials, chat, on, timeout=PROVIDER_TIMEOUT)
    except SendError as exc:
        log.info("typing indicator not sent: channel %s conversation %s: %s", channel.id, conversation_id, exc.reason)
        return "failed"
    except (httpx.InvalidURL, ValueError, TypeError) as exc:  # credentials no request can be made of
        log.info("typing indicator not sent: channel %s conversation %s: %r", channel.id, conversation_id, exc)
        return "failed"
    return "sent" if sent else "nothing"


async def watch_customer_typing(client: httpx.AsyncClient, company_id: int, conversation_id: int) -> str:
    """Someone opened the conversation: where the provider sends a customer's presence only on
    request (WAHA), ask for it, at most every WATCH_EVERY seconds per conversation and process.
    Returns ``sent``, ``recent``, ``unsupported``, ``nothing`` or ``failed``; never raises."""
    now = time.monotonic()
    last = WATCHED.get(conversation_id)
    if last is not None and now - last < WATCH_EVERY:
        return "recent"
    WATCHED[conversation_id] = now
    WATCHED.move_to_end(conversation_id)
    while len(WATCHED) > 10_000:
        WATCHED.popitem(last=False)
    try:
        row = await sql.fetchrow(_CHAT, company_id, conversation_id)
        channel = await WEBHOOK_CHANNELS.get(row["channel_id"]) if row is not None else None
        if channel is None or not channel.active or channel.company_id != company_id or not row["phone"]:
            return "unsupported"
        chat = TypingChat(to_phone=row["phone"])
        sent = await channel.impl.watch_presence(client, channel.credentials, chat, timeout=PROVIDER_TIMEOUT)
    except (SendError, httpx.InvalidURL, ValueError, TypeError) as exc:
        log.info("presence not requested: conversation %s: %s", conversation_id, getattr(exc, "reason", repr(exc)))
        return "failed"
    return "sent" if sent else "nothing"
