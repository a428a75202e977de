"""Who has a conversation open, and who is typing a reply in it (issue 18, agent collision)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T05:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "conversation viewers"

# UNLOGGED: a few seconds of presence, rewritten every 25 s by each open pane; not worth a WAL
# flush, and losing it in a crash only hides "who else is here" until the next heartbeat.
SQL = """
CREATE UNLOGGED TABLE conversation_viewer (
    conversation_id integer NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    seen_at timestamptz NOT NULL DEFAULT now(),
    typing_at timestamptz,
    PRIMARY KEY (conversation_id, user_id)
);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
