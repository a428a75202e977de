"""A NOTIFY whenever business hours, holidays or a company's timezone change, so each process
can cache schedules for the dispatcher's out-of-hours check (app.domain.business_hours)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-07T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "schedule change notifications"

# The payload is app.domain.events.ScheduleChanged, on the bus channel of app.domain.events.
# Triggers (not the Python actions) so that every write path, including plain SQL, is covered.
# PostgreSQL folds equal payloads of one transaction into one notification.
SQL = """
CREATE FUNCTION sb_schedule_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN  -- company 0: every company
        PERFORM pg_notify('switchboard_events', '{"name": "schedule-changed", "company_id": 0}');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('switchboard_events',
                          json_build_object('name', 'schedule-changed', 'company_id', OLD.company_id)::text);
    ELSE
        PERFORM pg_notify('switchboard_events',
                          json_build_object('name', 'schedule-changed', 'company_id', NEW.company_id)::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER business_hours_changed AFTER INSERT OR UPDATE OR DELETE ON business_hours
    FOR EACH ROW EXECUTE FUNCTION sb_schedule_changed();
CREATE TRIGGER business_hours_truncated AFTER TRUNCATE ON business_hours
    FOR EACH STATEMENT EXECUTE FUNCTION sb_schedule_changed();
CREATE TRIGGER holiday_changed AFTER INSERT OR UPDATE OR DELETE ON holiday
    FOR EACH ROW EXECUTE FUNCTION sb_schedule_changed();
CREATE TRIGGER holiday_truncated AFTER TRUNCATE ON holiday
    FOR EACH STATEMENT EXECUTE FUNCTION sb_schedule_changed();

CREATE FUNCTION sb_company_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('switchboard_events', '{"name": "schedule-changed", "company_id": 0}');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('switchboard_events',
                          json_build_object('name', 'schedule-changed', 'company_id', OLD.id)::text);
    ELSIF NEW.timezone IS DISTINCT FROM OLD.timezone THEN
        PERFORM pg_notify('switchboard_events',
                          json_build_object('name', 'schedule-changed', 'company_id', NEW.id)::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER company_schedule_changed AFTER UPDATE OR DELETE ON company
    FOR EACH ROW EXECUTE FUNCTION sb_company_timezone_changed();
CREATE TRIGGER company_truncated_schedule AFTER TRUNCATE ON company
    FOR EACH STATEMENT EXECUTE FUNCTION sb_company_timezone_changed();
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
