"""Presence history: every change of an agent's presence, for reports and audits."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T06:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "presence changes"

SQL = """
CREATE TABLE presence_change (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    from_presence varchar(16) NOT NULL,
    to_presence varchar(16) NOT NULL,
    -- manual (the user's switch), timeout (no heartbeat within the grace period),
    -- deactivated (an admin deactivated the user)
    reason varchar(16) NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX presence_change_user_idx ON presence_change (company_id, user_id, at);
CREATE INDEX app_user_presence_idx ON app_user (presence, last_seen_at) WHERE presence <> 'offline';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
