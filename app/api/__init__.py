"""The integrators' JSON API, ``/api/v1``, documented by Litestar's OpenAPI schema (``/schema``).

``ROUTER`` holds every handler behind one guard (``app.api.auth.api_auth``: API key or
session, permission, rate limit). Errors keep the app's one JSON shape
(``{"error": {"status", "message", "request_id"}}``); body validation errors name the field.
"""

from __future__ import annotations

from litestar import Router
from litestar.exceptions import ValidationException
from litestar.openapi.spec import Components, SecurityScheme

from app.api.auth import api_auth
from app.api.errors import validation_error as _validation_error
from app.api.events import api_events
from app.api.routes import ContactsApi, ConversationsApi, DirectoryApi, OrdersApi
from app.api.team import HANDLERS as TEAM_HANDLERS

SECURITY_COMPONENTS = Components(
    security_schemes={
        "apiKey": SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="sbk_<prefix>_<secret>",
            description="An API key from Admin → API keys: `Authorization: Bearer sbk_…` (or the `X-API-Key` header).",
        ),
    }
)


ROUTER = Router(
    path="/api/v1",
    route_handlers=[ContactsApi, ConversationsApi, OrdersApi, DirectoryApi, api_events, *TEAM_HANDLERS],
    guards=[api_auth],
    security=[{"apiKey": []}],
    include_in_schema=True,  # the only routes published at /schema (create_app leaves the rest out)
    exception_handlers={ValidationException: _validation_error},
)
