"""Every route of the app, walked from its route table (issue 16, proof): each one names a role
guard or is listed here as public with the reason, refuses a state change without the CSRF
token, answers with the hardening headers, and shows nothing to a visitor who is not logged in.
A new route cannot ship without these: it is walked too."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar

from app.main import CSRF_EXEMPT
from tests.factories import make_company, make_user
from tests.helpers import login

# Reachable without a login session, and why.
PUBLIC = {
    "/login": "the login form itself",
    "/health": "load balancer probe; says up or down, nothing else",
    "/static/": "CSS, JS and vendored files",
    "/webhooks/": "provider webhooks, authenticated by each provider's signature; media by a signed link",
    "/schema": "the public API's description (app.api)",
    "/favicon.ico": "the site icon browsers ask for on every page, the login page included",
    "/manifest.webmanifest": "the PWA manifest (name, icons, colours): nothing of a company's",
}
ROLE_GUARDS = {"staff", "supervisors", "admin_only", "api_auth"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
# Endless or not a page: checked elsewhere (tests/security/test_stream_ends.py checks /events,
# tests/api/test_events_api.py the integrators' /api/v1/events).
NOT_WALKED = {"/events", "/api/v1/events"}
# The same for every company and visitor, nothing personal: browsers may keep them.
CACHEABLE = {"/favicon.ico", "/manifest.webmanifest"}


def _public(path: str) -> bool:
    return any(path == p or path.startswith(p if p.endswith("/") else p + "/") or path == p.rstrip("/") for p in PUBLIC)


def routes(app: Litestar):
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(getattr(handler, "http_methods", ())):
                if method in ("OPTIONS", "HEAD"):
                    continue
                guards = {getattr(g, "func", g).__name__ for g in handler.resolve_guards()}
                yield route.path, method, guards


def concrete(path: str) -> str:
    """A request path for a route pattern: ids of nothing (1), names of nothing."""
    return re.sub(r"\{(\w+):(\w+)\}", lambda m: "1" if m.group(2) == "int" else "x", path)


async def test_the_route_table_is_walked(app):
    found = list(routes(app))
    assert len(found) > 150 and ("/admin/users", "GET", {"admin_only"}) in [
        (p, m, g & ROLE_GUARDS) for p, m, g in found
    ]


async def test_every_route_names_a_role_guard_or_is_public(app):
    unguarded = sorted({f"{m} {p}" for p, m, g in routes(app) if not (g & ROLE_GUARDS) and not _public(p)})
    assert not unguarded, (
        f"add guards=[staff|supervisors|admin_only] (or list them in PUBLIC with a reason): {unguarded}"
    )


async def test_every_state_change_needs_the_csrf_token(app, client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    allowed = []
    for path, method, _ in routes(app):
        if method not in UNSAFE or any(re.match(p, path) for p in CSRF_EXEMPT):
            continue
        r = await client.request(method, concrete(path), data={"x": "1"})
        if r.status_code != 403:
            allowed.append(f"{method} {path}: {r.status_code}")
    assert not allowed, allowed


async def test_visitors_see_nothing_behind_a_login(app, client):
    leaked = []
    for path, method, _ in routes(app):
        if method != "GET" or _public(path) or path in NOT_WALKED:
            continue
        r = await client.get(concrete(path))
        if r.status_code not in (401, 302, 303) or (r.is_redirect and "/login" not in r.headers["location"]):
            leaked.append(f"GET {path}: {r.status_code}")
    assert not leaked, leaked


@pytest.mark.parametrize("role", ["admin", "agent", None])
async def test_every_answer_carries_the_hardening_headers(app, client, role):
    if role:
        await login(client, (await make_user(await make_company(), role)).email)
    missing = []
    for path, method, _ in routes(app):
        if method != "GET" or path in NOT_WALKED or path.startswith("/static/"):
            continue
        r = await client.get(concrete(path))
        for name, value in HEADERS.items():
            if value not in r.headers.get(name, ""):
                missing.append(f"GET {path} ({r.status_code}): {name}")
        cacheable = path.startswith("/schema") or path in CACHEABLE
        if "no-store" not in r.headers.get("cache-control", "") and not cacheable:
            missing.append(f"GET {path} ({r.status_code}): cache-control {r.headers.get('cache-control')}")
    # Unknown paths and static files too (static files may be cached).
    for path in ("/no/such/page", "/static/css/app.css"):
        r = await client.get(path)
        missing += [f"GET {path}: {n}" for n, v in HEADERS.items() if v not in r.headers.get(n, "")]
    assert not missing, missing


async def test_hsts_only_under_https(app, client):
    r = await client.get("/login")
    assert "strict-transport-security" not in r.headers
    r = await client.get("https://testserver.local/login")
    assert r.headers["strict-transport-security"].startswith("max-age=")
