"""Channel health (issue 15): what the provider last said about the session (WAHA session.status,
Evolution connection.update / qrcode.updated, a check from the channel page), the pairing QR
code's raw value, and the last error; plus an index for "last message received"."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T02:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "channel health"

SQL = """
CREATE TABLE channel_health (
    channel_id integer PRIMARY KEY REFERENCES channel(id) ON DELETE CASCADE,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    -- working | pairing | starting | down | '' (never heard of); detail = the provider's own word
    state varchar(16) NOT NULL DEFAULT '',
    state_detail varchar(200) NOT NULL DEFAULT '',
    state_at timestamptz,
    -- the raw value of the pairing QR code while the session waits for a scan
    qr text NOT NULL DEFAULT '',
    qr_at timestamptz,
    last_error text NOT NULL DEFAULT '',
    last_error_at timestamptz,
    checked_at timestamptz
);
CREATE INDEX channel_health_company_idx ON channel_health (company_id);

-- "Last message received" and the usual traffic of a channel, for its page and the wallboard.
CREATE INDEX message_channel_inbound_idx ON message (channel_id, created_at) WHERE direction = 'in';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
