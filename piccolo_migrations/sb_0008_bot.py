"""The bot's state per conversation, and its texts among the automatic messages."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T07:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bot flow"

SQL = """
ALTER TABLE conversation
    -- '' (not asked yet), 'menu' (department menu sent), 'returning' (asked whether to go
    -- on with the last department)
    ADD COLUMN bot_state varchar(16) NOT NULL DEFAULT '',
    -- Only customer messages after this count as answers to the bot's question.
    ADD COLUMN bot_asked_at timestamptz;
ALTER TABLE auto_message DROP CONSTRAINT auto_message_kind_check;
ALTER TABLE auto_message ADD CONSTRAINT auto_message_kind_check
    CHECK (kind IN ('takeover', 'queued', 'resolved', 'welcome', 'invalid', 'returning'));
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
