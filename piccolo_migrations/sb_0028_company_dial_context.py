"""Each company's extensions dial in their own context (``sb<company id>-internal``), so one
company's phones cannot reach another's (issue 17). Extensions written before used the shared
``internal``: moved to their company's context. Add the lines of Admin → PBX → Dialplan to
Asterisk's extensions.conf."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one dialplan context per company"

SQL = """
UPDATE ps_endpoints e SET context = 'sb' || o.company_id || '-internal'
FROM pbx_object o WHERE o.kind = 'extension' AND o.name = e.id AND e.context = 'internal';
UPDATE sippeers p SET context = 'sb' || o.company_id || '-internal'
FROM pbx_object o WHERE o.kind = 'extension' AND o.name = p.name AND p.context = 'internal';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
