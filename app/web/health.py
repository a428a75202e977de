"""``/health``: is the database reachable, is the bus connected, which version runs."""

from __future__ import annotations

import asyncio

from litestar import Request, Response, get

from app import __version__
from app.domain import sql


@get("/health", media_type="application/json", exclude_from_csrf=True)
async def health(request: Request) -> Response:
    try:
        await asyncio.wait_for(sql.fetchval("SELECT 1"), 2)
        database = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        database = f"error: {type(exc).__name__}"
    bus = "connected" if request.app.state.hub.connected.is_set() else "disconnected"
    healthy = database == "ok" and bus == "connected"
    return Response(
        {"status": "ok" if healthy else "degraded", "database": database, "bus": bus, "version": __version__},
        status_code=200 if healthy else 503,
    )
