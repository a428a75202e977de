"""Who is calling ``/api/v1``: an API key (``Authorization: Bearer sbk_…`` or ``X-API-Key``) or
a logged-in supervisor's or admin's session.

The one guard (``api_auth``) runs before every handler of the API router: it finds the key,
counts the request against the key's rate limit (429 with ``Retry-After``), checks the
handler's permission (``opt={"scope": ...}``; else ``opt["read_scope"]`` (default ``read``) for
GET and ``opt["write_scope"]`` (default ``write``) otherwise) and puts an ``ApiPrincipal`` in ``scope["user"]``, so handlers read ``request.user`` as
anywhere else. Key requests carry no cookie, hence no CSRF check; session requests that change
something need the ``x-csrftoken`` header like every other page's (the app-wide CSRF
middleware skips ``/api/v1`` and the seeds' APIs for that reason only). The seeds' APIs (seed 004's
``/api/extensions`` … ``/api/cdr``, seed 001's ``/api/clients`` and ``/api/orders``) use the same
guard; ``opt["session_roles"]`` narrows which logged-in roles may use a handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from secrets import compare_digest

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash

from app.domain.api_keys import SCOPES, find_api_key, hit_rate_limit
from app.i18n import N_
from app.web.security import retrieve_user

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class ApiPrincipal:
    """An API key acting in its company. It acts like a supervisor towards dispatch (may
    assign, transfer and resolve any conversation) and is recorded by name in the audit log."""

    company_id: int
    key_id: int
    name: str
    scopes: tuple[str, ...]
    id: None = None
    role: str = "supervisor"
    email: str = "api"
    language: str = ""
    presence: str = "offline"
    extra: dict = field(default_factory=dict)


def _token_secret(token: str, secret: str) -> str | None:
    if len(token) < CSRF_SECRET_LENGTH + 1:
        return None
    head, digest = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    return head if compare_digest(digest, generate_csrf_hash(token=head, secret=secret)) else None


def _csrf_ok(connection: ASGIConnection) -> bool:
    secret = connection.app.state.settings.secret_key
    header = connection.headers.get("x-csrftoken") or ""
    cookie = connection.cookies.get("csrftoken") or ""
    a, b = _token_secret(header, secret), _token_secret(cookie, secret)
    return a is not None and b is not None and compare_digest(a, b)


def _key_from(connection: ASGIConnection) -> str:
    header = connection.headers.get("authorization") or ""
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return (connection.headers.get("x-api-key") or "").strip()


async def api_auth(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    method = connection.scope.get("method", "GET")
    opt = handler.opt
    default = opt.get("read_scope", "read") if method in SAFE_METHODS else opt.get("write_scope", "write")
    needed = opt.get("scope") or default
    assert needed in SCOPES, needed
    key = _key_from(connection)
    if key:
        api_key = await find_api_key(key)
        if api_key is None:
            raise NotAuthorizedException(N_("Unknown or revoked API key."))
        await hit_rate_limit(api_key, connection.app.state.settings.api_rate_limit)
        if needed not in api_key.scopes and not opt.get("any_scope"):
            raise PermissionDeniedException(f"This API key lacks the '{needed}' permission.")
        connection.scope["user"] = ApiPrincipal(  # type: ignore[typeddict-unknown-key]
            api_key.company_id, api_key.id, f"API key {api_key.name} (sbk_{api_key.prefix})", api_key.scopes
        )
        return
    session = connection.scope.get("session")
    user = await retrieve_user(session if isinstance(session, dict) else {}, connection)
    if user is None:
        raise NotAuthorizedException(N_("Send an API key (Authorization: Bearer sbk_…) or log in."))
    roles = opt.get("session_roles", ("admin", "supervisor"))
    if user.role not in roles:
        if "supervisor" in roles:
            raise PermissionDeniedException(N_("The API is open to API keys, supervisors and admins."))
        raise PermissionDeniedException(N_("This part of the API is open to API keys and admins."))
    if method not in SAFE_METHODS and not _csrf_ok(connection):
        raise PermissionDeniedException(N_("CSRF token verification failed: send the x-csrftoken header."))
    connection.scope["user"] = user  # type: ignore[typeddict-unknown-key]
