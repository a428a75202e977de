"""Real provider traffic (issue 15): the WhatsApp profile name apart from the name an admin gives,
one early status per message, and the send attempt recorded before the provider call."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "profile name, one pending status per message, send attempts"

SQL = """
-- The name WhatsApp gives (push name / profile name). contact.name follows it until an admin
-- renames the contact (name <> profile_name), then keeps the admin's name.
ALTER TABLE contact ADD COLUMN profile_name varchar(200) NOT NULL DEFAULT '';
UPDATE contact SET profile_name = name;

-- One early status per (channel, provider id): the most advanced one. Older rows expire.
DELETE FROM pending_status p USING pending_status q
WHERE p.channel_id = q.channel_id AND p.provider_message_id = q.provider_message_id
  AND (sb_status_rank(p.status), p.id) < (sb_status_rank(q.status), q.id);
DROP INDEX pending_status_key;
CREATE UNIQUE INDEX pending_status_key ON pending_status (channel_id, provider_message_id);
CREATE INDEX pending_status_received_idx ON pending_status (received_at);

-- An outbound message's send attempt, committed before the provider is called and cleared when
-- its outcome is known: a message claimed again with this set may already be at the provider.
ALTER TABLE message ADD COLUMN send_started_at timestamptz;

-- When the provider was last asked for the phone behind this alias (WAHA's lids API): asked
-- again after an hour at the soonest.
ALTER TABLE contact_alias ADD COLUMN checked_at timestamptz;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
