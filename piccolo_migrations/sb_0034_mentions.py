"""@mentions in internal notes: one row per mentioned colleague (issue 18)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T05:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "mentions in notes"

SQL = """
CREATE TABLE mention (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    note_id bigint NOT NULL REFERENCES conversation_note(id) ON DELETE CASCADE,
    conversation_id integer NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    author_user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    UNIQUE (note_id, user_id)
);
CREATE INDEX mention_user_idx ON mention (user_id, id DESC);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
