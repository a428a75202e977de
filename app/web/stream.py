"""``/events``: the Server-Sent Events stream of one logged-in browser tab."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncGenerator

from litestar import Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.domain.events import UserChanged
from app.domain.presence import heartbeat
from app.domain.users import get_active_user
from app.realtime.hub import Closed, Resync
from app.web.live import parse_topics, prefetch, render_event
from app.web.security import staff

log = logging.getLogger(__name__)
# Events rendered together when they are already waiting (see the loop below).
BATCH = 200


@get("/events", guards=[staff])
async def events(request: Request) -> ServerSentEvent:
    hub = request.app.state.hub
    keepalive = request.app.state.settings.sse_keepalive
    viewer = request.user
    # The live features of the page that opened the stream (see app.web.live.ROUTES).
    topics = parse_topics(request.query_params.get("topics"))
    sub = hub.subscribe(viewer.company_id)

    async def stream() -> AsyncGenerator[ServerSentEventMessage, None]:
        try:
            # Tell the page it is live; after a reconnect it uses this to resync.
            yield ServerSentEventMessage(event="ready", data="ready", retry=2000)
            await heartbeat(viewer.id)
            last_beat = time.monotonic()
            while True:
                if time.monotonic() - last_beat >= keepalive:
                    # An open stream keeps its agent present (DESIGN: presence).
                    await heartbeat(viewer.id)
                    last_beat = time.monotonic()
                try:
                    first = await asyncio.wait_for(sub.get(), keepalive)
                except asyncio.TimeoutError:
                    yield ServerSentEventMessage(comment="keepalive", data=None)
                    continue
                # Whatever else is already waiting is rendered as one batch: one query for the
                # batch's messages instead of one per event (a busy company sends hundreds a second).
                batch = [first, *sub.drain(BATCH)]
                try:
                    await prefetch([item for item in batch if not isinstance(item, (Closed, Resync))], viewer, topics)
                except Exception:  # noqa: BLE001 - rendering one by one below still works
                    log.exception("could not prefetch a batch of %d events", len(batch))
                for item in batch:
                    if isinstance(item, Closed):
                        return
                    if isinstance(item, Resync):
                        yield ServerSentEventMessage(event="resync", data=item.reason)
                        continue
                    if isinstance(item, UserChanged) and item.user_id == viewer.id:
                        if await get_active_user(viewer.id) is None:
                            yield ServerSentEventMessage(event="logged-out", data="deactivated")
                            return
                    try:
                        for message in await render_event(item, viewer, topics):
                            yield message
                    except Exception:  # noqa: BLE001 - one bad event must not kill the stream
                        log.exception("could not render %s for the stream", item.name)
        finally:
            hub.unsubscribe(sub)

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
