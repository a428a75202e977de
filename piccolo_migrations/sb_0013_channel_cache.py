"""A NOTIFY whenever a channel row changes, so each process can cache channels for webhooks."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T08:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "channel change notifications"

# The payload is app.domain.events.ChannelChanged, on the bus channel of app.domain.events.
# A trigger (not the Python actions) so that every write path, including plain SQL, is covered.
SQL = """
CREATE FUNCTION sb_channel_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN  -- channel_id 0: every channel
        PERFORM pg_notify('switchboard_events', '{"name": "channel-changed", "company_id": 0, "channel_id": 0}');
    ELSE
        PERFORM pg_notify('switchboard_events', json_build_object(
            'name', 'channel-changed', 'company_id', OLD.company_id, 'channel_id', OLD.id)::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER channel_changed AFTER UPDATE OR DELETE ON channel
    FOR EACH ROW EXECUTE FUNCTION sb_channel_changed();
CREATE TRIGGER channel_truncated AFTER TRUNCATE ON channel
    FOR EACH STATEMENT EXECUTE FUNCTION sb_channel_changed();
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
