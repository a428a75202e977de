"""Body and query validation errors of the JSON APIs as the app's one error shape, naming the field."""

from __future__ import annotations

from litestar import Request, Response
from litestar.exceptions import ValidationException

from app.web.errors import error_response


def validation_error(request: Request, exc: ValidationException) -> Response:
    details = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = item.get("key") or item.get("source") or "body"
            details.append(f"{key}: {item.get('message', 'invalid')}")
    message = "; ".join(details)[:1000] or str(exc.detail)
    return error_response(request, 400, message)
