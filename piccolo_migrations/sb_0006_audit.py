"""Audit log: one append-only table of who did what to which row, from where, before -> after."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit"

SQL = """
CREATE TABLE audit_event (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    -- No foreign key: the row must outlive the user, and an FK action would be an UPDATE.
    actor_user_id integer,
    actor_label varchar(300) NOT NULL DEFAULT '',
    actor_address varchar(64) NOT NULL DEFAULT '',
    action varchar(64) NOT NULL,
    target_type varchar(32) NOT NULL DEFAULT '',
    target_id varchar(64) NOT NULL DEFAULT '',
    target_label varchar(300) NOT NULL DEFAULT '',
    before jsonb,
    after jsonb,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_event_company_at_idx ON audit_event (company_id, at DESC, id DESC);
CREATE INDEX audit_event_company_action_idx ON audit_event (company_id, action, at DESC);

-- Never editable: rows are only inserted. A retention job (or a company's deletion) may remove
-- rows by setting switchboard.audit_purge = 'on' in its transaction. TRUNCATE is not refused.
CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('switchboard.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_event rows cannot be changed or deleted' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
