"""Automatic messages to customers: on take-over, while waiting in line, on resolution."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T07:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "automatic messages"

SQL = """
CREATE TABLE auto_message (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    kind varchar(16) NOT NULL CHECK (kind IN ('takeover', 'queued', 'resolved')),
    text varchar(1000) NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    UNIQUE (company_id, kind)
);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
