"""Domain events: small frozen dataclasses, sent with NOTIFY inside the acting transaction.

PostgreSQL delivers a NOTIFY only when its transaction commits, so an event can never
announce data that was rolled back. Events carry ids, never HTML: each process's hub
(``app.realtime``) fans them out and each subscriber renders what its user may see.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec

from app.domain import sql
from app.engine import DB

CHANNEL = "switchboard_events"

EVENT_TYPES: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    """Base class. ``name`` is the SSE event name and the key in the registry."""

    name: ClassVar[str] = "event"
    company_id: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        EVENT_TYPES[cls.name] = cls

    def encode(self) -> str:
        return json.dumps({"name": self.name, **dataclasses.asdict(self)}, separators=(",", ":"))


def decode(payload: str) -> Event | None:
    """The event in a NOTIFY payload, or None for a payload this version does not know."""
    try:
        data = msgspec.json.decode(payload)  # every process decodes every event: the faster decoder
        cls = EVENT_TYPES[data.pop("name")]
        return cls(**data)
    except (ValueError, KeyError, TypeError):
        return None


async def publish_now(event: Event) -> None:
    """Send an ephemeral event at once, outside any transaction: for what is shown and never
    stored (typing indicators), so there is no commit to wait for. Inside a transaction it
    would leave at commit, like ``emit``."""
    await sql.execute("SELECT pg_notify($1, $2)", CHANNEL, event.encode())


async def emit(event: Event) -> None:
    """Queue ``event`` for delivery when the current transaction commits."""
    if DB.current_transaction.get() is None:
        raise RuntimeError("emit() must run inside the action's transaction")
    await sql.execute("SELECT pg_notify($1, $2)", CHANNEL, event.encode())


@dataclass(frozen=True)
class PresenceChanged(Event):
    """An agent went online, busy or offline."""

    name: ClassVar[str] = "presence-changed"
    user_id: int
    presence: str


@dataclass(frozen=True)
class UserChanged(Event):
    """A user's details, role, departments or active flag changed (or the user was created)."""

    name: ClassVar[str] = "user-changed"
    user_id: int


@dataclass(frozen=True)
class AccessChanged(Event):
    """A user's role, active flag or departments changed, or one of their sessions ended (logout,
    ended from the account page or by an admin, purged). Sent by database triggers
    (piccolo_migrations/sb_0024): open live streams of that user check they may go on."""

    name: ClassVar[str] = "access-changed"
    user_id: int


@dataclass(frozen=True)
class ConversationOpened(Event):
    """A contact's first message (since their last resolved conversation) opened a conversation."""

    name: ClassVar[str] = "conversation-opened"
    conversation_id: int
    channel_id: int


@dataclass(frozen=True)
class MessageReceived(Event):
    """A message was stored in a conversation: from the customer, or an echo of the business phone."""

    name: ClassVar[str] = "message-received"
    conversation_id: int
    message_id: int


@dataclass(frozen=True)
class MessageQueued(Event):
    """An outbound message was stored ``pending`` (the outbox); the sender worker will send it."""

    name: ClassVar[str] = "message-queued"
    conversation_id: int
    message_id: int


@dataclass(frozen=True)
class MessageStatusChanged(Event):
    """An outbound message moved on (sent, delivered, read, failed) or was queued again."""

    name: ClassVar[str] = "message-status-changed"
    conversation_id: int
    message_id: int
    status: str


@dataclass(frozen=True)
class ConversationRouted(Event):
    """A conversation changed hands or state: queued, assigned, transferred, reinjected,
    redistributed or resolved (``status`` is the new one)."""

    name: ClassVar[str] = "conversation-routed"
    conversation_id: int
    status: str
    user_id: int | None = None
    previous_user_id: int | None = None
    department_id: int | None = None


@dataclass(frozen=True)
class ReinjectionAlert(Event):
    """A conversation went unanswered and was reinjected as often as its department allows
    before supervisors are told."""

    name: ClassVar[str] = "reinjection-alert"
    conversation_id: int
    reinjections: int


@dataclass(frozen=True)
class ScheduleChanged(Event):
    """A company's business hours, holidays or timezone changed (sent by database triggers,
    migration 0015; company_id 0: every company): each process drops its cached schedules."""

    name: ClassVar[str] = "schedule-changed"


@dataclass(frozen=True)
class ChannelChanged(Event):
    """A channel row was updated or deleted (sent by a database trigger, migration 0013): each
    process drops its cached copy used by webhooks."""

    name: ClassVar[str] = "channel-changed"
    channel_id: int


@dataclass(frozen=True)
class NoteAdded(Event):
    """A member of staff wrote an internal note on a conversation (never sent to the customer)."""

    name: ClassVar[str] = "note-added"
    conversation_id: int
    note_id: int


@dataclass(frozen=True)
class ContactChanged(Event):
    """A customer's name or details were edited (the inbox rows showing them change)."""

    name: ClassVar[str] = "contact-changed"
    contact_id: int


@dataclass(frozen=True)
class OrderChanged(Event):
    """A shop order was created, confirmed, cancelled or handed to an agent (app.domain.orders)."""

    name: ClassVar[str] = "order-changed"
    order_id: int
    contact_id: int
    created: bool = False


@dataclass(frozen=True)
class TypingChanged(Event):
    """The customer (presence webhook, simulator) or an agent (the composer) started or stopped
    typing in a conversation. Ephemeral: sent with ``publish_now``, never stored; browsers
    forget it after a few seconds without renewal (app.domain.typing_indicators)."""

    name: ClassVar[str] = "typing-changed"
    conversation_id: int
    who: str  # "customer" or "agent"
    state: str  # "typing", "recording" or "paused"
