"""Partial indexes for the media worker's two polls (inbound files to fetch, files to copy to
the bucket), which otherwise scan the whole message table every few hundred milliseconds."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T08:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "media worker indexes"

SQL = """
CREATE INDEX message_media_due_idx ON message (next_attempt_at)
    WHERE direction = 'in' AND data ? 'media' AND NOT (data->'media' ? 'path') AND NOT (data->'media' ? 'error');
CREATE INDEX message_media_remote_idx ON message (id)
    WHERE data ? 'media' AND (data->'media' ? 'path') AND NOT (data->'media' ? 'remote');
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
