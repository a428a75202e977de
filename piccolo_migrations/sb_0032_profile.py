"""Each user's notification sound (chosen on /profile)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "profile: notification sound"

SQL = """
ALTER TABLE app_user ADD COLUMN notification_sound varchar(16) NOT NULL DEFAULT 'chime'
    CHECK (notification_sound IN ('chime', 'bell', 'pop', 'none'));
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
