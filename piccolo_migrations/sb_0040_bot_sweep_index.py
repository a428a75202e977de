"""An index for the sweeps over conversations the bot holds (app.dispatch.bot.start_missed and
expire_returning_questions run every SWEEP_INTERVAL): without it each sweep reads the whole
conversation table."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bot conversations index"

SQL = """
CREATE INDEX conversation_bot_idx ON conversation (created_at) WHERE status = 'bot';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
