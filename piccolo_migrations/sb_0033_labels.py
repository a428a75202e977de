"""Labels: company-defined, coloured tags on conversations (issue 18)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T05:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "labels on conversations"

SQL = """
CREATE TABLE label (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    name varchar(40) NOT NULL,
    colour varchar(7) NOT NULL DEFAULT '#4f46e5' CHECK (colour ~ '^#[0-9a-fA-F]{6}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX label_company_name_key ON label (company_id, lower(name));

CREATE TABLE conversation_label (
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    conversation_id integer NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    label_id integer NOT NULL REFERENCES label(id) ON DELETE CASCADE,
    added_by integer REFERENCES app_user(id) ON DELETE SET NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_label_label_idx ON conversation_label (label_id, conversation_id);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
