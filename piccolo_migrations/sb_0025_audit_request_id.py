"""Audit rows name the request they came from (security events are traced across the access
log and the audit log by it: issue 16)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T03:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit request id"

SQL = """
ALTER TABLE audit_event ADD COLUMN request_id varchar(64) NOT NULL DEFAULT '';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
