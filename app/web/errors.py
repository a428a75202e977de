"""Errors as responses: HTML pages for people, one JSON shape under ``/api/``.

Not logged in: a page request is sent to the login page, an htmx request is told to go
there (``HX-Redirect``), an API request gets 401 JSON. Domain refusals map to 403 / 404 /
400 / 429. Anything unexpected is logged with its request id and answered 500 without
details.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import asyncpg
from litestar import MediaType, Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.domain.errors import Conflict, DomainError, NotFound, PermissionDenied, Throttled, ValidationError
from app.i18n import N_, gettext
from app.logs import request_id

log = logging.getLogger(__name__)

TITLES = {
    400: N_("Bad request"),
    401: N_("Please log in"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    413: N_("Too large"),
    415: N_("Unsupported content type"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.startswith("/webhooks/")


def error_response(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    if _wants_json(request):
        return Response(
            {"error": {"status": status, "message": message, "request_id": request_id.get()}},
            status_code=status,
            media_type=MediaType.JSON,
            headers=headers,
        )
    if request.headers.get("hx-request") and status >= 400:
        # htmx does not swap error responses by default: show the message in the toast area.
        headers = {**(headers or {}), "HX-Retarget": "#toasts", "HX-Reswap": "beforeend"}
        return Template("errors/_toast.html", context={"message": message}, status_code=status, headers=headers)
    return Template(
        "errors/error.html",
        context={"status": status, "title": TITLES.get(status, "Error"), "message": message},
        status_code=status,
        headers=headers,
    )


# Litestar's CSRF middleware refuses with this detail (litestar/middleware/csrf.py).
CSRF_REFUSED = "CSRF token verification failed"  # the same as app.web.security.CSRF_REFUSED


async def _audit_csrf_refusal(user: Any, address: str, what: str) -> None:
    from app.domain import sql
    from app.domain.audit import actor_of, record_audit

    try:
        async with sql.transaction():
            await record_audit(
                user.company_id,
                "security.csrf_refused",
                target_type="path",
                target_label=what[:300],
                actor=actor_of(user, address),
            )
    except Exception:  # noqa: BLE001 - the refusal stands even if the audit cannot be written
        log.exception("could not audit a CSRF refusal")


def _csrf_refused(request: Request) -> Response:
    """A state change without the right CSRF token: 403, logged with the request id and address,
    and audited (after the answer) in the company of the logged-in user it was made for."""
    address = request.client.host if request.client else "unknown"
    user = request.scope.get("user")
    what = f"{request.method} {request.url.path}"
    log.warning("CSRF refused: %s from %s (user %s)", what, address, getattr(user, "id", "-"))
    response = error_response(
        request, 403, N_("This form has expired or came from another site: reload the page and try again.")
    )
    if user is not None and getattr(user, "company_id", None):
        response.background = BackgroundTask(_audit_csrf_refusal, user, address, what)
    return response


def http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if status == 403 and exc.detail == CSRF_REFUSED:
        return _csrf_refused(request)
    if isinstance(exc, NotAuthorizedException) and not _wants_json(request):
        target = "/login?next=" + quote(request.url.path)
        if request.headers.get("hx-request"):
            return Response("", status_code=401, headers={"HX-Redirect": target})
        return Redirect(target)
    message = exc.detail if exc.detail and status < 500 else TITLES.get(status, "Error")
    if status == 413:
        message = N_("The request is too large.")
    headers = dict(exc.headers or {})
    return error_response(request, status, str(message), headers)


# Path parameters naming a row of a company-scoped table: a 404 on one that exists in another
# company is a probe across tenants, audited as security.foreign_id.
SCOPED_IDS = {
    "conversation_id": "conversation",
    "past_id": "conversation",
    "contact_id": "contact",
    "channel_id": "channel",
    "user_id": "app_user",
    "department_id": "department",
    "quick_reply_id": "quick_reply",
    "order_id": "shop_order",
    "message_id": "message",
    "endpoint_id": "webhook_endpoint",
    "key_id": "api_key",
}


async def _audit_foreign_ids(user: Any, address: str, what: str, ids: dict[str, int]) -> None:
    from app.domain import sql
    from app.domain.audit import actor_of, record_audit

    try:
        for param, value in ids.items():
            table = SCOPED_IDS[param]
            owner = await sql.fetchval(f"SELECT company_id FROM {table} WHERE id = $1", value)  # noqa: S608 - fixed names
            if owner is not None and owner != user.company_id:
                log.warning("denied %s of another company: %s=%s (user %s)", what, param, value, user.id)
                async with sql.transaction():
                    await record_audit(
                        user.company_id,
                        "security.foreign_id",
                        target_type=table,
                        target_id=value,
                        target_label=what[:300],
                        actor=actor_of(user, address),
                    )
    except Exception:  # noqa: BLE001 - the 404 stands even if the audit cannot be written
        log.exception("could not audit a denied id")


def _not_found(request: Request, message: str) -> Response:
    response = error_response(request, 404, message)
    user = request.scope.get("user")
    params = request.scope.get("path_params") or {}
    ids = {k: v for k, v in params.items() if k in SCOPED_IDS and isinstance(v, int) and 0 < v < 2**31}
    if ids and getattr(user, "company_id", None) and hasattr(user, "email"):  # a logged-in person
        address = request.client.host if request.client else "unknown"
        response.background = BackgroundTask(
            _audit_foreign_ids, user, address, f"{request.method} {request.url.path}", ids
        )
    return response


def domain_error(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, NotFound):
        return _not_found(request, str(exc) or N_("Not found."))
    if isinstance(exc, PermissionDenied):
        return error_response(request, 403, str(exc) or N_("Not allowed."))
    if isinstance(exc, Conflict):
        return error_response(request, 409, str(exc))
    if isinstance(exc, Throttled):
        return error_response(request, 429, str(exc), {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, ValidationError):
        # People read the messages in their language; API clients get "field: message" pairs.
        message = str(exc) if _wants_json(request) else " ".join(gettext(m) for m in exc.errors.values())
        return error_response(request, 400, message)
    return error_response(request, 400, str(exc))


def data_error(request: Request, exc: asyncpg.DataError) -> Response:
    """Input PostgreSQL cannot hold (an id beyond int4, say): the client's mistake, not ours."""
    log.info("refused input the database cannot store: %s", exc)
    return error_response(request, 400, "A value in the request is out of range.")


def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        f"Something went wrong on our side. Reference: {request_id.get()}",
    )


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    DomainError: domain_error,
    asyncpg.DataError: data_error,
    Exception: server_error,
}
