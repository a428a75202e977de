"""Integrations: API keys and their rate counters, shop orders confirmed over WhatsApp, and
outbound webhooks (endpoints and a delivery table the worker claims with SKIP LOCKED).

Conversation changes reach the integrator's webhooks through triggers on ``conversation``
(opened) and ``conversation_event`` (queued, assigned, resolved): the delivery row is written
in the transaction of the change itself, whichever code made it, so none is lost or doubled.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T08:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "integrations: API keys, orders, outbound webhooks"

SQL = """
CREATE TABLE api_key (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    name varchar(100) NOT NULL,
    -- The public part of the key (``sbk_<prefix>_<secret>``), for lookup; unique everywhere.
    prefix varchar(16) NOT NULL UNIQUE,
    -- SHA-256 of the whole key, hex: the key is 32 random bytes, so a fast hash is enough.
    secret_hash char(64) NOT NULL,
    scopes text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write', 'orders']::text[] AND cardinality(scopes) > 0),
    -- Requests per minute; NULL: the API_RATE_LIMIT setting.
    rate_limit integer CHECK (rate_limit > 0),
    created_by_user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_key_company_idx ON api_key (company_id, id DESC);

-- Fixed one-minute windows per key, shared by every process.
CREATE TABLE api_rate (
    key_id integer NOT NULL REFERENCES api_key(id) ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    hits integer NOT NULL,
    PRIMARY KEY (key_id, window_start)
);

CREATE TABLE order_settings (
    company_id integer PRIMARY KEY REFERENCES company(id) ON DELETE CASCADE,
    -- One keyword or phrase per line; matched folded (no case, no accents).
    confirm_words text NOT NULL DEFAULT '',
    cancel_words text NOT NULL DEFAULT '',
    -- The request's text; empty: the default in the customer's language.
    request_text text NOT NULL DEFAULT '',
    -- Outside the 24-hour window (Meta, Twilio) the request goes as this template.
    template_name varchar(512) NOT NULL DEFAULT '',
    template_language varchar(16) NOT NULL DEFAULT 'en_US',
    content_sid varchar(34) NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shop_order (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    contact_id integer NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    channel_id integer REFERENCES channel(id) ON DELETE SET NULL,
    conversation_id integer REFERENCES conversation(id) ON DELETE SET NULL,
    -- The integrator's own reference; unique per company, so a retried POST creates nothing new.
    external_id varchar(100),
    -- [{name, price (string, 2 decimals), quantity}]; the total is computed from them.
    items jsonb NOT NULL,
    currency varchar(3) NOT NULL DEFAULT 'EUR',
    status varchar(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'cancelled')),
    -- The customer's answer that decided (or did not decide) the order.
    reply_text text NOT NULL DEFAULT '',
    -- An unclear answer handed the conversation to the agents.
    needs_agent_at timestamptz,
    request_message_id bigint,
    requested_at timestamptz,
    decided_at timestamptz,
    -- 'customer', 'agent' or 'api'
    decided_by varchar(16) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX shop_order_external_key ON shop_order (company_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX shop_order_company_idx ON shop_order (company_id, id DESC);
CREATE INDEX shop_order_pending_idx ON shop_order (conversation_id) WHERE status = 'pending';
CREATE INDEX shop_order_contact_idx ON shop_order (contact_id, id DESC);

CREATE TABLE webhook_endpoint (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    url varchar(2000) NOT NULL,
    description varchar(200) NOT NULL DEFAULT '',
    -- HMAC-SHA256 key; shown once at creation.
    secret varchar(100) NOT NULL,
    events text[] NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoint_company_idx ON webhook_endpoint (company_id) WHERE active;

CREATE TABLE webhook_delivery (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    endpoint_id integer NOT NULL REFERENCES webhook_endpoint(id) ON DELETE CASCADE,
    event varchar(40) NOT NULL,
    payload jsonb NOT NULL,
    status varchar(10) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    response_status integer,
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX webhook_delivery_due_idx ON webhook_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_delivery_company_idx ON webhook_delivery (company_id, id DESC);

-- Queue one delivery per active endpoint of the company subscribed to the event.
CREATE FUNCTION sb_queue_webhook(p_company integer, p_event text, p_data jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO webhook_delivery (company_id, endpoint_id, event, payload)
    SELECT p_company, e.id, p_event,
           jsonb_build_object('event', p_event, 'company_id', p_company,
                              'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                              'data', p_data)
    FROM webhook_endpoint e
    WHERE e.company_id = p_company AND e.active AND p_event = ANY (e.events)
$$;

CREATE FUNCTION sb_conversation_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv record;
    ev text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoint WHERE company_id = NEW.company_id AND active) THEN
        RETURN NULL;  -- the common case: no integrator listening
    END IF;
    IF TG_TABLE_NAME = 'conversation' THEN
        ev := 'conversation.opened';
        SELECT NEW.id AS id, NEW.status AS status, NEW.channel_id AS channel_id, NEW.contact_id AS contact_id,
               NEW.department_id AS department_id, NEW.assigned_user_id AS assigned_user_id INTO conv;
    ELSE
        ev := 'conversation.' || NEW.to_status;
        SELECT c.id, c.status, c.channel_id, c.contact_id, c.department_id, c.assigned_user_id INTO conv
        FROM conversation c WHERE c.id = NEW.conversation_id;
    END IF;
    PERFORM sb_queue_webhook(NEW.company_id, ev, jsonb_build_object(
        'conversation_id', conv.id, 'status', conv.status, 'channel_id', conv.channel_id,
        'contact_id', conv.contact_id, 'department_id', conv.department_id,
        'assigned_user_id', conv.assigned_user_id,
        'phone', (SELECT phone FROM contact WHERE id = conv.contact_id)));
    RETURN NULL;
END
$$;
CREATE TRIGGER conversation_webhook AFTER INSERT ON conversation
    FOR EACH ROW EXECUTE FUNCTION sb_conversation_webhook();
CREATE TRIGGER conversation_event_webhook AFTER INSERT ON conversation_event
    FOR EACH ROW WHEN (NEW.to_status IN ('queued', 'assigned', 'resolved'))
    EXECUTE FUNCTION sb_conversation_webhook();
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
