"""The Piccolo engine, on its own so that importing it never imports the table registry.

``app.piccolo_conf`` (what Piccolo reads) re-exports it with the app registry. The DSN is
only known at start-up (the embedded server picks a socket): :func:`app.db.configure`
fills it in before the first query.
"""

import os

from piccolo.engine.postgres import PostgresEngine


class Engine(PostgresEngine):
    """Piccolo's engine without its import-time version check, which would open a blocking
    connection to a server that may not be started yet (the embedded one starts later)."""

    async def check_version(self) -> None:
        return None


DB = Engine(config={"dsn": os.environ.get("DATABASE_URL", "")})
