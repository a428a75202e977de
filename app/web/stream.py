"""``/events``: the Server-Sent Events stream of one logged-in browser tab."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from litestar import Request, get
from litestar.exceptions import ValidationException
from litestar.response import ServerSentEvent, ServerSentEventMessage

from app.domain.events import AccessChanged, UserChanged
from app.domain.presence import heartbeat
from app.domain.sessions import Access, stream_access
from app.realtime.hub import Closed, Resync
from app.web.live import parse_topics, prefetch, render_event
from app.web.security import staff

log = logging.getLogger(__name__)
# Events rendered together when they are already waiting (see the loop below).
BATCH = 200
FLUSH_SECONDS = 0.005


@dataclass
class Encoded(ServerSentEventMessage):
    """Events already encoded (``ServerSentEventMessage.encode``), sent as one chunk."""

    raw: bytes = b""

    def encode(self) -> bytes:
        return self.raw


def _since(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationException("since: a time in seconds since 1970, as the page wrote it.") from None
    if not math.isfinite(value) or value > time.time() + 60:
        raise ValidationException("since: a time in seconds since 1970, as the page wrote it.")
    return value


async def _ended(user_id: int, session_key: str | None, opened_with: Access | None) -> ServerSentEventMessage | None:
    """The stream's last message when it must end now, else None."""
    now = await stream_access(user_id, session_key)
    if now is None or opened_with is None:
        return ServerSentEventMessage(event="logged-out", data="session")
    if now != opened_with:
        # Still logged in, with other rights: the page reloads and shows what they now allow.
        return ServerSentEventMessage(event="reload", data="access")
    return None


@get("/events", guards=[staff])
async def events(request: Request) -> ServerSentEvent:
    hub = request.app.state.hub
    keepalive = request.app.state.settings.sse_keepalive
    viewer = request.user
    # The live features of the page that opened the stream (see app.web.live.ROUTES).
    topics = parse_topics(request.query_params.get("topics"))
    # When the page that opens the stream began (app.web.templating.live_since): the events
    # since then, which the page may not show, come first (app.realtime.hub).
    since = _since(request.query_params.get("since"))
    sub = hub.subscribe(viewer.company_id, since=since)
    # The stream lives only as long as its login session and the access it was opened with:
    # it ends at logout, session expiry or end, and any change of role, departments or status
    # (AccessChanged, from database triggers, reaches every process; expiry is checked on the
    # keep-alive beat).
    session_key = request.cookies.get("session")
    access = await stream_access(viewer.id, session_key)

    async def stream() -> AsyncGenerator[ServerSentEventMessage, None]:
        try:
            # Tell the page it is live; after a reconnect it uses this to resync.
            yield ServerSentEventMessage(event="ready", data="ready", retry=2000)
            await heartbeat(viewer.id)
            last_beat = time.monotonic()
            while True:
                if time.monotonic() - last_beat >= keepalive:
                    ended = await _ended(viewer.id, session_key, access)
                    if ended:
                        yield ended
                        return
                    # An open stream keeps its agent present (DESIGN: presence).
                    await heartbeat(viewer.id)
                    last_beat = time.monotonic()
                try:
                    first = await asyncio.wait_for(sub.get(), keepalive)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keepalive", data=None)
                    continue
                # Whatever else is already waiting is rendered as one batch: one query for the
                # batch's messages instead of one per event (a busy company sends hundreds a second).
                batch = [first, *sub.drain(BATCH)]
                try:
                    await prefetch([item for item in batch if not isinstance(item, (Closed, Resync))], viewer, topics)
                except Exception:  # noqa: BLE001 - rendering one by one below still works
                    log.exception("could not prefetch a batch of %d events", len(batch))
                # The batch's events go out in as few writes as possible (each write crosses three
                # middlewares and a syscall), flushed at least every FLUSH_SECONDS of rendering so
                # the first of a long batch does not wait for the last.
                out: list[bytes] = []
                flush_at = time.perf_counter() + FLUSH_SECONDS
                for item in batch:
                    if isinstance(item, Closed):
                        if out:
                            yield Encoded(raw=b"".join(out))
                        return
                    if isinstance(item, Resync):
                        out.append(ServerSentEventMessage(event="resync", data=item.reason).encode())
                        continue
                    if isinstance(item, (UserChanged, AccessChanged)) and item.user_id == viewer.id:
                        ended = await _ended(viewer.id, session_key, access)
                        if ended:
                            out.append(ended.encode())
                            yield Encoded(raw=b"".join(out))
                            return
                    if isinstance(item, AccessChanged):
                        continue
                    try:
                        messages = await render_event(item, viewer, topics)
                        out.extend(message.encode() for message in messages)
                    except Exception:  # noqa: BLE001 - one bad event must not kill the stream
                        log.exception("could not render %s for the stream", item.name)
                    if out and time.perf_counter() >= flush_at:
                        yield Encoded(raw=b"".join(out))
                        out, flush_at = [], time.perf_counter() + FLUSH_SECONDS
                if out:
                    yield Encoded(raw=b"".join(out))
        finally:
            hub.unsubscribe(sub)

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
