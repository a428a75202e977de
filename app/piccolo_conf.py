"""Piccolo's configuration module (``PICCOLO_CONF=app.piccolo_conf``).

The DSN is only known at start-up (the embedded server picks a socket), so the engine is
created empty here and :func:`app.db.configure` fills it in before any query runs.
"""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine



class Engine(PostgresEngine):
    """Piccolo's engine without its import-time version check, which would open a blocking
    connection to a server that may not be started yet (the embedded one starts later)."""

    async def check_version(self) -> None:
        return None


DB = Engine(config={"dsn": os.environ.get("DATABASE_URL", "")})

APP_REGISTRY = AppRegistry(apps=["app.piccolo_app"])
