"""Evolution API, the fifth WhatsApp provider (app/providers/evolution.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T02:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "evolution provider"

SQL = """
ALTER TABLE channel DROP CONSTRAINT channel_provider_check;
ALTER TABLE channel ADD CONSTRAINT channel_provider_check
    CHECK (provider IN ('whapi', 'waha', 'meta', 'twilio', 'sandbox', 'evolution'));
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
