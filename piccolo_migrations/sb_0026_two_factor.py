"""Two-factor login with TOTP (authenticator apps) and one-time recovery codes, and the company
setting that requires it of admins (app.domain.account)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T03:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "two-factor login"

SQL = """
ALTER TABLE app_user
    ADD COLUMN mfa_secret varchar(64) NOT NULL DEFAULT '',
    ADD COLUMN mfa_enabled_at timestamptz,
    ADD COLUMN mfa_last_step bigint NOT NULL DEFAULT 0;
CREATE TABLE mfa_recovery_code (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    code_hash varchar(64) NOT NULL,
    used_at timestamptz
);
CREATE INDEX mfa_recovery_code_user_idx ON mfa_recovery_code (user_id);
ALTER TABLE company ADD COLUMN mfa_required_for_admins boolean NOT NULL DEFAULT false;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
