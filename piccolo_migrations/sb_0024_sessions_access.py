"""Login sessions know their user (listing and ending them, the account page), when they began
(absolute lifetime) and from where; a NOTIFY whenever a user's access changes, so that every
process ends the live streams that no longer match (app.web.stream)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sessions per user, access change notifications"

# The payload is app.domain.events.AccessChanged. Triggers, not the Python actions, so that every
# write path (admin pages, the CLI, plain SQL, session purges) is covered. Presence updates of
# app_user do not fire (only role and active).
SQL = """
ALTER TABLE http_session
    ADD COLUMN user_id bigint,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN address varchar(64) NOT NULL DEFAULT '',
    ADD COLUMN user_agent varchar(300) NOT NULL DEFAULT '';
CREATE INDEX http_session_user_idx ON http_session (user_id) WHERE user_id IS NOT NULL;

CREATE FUNCTION sb_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    uid bigint;
    cid bigint;
BEGIN
    IF TG_TABLE_NAME = 'app_user' THEN
        uid := NEW.id; cid := NEW.company_id;
    ELSIF TG_TABLE_NAME = 'user_department' THEN
        IF TG_OP = 'DELETE' THEN uid := OLD.user_id; cid := OLD.company_id;
        ELSE uid := NEW.user_id; cid := NEW.company_id; END IF;
    ELSE  -- http_session
        uid := OLD.user_id;
        IF uid IS NULL THEN RETURN NULL; END IF;
        SELECT company_id INTO cid FROM app_user WHERE id = uid;
    END IF;
    IF cid IS NOT NULL THEN
        PERFORM pg_notify('switchboard_events',
                          json_build_object('name', 'access-changed', 'company_id', cid, 'user_id', uid)::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER app_user_access_changed AFTER UPDATE OF role, active ON app_user
    FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.active IS DISTINCT FROM NEW.active)
    EXECUTE FUNCTION sb_access_changed();
CREATE TRIGGER user_department_access_changed AFTER INSERT OR DELETE ON user_department
    FOR EACH ROW EXECUTE FUNCTION sb_access_changed();
CREATE TRIGGER http_session_ended AFTER DELETE ON http_session
    FOR EACH ROW EXECUTE FUNCTION sb_access_changed();
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
