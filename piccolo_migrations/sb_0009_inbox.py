"""The agent workspace: quick replies, internal notes, the holder's read mark, customer details."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inbox"

SQL = """
-- Canned answers, inserted in the composer with /shortcut; NULL department: company-wide.
CREATE TABLE quick_reply (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    department_id integer REFERENCES department(id) ON DELETE CASCADE,
    shortcut varchar(32) NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX quick_reply_shortcut_key ON quick_reply (company_id, coalesce(department_id, 0), lower(shortcut));

-- Internal notes: staff only, never sent to the customer.
CREATE TABLE conversation_note (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    conversation_id integer NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    author_user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_note_conversation_idx ON conversation_note (conversation_id, created_at);

-- The last customer message the conversation's holder has seen: unread = inbound messages after it.
-- One mark per conversation (not per viewer), so a list row is the same for every viewer and
-- a live row is rendered once per event, whatever the number of open inboxes.
ALTER TABLE conversation ADD COLUMN read_message_id bigint NOT NULL DEFAULT 0;
CREATE INDEX conversation_contact_idx ON conversation (contact_id, created_at DESC);
CREATE INDEX conversation_company_status_idx ON conversation (company_id, status, last_message_at DESC, id DESC);

ALTER TABLE contact
    ADD COLUMN email varchar(254) NOT NULL DEFAULT '',
    ADD COLUMN details text NOT NULL DEFAULT '';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
