"""The "Custom gateway" channel kind (app.providers.custom): any in-house WhatsApp gateway
speaking seed 001's {from, body, type} webhook."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T06:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "custom gateway channels"

SQL = """
ALTER TABLE channel DROP CONSTRAINT channel_provider_check;
ALTER TABLE channel ADD CONSTRAINT channel_provider_check
    CHECK (provider IN ('whapi', 'waha', 'meta', 'twilio', 'sandbox', 'evolution', 'custom'));
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
