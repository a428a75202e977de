"""Our migrations are plain SQL: one helper makes the Piccolo migration that runs it.

Several statements in one call go through asyncpg's simple protocol, inside the migration's
own transaction (Piccolo opens it; ``app.db.migrate`` holds the advisory lock).
"""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.engine import DB


def sql_migration(migration_id: str, description: str, *scripts: str) -> MigrationManager:
    """The migration ``migration_id`` that runs ``scripts`` in order, in one transaction."""
    manager = MigrationManager(migration_id=migration_id, app_name="switchboard", description=description)

    async def run() -> None:
        connection = DB.current_transaction.get().connection
        for script in scripts:
            await connection.execute(script)

    manager.add_raw(run)
    return manager
