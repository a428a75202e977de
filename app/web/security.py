"""Sessions in PostgreSQL, the login session auth, and role guards.

Sessions live in ``http_session`` so that any process answers any request. The session id
is rotated at login (no fixation) and the user is reloaded on every request, so that a
deactivated user is logged out at their next request and a role change applies at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.types import Empty
from litestar.utils.dataclass import extract_dataclass_items
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.security.session_auth import SessionAuth
from litestar.stores.base import Store

from app.i18n import N_
from app.domain import sql
from app.domain.tables import User
from app.domain.users import get_active_user
from app.settings import Settings

ROTATE_KEY = "switchboard.rotate_session"
NEW_ID_KEY = "switchboard.new_session_id"
LOADED_KEY = "switchboard.session_loaded"

# Paths reachable without a login session.
SESSIONLESS_PATHS = ["^/webhooks/", "^/static/", "^/health"]
PUBLIC_PATHS = ["^/login", "^/health", "^/static/", "^/webhooks/", "^/favicon.ico", "^/schema",
                "^/manifest.webmanifest$"]


def _seconds(value: int | timedelta | None) -> int | None:
    if value is None:
        return None
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


class PostgresStore(Store):
    """Litestar store backed by the ``http_session`` table."""

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        await sql.execute(
            """INSERT INTO http_session (key, data, expires_at)
               VALUES ($1, $2, now() + make_interval(secs => $3))
               ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at""",
            key,
            data,
            float(_seconds(expires_in) or 10 * 365 * 86400),
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        renew = _seconds(renew_for)
        if renew:
            return await sql.fetchval(
                """UPDATE http_session SET expires_at = now() + make_interval(secs => $2)
                   WHERE key = $1 AND expires_at > now() RETURNING data""",
                key,
                float(renew),
            )
        return await sql.fetchval("SELECT data FROM http_session WHERE key = $1 AND expires_at > now()", key)

    async def delete(self, key: str) -> None:
        await sql.execute("DELETE FROM http_session WHERE key = $1", key)

    async def delete_all(self) -> None:
        await sql.execute("DELETE FROM http_session")

    async def exists(self, key: str) -> bool:
        return bool(await sql.fetchval("SELECT 1 FROM http_session WHERE key = $1 AND expires_at > now()", key))

    async def expires_in(self, key: str) -> int | None:
        value = await sql.fetchval(
            "SELECT extract(epoch FROM expires_at - now())::int FROM http_session WHERE key = $1", key
        )
        return None if value is None or value < 0 else value

    async def purge_expired(self) -> int:
        status = await sql.execute("DELETE FROM http_session WHERE expires_at <= now()")
        return int(status.split()[-1])


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar's server-side sessions with three changes.

    - A fresh id when the login handler asks for one (no session fixation).
    - Nothing stored for a visitor whose session is empty: anonymous pages (login, errors)
      must not create a row per request.
    - No write when the data did not change: the read already renewed its expiry.
    """

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        if session_id := connection.cookies.get(self.config.key):
            data = await self.get(session_id, store=self.config.get_store_from_app(connection.scope["app"]))
            if data is not None:
                connection.scope[LOADED_KEY] = data  # type: ignore[literal-required]
                return self.deserialize_data(data)
        return {}

    async def store_in_message(self, scope_session: Any, message: Any, connection: ASGIConnection) -> None:
        scope: Any = connection.scope
        if scope_session is not Empty and not scope.get(ROTATE_KEY):
            loaded = scope.get(LOADED_KEY)
            if not scope_session and loaded is None:
                return
            if scope_session and loaded is not None and self.serialize_data(scope_session, scope) == loaded:
                params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))
                cookie = Cookie(value=connection.cookies[self.config.key], key=self.config.key, **params)
                MutableScopeHeaders.from_message(message).add("Set-Cookie", cookie.to_header(header=""))
                return
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection) -> str:
        scope: Any = connection.scope
        if scope.get(ROTATE_KEY):
            if NEW_ID_KEY not in scope:
                scope[NEW_ID_KEY] = self.generate_session_id()
            return scope[NEW_ID_KEY]
        return super().get_session_id(connection)


class SessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


async def rotate_session(connection: ASGIConnection) -> None:
    """Call at login: the old id is forgotten and the response sets a new one."""
    old = connection.cookies.get("session")
    if old:
        await PostgresStore().delete(old)
    connection.scope[ROTATE_KEY] = True  # type: ignore[literal-required]


async def retrieve_user(session: dict[str, Any], connection: ASGIConnection) -> User | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    return await get_active_user(user_id)


def session_auth(settings: Settings) -> SessionAuth:
    return SessionAuth[User, RotatingSessionBackend](
        retrieve_user_handler=retrieve_user,
        session_backend_config=SessionConfig(
            store="sessions",
            max_age=settings.session_max_age,
            renew_on_access=True,
            secure=settings.secure_cookies,
            httponly=True,
            samesite="lax",
            # Provider webhooks, files and health checks never use a session: no store read or
            # renewal for them (webhooks arrive by the hundred per second).
            exclude=SESSIONLESS_PATHS,
        ),
        exclude=PUBLIC_PATHS,
    )


# Guards ---------------------------------------------------------------------------------


def _role(connection: ASGIConnection) -> str:
    user = connection.scope.get("user")
    if not isinstance(user, User):
        raise NotAuthorizedException(N_("Log in first."))
    return user.role


def admin_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if _role(connection) != "admin":
        raise PermissionDeniedException(N_("Only admins may do this."))


def supervisors(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if _role(connection) not in {"admin", "supervisor"}:
        raise PermissionDeniedException(N_("Only supervisors and admins may do this."))


def staff(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Any logged-in user of any role (used so that every route names its guard)."""
    _role(connection)
