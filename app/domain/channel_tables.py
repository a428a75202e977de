"""Piccolo mirrors of the channel tables (schema in ``piccolo_migrations/sb_0002_channels.py``).

Most channel queries are plain SQL (``ON CONFLICT``, ``SKIP LOCKED``); these classes let Piccolo
tooling and simple reads see the tables. Every row carries ``company_id``.
"""

from __future__ import annotations

from piccolo.columns import JSONB, BigInt, Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Channel(Table, tablename="channel"):
    """One WhatsApp number at one provider, with its credentials and webhook secret."""

    id = Serial(primary_key=True)
    company_id = Integer()
    name = Varchar(length=120)
    provider = Varchar(length=16)
    active = Boolean(default=True)
    credentials = JSONB(default={})
    webhook_secret = Varchar(length=128)
    default_department_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Contact(Table, tablename="contact"):
    """A customer, by E.164 phone number per company."""

    id = Serial(primary_key=True)
    company_id = Integer()
    phone = Varchar(length=20, null=True, default=None)
    name = Varchar(length=200, default="")
    # The WhatsApp profile name; ``name`` follows it until an admin renames the contact.
    profile_name = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    email = Varchar(length=254, default="")
    details = Text(default="")
    # The customer's language for automatic messages; empty: the company's.
    language = Varchar(length=8, default="")
    opted_out_at = Timestamptz(null=True, default=None)
    # Deleted contacts are anonymised and hidden; their conversations stay as history.
    deleted_at = Timestamptz(null=True, default=None)


class ContactAlias(Table, tablename="contact_alias"):
    id = Serial(primary_key=True)
    company_id = Integer()
    contact_id = Integer()
    alias = Varchar(length=200)
    checked_at = Timestamptz(null=True, default=None)  # last asked to the provider (WAHA lids API)


class Conversation(Table, tablename="conversation"):
    """A contact's thread on a channel, from first message to resolution."""

    id = Serial(primary_key=True)
    company_id = Integer()
    channel_id = Integer()
    contact_id = Integer()
    status = Varchar(length=16, default="bot")
    department_id = Integer(null=True, default=None)
    assigned_user_id = Integer(null=True, default=None)
    last_inbound_at = Timestamptz(null=True, default=None)
    last_message_at = Timestamptz(default=TimestamptzNow())
    created_at = Timestamptz(default=TimestamptzNow())
    resolved_at = Timestamptz(null=True, default=None)
    queued_at = Timestamptz(null=True, default=None)
    assigned_at = Timestamptz(null=True, default=None)
    # Set while the assigned agent owes the customer an answer; cleared by the agent's reply.
    awaiting_agent_since = Timestamptz(null=True, default=None)
    first_response_at = Timestamptz(null=True, default=None)
    reinjections = Integer(default=0)
    # The agent who let it time out last (reinjection prefers anyone else).
    timed_out_user_id = Integer(null=True, default=None)
    # The bot's question: '' (none yet), 'menu', 'returning', 'order'; answers count after bot_asked_at.
    bot_state = Varchar(length=16, default="")
    bot_asked_at = Timestamptz(null=True, default=None)
    # The last customer message the holder has seen: unread = inbound messages after it.
    read_message_id = BigInt(default=0)
    out_of_hours_sent_at = Timestamptz(null=True, default=None)
    # Routing (sb_0016): place in line, the agent a transfer avoids, the take-over text sent,
    # the unstaffed-queue alert raised.
    line_at = Timestamptz(null=True, default=None)
    avoid_user_id = Integer(null=True, default=None)
    takeover_sent_at = Timestamptz(null=True, default=None)
    unstaffed_alert_at = Timestamptz(null=True, default=None)


class Message(Table, tablename="message"):
    """An inbound or outbound message; outbound ones are the outbox while ``pending``."""

    id = BigInt(primary_key=True)
    company_id = Integer()
    channel_id = Integer()
    conversation_id = Integer()
    direction = Varchar(length=3)
    author = Varchar(length=10)
    author_user_id = Integer(null=True, default=None)
    type = Varchar(length=16)
    text = Text(default="")
    data = JSONB(default={})
    reply_to = Varchar(length=200, default="")
    provider_message_id = Varchar(length=200, null=True, default=None)
    status = Varchar(length=10)
    error_code = Varchar(length=32, default="")
    error_reason = Text(default="")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    # Set (committed) before the provider call, cleared when its outcome is known.
    send_started_at = Timestamptz(null=True, default=None)


class PendingStatus(Table, tablename="pending_status"):
    id = BigInt(primary_key=True)
    company_id = Integer()
    channel_id = Integer()
    provider_message_id = Varchar(length=200)
    status = Varchar(length=10)
    error_code = Varchar(length=32, default="")
    error_reason = Text(default="")
    received_at = Timestamptz(default=TimestamptzNow())


class ChannelHealth(Table, tablename="channel_health"):
    """What the provider last said about a channel's session, its pairing QR code, its last error."""

    channel_id = Integer(primary_key=True)
    company_id = Integer()
    state = Varchar(length=16, default="")
    state_detail = Varchar(length=200, default="")
    state_at = Timestamptz(null=True, default=None)
    qr = Text(default="")
    qr_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    last_error_at = Timestamptz(null=True, default=None)
    checked_at = Timestamptz(null=True, default=None)


CHANNEL_TABLES = [Channel, Contact, ContactAlias, Conversation, Message, PendingStatus, ChannelHealth]
