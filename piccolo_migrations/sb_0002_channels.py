"""Channels: WhatsApp numbers, contacts (+ @lid aliases), conversations, messages, early statuses.

Exactly-once rests on two unique keys: ``message (channel_id, provider_message_id)`` (a retried
webhook inserts nothing) and one open conversation per ``(channel_id, contact_id)``. The
conversation's ``status``, ``department_id`` and ``assigned_user_id`` are what dispatch (issue 4)
drives; channels only create conversations and keep the 24-hour window (``last_inbound_at``).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T06:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "whatsapp channels, contacts, conversations, messages"

SQL = """
CREATE TABLE channel (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    provider varchar(16) NOT NULL CHECK (provider IN ('whapi', 'waha', 'meta', 'twilio', 'sandbox')),
    active boolean NOT NULL DEFAULT true,
    credentials jsonb NOT NULL DEFAULT '{}',
    webhook_secret varchar(128) NOT NULL,
    default_department_id integer REFERENCES department(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX channel_name_key ON channel (company_id, lower(name));

CREATE TABLE contact (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    phone varchar(20),
    name varchar(200) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contact_phone_key ON contact (company_id, phone);

-- Other ids of the same person, e.g. WhatsApp's "123@lid": never a second contact.
CREATE TABLE contact_alias (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    contact_id integer NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    alias varchar(200) NOT NULL,
    UNIQUE (company_id, alias)
);

CREATE TABLE conversation (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    channel_id integer NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    contact_id integer NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    status varchar(16) NOT NULL DEFAULT 'bot' CHECK (status IN ('bot', 'queued', 'assigned', 'resolved')),
    department_id integer REFERENCES department(id) ON DELETE SET NULL,
    assigned_user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    last_inbound_at timestamptz,
    last_message_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE UNIQUE INDEX conversation_open_key ON conversation (channel_id, contact_id) WHERE status <> 'resolved';
CREATE INDEX conversation_company_idx ON conversation (company_id, last_message_at DESC);

CREATE TABLE message (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    channel_id integer NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    conversation_id integer NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    direction varchar(3) NOT NULL CHECK (direction IN ('in', 'out')),
    author varchar(10) NOT NULL CHECK (author IN ('customer', 'bot', 'agent', 'system')),
    author_user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    type varchar(16) NOT NULL CHECK (type IN ('text', 'image', 'document', 'audio', 'voice', 'video',
        'location', 'reaction', 'template', 'unsupported')),
    text text NOT NULL DEFAULT '',
    -- media {url, media_id, mime_type, filename, path, size}, location, template, reaction target
    data jsonb NOT NULL DEFAULT '{}',
    reply_to varchar(200) NOT NULL DEFAULT '',
    provider_message_id varchar(200),
    status varchar(10) NOT NULL CHECK (status IN ('received', 'pending', 'sent', 'delivered', 'read', 'failed')),
    error_code varchar(32) NOT NULL DEFAULT '',
    error_reason text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    UNIQUE (channel_id, provider_message_id)
);
CREATE INDEX message_conversation_idx ON message (conversation_id, id);
-- The outbox: what the sender worker claims.
CREATE INDEX message_outbox_idx ON message (next_attempt_at) WHERE status = 'pending';

-- A status that arrived before its message (webhook order is not guaranteed); applied and
-- deleted when the message is stored or its provider id becomes known.
CREATE TABLE pending_status (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    channel_id integer NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    provider_message_id varchar(200) NOT NULL,
    status varchar(10) NOT NULL,
    error_code varchar(32) NOT NULL DEFAULT '',
    error_reason text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_status_key ON pending_status (channel_id, provider_message_id);

CREATE FUNCTION sb_status_rank(text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE $1 WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
                   WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE -1 END
$$;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
