"""Sessions in PostgreSQL, the login session auth, and role guards.

Sessions live in ``http_session`` so that any process answers any request. The session id
is rotated at login (no fixation) and the user is reloaded on every request, so that a
deactivated user is logged out at their next request and a role change applies at once.
"""

from __future__ import annotations

import hmac
import json
import re
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.csrf import generate_csrf_token
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.response import Redirect, Response
from litestar.security.session_auth import SessionAuth
from litestar.stores.base import Store
from litestar.types import Empty
from litestar.utils.dataclass import extract_dataclass_items

from app.domain import sessions, sql
from app.domain.tables import User
from app.domain.users import get_active_user
from app.i18n import N_
from app.settings import Settings
from app.web.ratelimit import retry_after

# Litestar's CSRF middleware refuses with this detail (litestar/middleware/csrf.py); so do we.
CSRF_REFUSED = "CSRF token verification failed"

ROTATE_KEY = "switchboard.rotate_session"
NEW_ID_KEY = "switchboard.new_session_id"
LOADED_KEY = "switchboard.session_loaded"

# Paths reachable without a login session.
SESSIONLESS_PATHS = ["^/webhooks/", "^/static/", "^/health"]
PUBLIC_PATHS = [
    "^/login",
    "^/health",
    "^/static/",
    "^/webhooks/",
    "^/favicon.ico",
    "^/schema",
    "^/manifest.webmanifest$",
]


def _seconds(value: int | timedelta | None) -> int | None:
    if value is None:
        return None
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


class PostgresStore(Store):
    """Litestar store backed by the ``http_session`` table."""

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        try:
            meta = json.loads(data)
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        user_id = meta.get("user_id") if isinstance(meta.get("user_id"), int) else None
        await sql.execute(
            """INSERT INTO http_session (key, data, expires_at, user_id, address, user_agent)
               VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5, $6)
               ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at,
                   user_id = excluded.user_id, last_seen_at = now()""",
            key,
            data,
            float(_seconds(expires_in) or 10 * 365 * 86400),
            user_id,
            str(meta.get("ip") or "")[:64],
            str(meta.get("ua") or "")[:300],
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        # A session older than SESSION_ABSOLUTE_MAX_AGE is over however busy it is.
        renew = _seconds(renew_for)
        if renew:
            return await sql.fetchval(
                """UPDATE http_session SET expires_at = now() + make_interval(secs => $2), last_seen_at = now()
                   WHERE key = $1 AND expires_at > now() AND created_at > now() - make_interval(secs => $3)
                   RETURNING data""",
                key,
                float(renew),
                float(sessions.ABSOLUTE_MAX_AGE),
            )
        return await sql.fetchval(
            """SELECT data FROM http_session
               WHERE key = $1 AND expires_at > now() AND created_at > now() - make_interval(secs => $2)""",
            key,
            float(sessions.ABSOLUTE_MAX_AGE),
        )

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


CSRF_COOKIE = "csrftoken"  # Litestar's CSRFConfig cookie
CSRF_SESSION_KEY = "csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_cookie(token: str, secure: bool) -> Cookie:
    """The CSRF cookie as Litestar's CSRFConfig in app.main sets it."""
    return Cookie(key=CSRF_COOKIE, value=token, path="/", secure=secure, httponly=True, samesite="lax")


def new_csrf_token(secret: str) -> str:
    """A fresh token in Litestar's signed form (its CSRF middleware checks the signature)."""
    return generate_csrf_token(secret)


def check_csrf_binding(request: Any, exempt: list[str]) -> None:
    """The CSRF token of a state change must be the one issued with this login session.

    Litestar checks that the form's (or header's) token equals the cookie's and is signed; a
    cookie can be planted by a sibling site, so the token is also tied to the session: issued
    at login (``AuthController.login``) and kept in it. Sessions from before this rule have no
    token and are let through until their next login."""
    if request.method not in UNSAFE_METHODS or not request.scope.get("user"):
        return
    path = request.url.path
    if any(re.match(pattern, path) for pattern in exempt):
        return
    bound = request.session.get(CSRF_SESSION_KEY) if request.scope.get("session") else None
    if bound and not hmac.compare_digest(str(bound), request.cookies.get(CSRF_COOKIE, "")):
        raise PermissionDeniedException(CSRF_REFUSED)


# Reachable by an admin who must still set up two-factor login (company setting).
ENROLMENT_PATHS = ("/account/security", "/logout", "/login", "/static/", "/events", "/health")


def enrolment_redirect(request: Any) -> Redirect | None:
    """An admin whose company requires two-factor login and who has not set it up is sent to
    /account/security (the flag is put in the session at login: app.web.auth)."""
    if not request.scope.get("user") or not request.scope.get("session") or not request.session.get("must_enrol"):
        return None
    if request.url.path.startswith(ENROLMENT_PATHS):
        return None
    if request.headers.get("hx-request"):
        return Redirect("/account/security", status_code=303, headers={"HX-Redirect": "/account/security"})
    return Redirect("/account/security", status_code=303)


def page_rate_limited(request: Any) -> Response | None:
    """429 when this login session makes more than PAGE_RATE_LIMIT requests a minute."""
    key = request.cookies.get("session") if request.scope.get("user") else None
    if not key or request.url.path.startswith(("/static/", "/events")):
        return None
    wait = request.app.state.page_limiter.hit(key)
    if not wait:
        return None
    from app.web.errors import error_response  # errors imports nothing of ours at module level

    return error_response(
        request, 429, N_("Too many requests: wait a moment and try again."), {"Retry-After": retry_after(wait)}
    )


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
