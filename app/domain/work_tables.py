"""Piccolo mirrors of the tables that record work on conversations and orders: conversation
events and notes, shop orders and their settings, integrators' webhook endpoints and deliveries.

The schema is SQL in ``piccolo_migrations/`` (sb_0005, sb_0009, sb_0010); ``tests/test_schema.py``
checks these classes against it column by column. Writes are hand-written SQL in the actions
(``app.dispatch.assignment``, ``app.domain.notes``, ``app.domain.orders``, ``app.domain.integrations``).
"""

from __future__ import annotations

from piccolo.columns import JSONB, Array, BigInt, Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class ConversationEvent(Table, tablename="conversation_event"):
    """One transition of a conversation (who, when, from → to): metrics and the audit read it."""

    id = BigInt(primary_key=True)
    company_id = Integer()
    conversation_id = Integer()
    kind = Varchar(length=16)
    from_status = Varchar(length=16, null=True, default=None)
    to_status = Varchar(length=16)
    from_user_id = Integer(null=True, default=None)
    to_user_id = Integer(null=True, default=None)
    from_department_id = Integer(null=True, default=None)
    to_department_id = Integer(null=True, default=None)
    actor_user_id = Integer(null=True, default=None)
    note = Text(default="")
    at = Timestamptz(default=TimestamptzNow())


class ConversationNote(Table, tablename="conversation_note"):
    """An internal note on a conversation, never sent to the customer."""

    id = BigInt(primary_key=True)
    company_id = Integer()
    conversation_id = Integer()
    author_user_id = Integer(null=True, default=None)
    text = Text()
    created_at = Timestamptz(default=TimestamptzNow())


class ShopOrder(Table, tablename="shop_order"):
    """An order pushed by a shop, confirmed or cancelled by the customer over WhatsApp."""

    id = Serial(primary_key=True)
    company_id = Integer()
    contact_id = Integer()
    channel_id = Integer(null=True, default=None)
    conversation_id = Integer(null=True, default=None)
    external_id = Varchar(length=100, null=True, default=None)
    items = JSONB()
    currency = Varchar(length=3, default="EUR")
    status = Varchar(length=16, default="pending")
    reply_text = Text(default="")
    needs_agent_at = Timestamptz(null=True, default=None)
    request_message_id = BigInt(null=True, default=None)
    requested_at = Timestamptz(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Varchar(length=16, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class OrderSettings(Table, tablename="order_settings"):
    """A company's confirmation words, request text and template (one row per company)."""

    company_id = Integer(primary_key=True)
    confirm_words = Text(default="")
    cancel_words = Text(default="")
    request_text = Text(default="")
    template_name = Varchar(length=512, default="")
    template_language = Varchar(length=16, default="en_US")
    content_sid = Varchar(length=34, default="")
    updated_at = Timestamptz(default=TimestamptzNow())


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    """An integrator's URL and the events it subscribes to (deliveries are signed with ``secret``)."""

    id = Serial(primary_key=True)
    company_id = Integer()
    url = Varchar(length=2000)
    description = Varchar(length=200, default="")
    secret = Varchar(length=100)
    events = Array(Text())
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """One event to deliver to one endpoint: the outbox of integrators' webhooks."""

    id = BigInt(primary_key=True)
    company_id = Integer()
    endpoint_id = Integer()
    event = Varchar(length=40)
    payload = JSONB()
    status = Varchar(length=10, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    response_status = Integer(null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)


WORK_TABLES = [ConversationEvent, ConversationNote, ShopOrder, OrderSettings, WebhookEndpoint, WebhookDelivery]
