"""Admin: business hours and holidays, the out-of-hours message, contacts' language, opt-out and
deletion, automatic messages per language."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "admin: business hours, contacts, automatic messages per language"

SQL = """
-- Weekly opening hours, in minutes of the day in the company's timezone (0 = 00:00,
-- 1440 = 24:00). NULL department: the company's hours; a department with rows of its own
-- uses those instead. A company with no rows at all is open 24/7.
CREATE TABLE business_hours (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    department_id integer REFERENCES department(id) ON DELETE CASCADE,
    weekday smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),  -- 0 = Monday (ISO - 1)
    opens smallint NOT NULL CHECK (opens BETWEEN 0 AND 1439),
    closes smallint NOT NULL CHECK (closes BETWEEN 1 AND 1440),
    CHECK (closes > opens)
);
CREATE INDEX business_hours_company_idx ON business_hours (company_id, department_id);

-- Days closed all day (company-wide, every department).
CREATE TABLE holiday (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    day date NOT NULL,
    label varchar(120) NOT NULL DEFAULT '',
    UNIQUE (company_id, day)
);

-- The out-of-hours message goes once per conversation per closed period.
ALTER TABLE conversation ADD COLUMN out_of_hours_sent_at timestamptz;

ALTER TABLE contact
    -- '' = the company's language
    ADD COLUMN language varchar(8) NOT NULL DEFAULT '',
    -- Opted out: no business-initiated message (see app.domain.contacts.opt_out_allows).
    ADD COLUMN opted_out_at timestamptz,
    -- Deleted contacts are anonymised (name, phone, details cleared) and hidden; their
    -- conversations stay as history.
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN IF NOT EXISTS details text NOT NULL DEFAULT '';  -- sb_0009 (the inbox) adds it too

-- Automatic messages per language: existing texts were written in the company's language.
ALTER TABLE auto_message ADD COLUMN language varchar(8) NOT NULL DEFAULT 'en';
UPDATE auto_message a SET language = CASE WHEN c.language IN ('en', 'fr', 'pt_BR') THEN c.language ELSE 'en' END
    FROM company c WHERE c.id = a.company_id;
ALTER TABLE auto_message DROP CONSTRAINT auto_message_company_id_kind_key;
ALTER TABLE auto_message ADD CONSTRAINT auto_message_company_kind_language_key UNIQUE (company_id, kind, language);
ALTER TABLE auto_message ADD CONSTRAINT auto_message_language_check CHECK (language IN ('en', 'fr', 'pt_BR'));
ALTER TABLE auto_message DROP CONSTRAINT auto_message_kind_check;
ALTER TABLE auto_message ADD CONSTRAINT auto_message_kind_check
    CHECK (kind IN ('takeover', 'queued', 'resolved', 'welcome', 'invalid', 'returning', 'out_of_hours'));
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
