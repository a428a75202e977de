"""Errors as responses: HTML pages for people, one JSON shape under ``/api/``.

Not logged in: a page request is sent to the login page, an htmx request is told to go
there (``HX-Redirect``), an API request gets 401 JSON. Domain refusals map to 403 / 404 /
400 / 429. Anything unexpected is logged with its request id and answered 500 without
details.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.i18n import N_, gettext
from app.domain.errors import Conflict, DomainError, NotFound, PermissionDenied, Throttled, ValidationError
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
        return Template(
            "errors/_toast.html", context={"message": message}, status_code=status, headers=headers
        )
    return Template(
        "errors/error.html",
        context={"status": status, "title": TITLES.get(status, "Error"), "message": message},
        status_code=status,
        headers=headers,
    )


def http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
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


def domain_error(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, NotFound):
        return error_response(request, 404, str(exc) or N_("Not found."))
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
