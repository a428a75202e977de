"""The app as an installable web app: favicon, web app manifest (icons in static/icons/).

Browsers ask for ``/favicon.ico`` on every page and fetch the manifest without cookies, so both
are public. The icons are drawn by ``scripts/make_icons.py``.
"""

from __future__ import annotations

from litestar import Response, get
from litestar.response import File

from app.i18n import gettext as _
from app.settings import ROOT

ICONS = ROOT / "static" / "icons"


@get("/favicon.ico", include_in_schema=False, sync_to_thread=False)
def favicon() -> File:
    return File(
        ICONS / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
        content_disposition_type="inline",
    )


@get("/manifest.webmanifest", include_in_schema=False, sync_to_thread=False)
def manifest() -> Response:
    data = {
        "name": "Switchboard",
        "short_name": "Switchboard",
        "description": _("Your customers' WhatsApp conversations and calls, in one inbox."),
        "start_url": "/inbox",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f5f6fa",
        "theme_color": "#111827",
        "icons": [
            {
                "src": "/static/icons/icon-192.png",
                "sizes": "192x192",
                "type": "image/png",
            },
            {
                "src": "/static/icons/icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
            },
            {
                "src": "/static/icons/icon-maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": "/static/icons/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(
        data,
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


ROUTES = [favicon, manifest]
