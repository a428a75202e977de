"""The company's country (ISO 3166 alpha-2, '' = none): national phone numbers a person types are
read in it (app/domain/phones.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T02:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "company country"

SQL = """
ALTER TABLE company ADD COLUMN country varchar(2) NOT NULL DEFAULT '';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
