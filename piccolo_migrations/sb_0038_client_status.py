"""Seed 001's client status (``pending`` / ``confirmed`` / ``cancelled``) on contacts, for the
shop's ``/api/clients``: set by the shop (POST, PUT), and by orders (a new order makes it
``pending``, the customer's or an agent's decision ``confirmed`` or ``cancelled``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T06:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "contact client status (seed 001)"

SQL = """
ALTER TABLE contact ADD COLUMN client_status varchar(16) NOT NULL DEFAULT 'pending'
    CHECK (client_status IN ('pending', 'confirmed', 'cancelled'));
UPDATE contact c SET client_status = o.status
FROM (SELECT DISTINCT ON (contact_id) contact_id, status FROM shop_order ORDER BY contact_id, id DESC) o
WHERE o.contact_id = c.id;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
