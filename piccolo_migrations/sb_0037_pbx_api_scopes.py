"""API key permissions (app.domain.api_keys.SCOPES): ``admin`` (users, departments, channels)
and, for seed 004's operator API, ``pbx:read``, ``pbx:write`` and ``calls``."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T06:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "api key scopes: admin, pbx:read, pbx:write, calls"

SQL = """
ALTER TABLE api_key DROP CONSTRAINT api_key_scopes_check;
ALTER TABLE api_key ADD CONSTRAINT api_key_scopes_check CHECK (
    scopes <@ ARRAY['read', 'write', 'orders', 'admin', 'pbx:read', 'pbx:write', 'calls']::text[]
    AND cardinality(scopes) > 0
);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
