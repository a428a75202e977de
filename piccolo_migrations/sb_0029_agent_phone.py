"""One person, one availability (issue 17): an agent linked to an extension, the phone state
the AMI leader writes for them, each company's voice settings, and the CDR indexes that find
an extension's calls by channel."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T04:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "agents linked to extensions, their phone state, voice settings"

SQL = """
CREATE TABLE agent_extension (
    user_id integer PRIMARY KEY REFERENCES app_user(id) ON DELETE CASCADE,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    extension_id integer NOT NULL UNIQUE REFERENCES pbx_object(id) ON DELETE CASCADE
);
CREATE TABLE agent_phone (
    user_id integer PRIMARY KEY REFERENCES app_user(id) ON DELETE CASCADE,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    extension varchar(80) NOT NULL DEFAULT '',
    state varchar(16) NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'ringing', 'busy', 'unavailable')),
    call_id varchar(64) NOT NULL DEFAULT '',
    peer_num varchar(80) NOT NULL DEFAULT '',
    peer_name varchar(120) NOT NULL DEFAULT '',
    paused boolean NOT NULL DEFAULT false,
    paused_reason varchar(80) NOT NULL DEFAULT '',
    since timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE voice_settings (
    company_id integer PRIMARY KEY REFERENCES company(id) ON DELETE CASCADE,
    during_call varchar(16) NOT NULL DEFAULT 'no_chats' CHECK (during_call IN ('no_chats', 'fewer', 'same')),
    capacity_cut integer NOT NULL DEFAULT 1 CHECK (capacity_cut BETWEEN 0 AND 100),
    pause_when varchar(16) NOT NULL DEFAULT 'offline' CHECK (pause_when IN ('offline', 'not_online')),
    missed_call_template varchar(512) NOT NULL DEFAULT '',
    missed_call_language varchar(16) NOT NULL DEFAULT 'en',
    missed_call_auto boolean NOT NULL DEFAULT false
);
CREATE INDEX cdr_account_channel_idx ON cdr (accountcode, channel text_pattern_ops);
CREATE INDEX cdr_account_dstchannel_idx ON cdr (accountcode, dstchannel text_pattern_ops);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
