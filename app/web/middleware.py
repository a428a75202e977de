"""ASGI middleware: request ids, one access-log line per request, browser hardening headers."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import request_id

log = logging.getLogger("switchboard.access")
STARTED_AT = "switchboard.started_at"


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if incoming and len(incoming) <= 64 and incoming.isprintable() else secrets.token_hex(8)
        token = request_id.set(rid)
        # When the request began, on the wall clock: a page passes it to its event stream, which
        # replays what happened since (app.web.templating.live_since).
        scope[STARTED_AT] = time.time()  # type: ignore[literal-required]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)},
            )
            request_id.reset(token)

    return middleware


# Content-Security-Policy for every response. Scripts only from our own files (htmx runs with
# allowEval off: templates/base.html's htmx-config meta), no inline script or handler, no
# framing; style attributes stay allowed (colour chips set CSS variables), <style> elements do not.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HARDENING = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), geolocation=(), payment=(), usb=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
# Static files may be cached; every other answer may carry personal data and is not stored.
CACHEABLE_PREFIXES = ("/static/",)


def security_headers_middleware(always_https: bool) -> Callable[[ASGIApp], ASGIApp]:
    """Browser hardening headers on every HTTP response (app.web.middleware.CSP and friends).

    HSTS is sent when the app is served over https: ``BASE_URL`` is https (``always_https``) or
    this request came in over https (uvicorn applies ``X-Forwarded-Proto`` from trusted proxies).
    ``Cache-Control: no-store`` is added to every non-static answer that did not choose its own."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            https = always_https or scope.get("scheme") == "https"
            cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers") or [])
                    present = {k.lower() for k, _ in headers}
                    headers += [(k, v) for k, v in HARDENING if k not in present]
                    if https:
                        headers.append(HSTS)
                    if not cacheable and b"cache-control" not in present:
                        headers.append((b"cache-control", b"no-store"))
                    message["headers"] = headers
                await send(message)

            await app(scope, receive, send_with_headers)

        return middleware

    return factory
