"""``/webhooks/{provider}/{channel_id}``: provider webhooks in, verified before anything is stored.

Order: size limit → channel (unknown 404, disabled 403, wrong provider 404) → signature → parse
→ one transaction → 200 after commit. Every refusal is a 4xx JSON with a reason; unknown event
types are acknowledged (200) and logged. Public (no session) and CSRF-exempt: the signature or
the channel's secret is the authentication.
"""

from __future__ import annotations

import asyncio
import logging

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import File

from app.domain.backfill import backfill
from app.domain.channel_health import record_session
from app.domain.channels import WEBHOOK_CHANNELS, ChannelInfo
from app.domain.media import get_public_media
from app.domain.messages import IngestResult, receive_webhook
from app.domain.typing_indicators import receive_typing
from app.providers import get_provider
from app.providers.base import WebhookRejected, WebhookRequest
from app.providers.meta import PROVIDER as META
from app.web.ratelimit import retry_after

log = logging.getLogger(__name__)


def _reject(status: int, reason: str) -> Response:
    return Response({"error": {"status": status, "message": reason}}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise WebhookRejected(413, f"The body is larger than {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def _channel(provider: str, channel_id: int) -> ChannelInfo:
    channel = await WEBHOOK_CHANNELS.get(channel_id)
    if channel is None or channel.provider != provider or get_provider(provider) is None:
        raise WebhookRejected(404, "No such channel for this provider.")
    if not channel.active:
        raise WebhookRejected(403, "This channel is disabled.")
    return channel


def _public_url(request: Request) -> str:
    """The URL the provider called, as the provider saw it (Twilio signs it)."""
    base = request.app.state.settings.public_url
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


@post("/webhooks/{provider:str}/{channel_id:int}", status_code=200)
async def receive(request: Request, provider: FromPath[str], channel_id: FromPath[int]) -> Response:
    return await _receive(request, provider, channel_id)


@post("/webhooks/meta/{channel_id:int}", status_code=200)
async def receive_meta(request: Request, channel_id: FromPath[int]) -> Response:
    # Its own route: the GET handshake's static "meta" segment would otherwise shadow the POST.
    return await _receive(request, "meta", channel_id)


async def _receive(request: Request, provider: str, channel_id: int) -> Response:
    settings = request.app.state.settings
    wait = request.app.state.webhook_limiter.hit(channel_id)
    if wait:
        # Providers retry a 429 later: nothing is lost, and one flooded channel cannot starve the rest.
        log.warning("webhook rate limit: channel %s", channel_id)
        return Response(
            {"error": {"status": 429, "message": "Too many webhooks for this channel; retry later."}},
            status_code=429,
            headers={"Retry-After": retry_after(wait)},
        )
    try:
        body = await _read_body(request, settings.webhook_max_bytes)
        channel = await _channel(provider, channel_id)
        hook = WebhookRequest(
            url=_public_url(request),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            query=dict(request.query_params.items()),
        )
        impl = channel.impl
        impl.verify(channel.credentials, channel.webhook_secret, hook)
        try:
            parsed = impl.parse(hook)
        except RecursionError as exc:
            raise WebhookRejected(400, "The JSON is nested too deeply.") from exc
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Valid JSON of an unexpected shape: refuse it with a reason rather than a 500.
            log.warning("webhook %s/%s has an unexpected shape: %r", provider, channel_id, exc)
            raise WebhookRejected(400, "The payload does not have the shape this provider sends.") from exc
    except WebhookRejected as exc:
        log.info("webhook refused: %s %s -> %s %s", provider, channel_id, exc.status, exc.reason)
        return _reject(exc.status, exc.reason)
    if parsed.messages or parsed.statuses:
        result = await receive_webhook(channel, parsed)
    else:  # nothing to store (presence, ignored events): no transaction at all
        result = IngestResult(ignored=len(parsed.ignored))
    if parsed.session_state:  # WAHA session.status, Evolution connection.update / qrcode.updated
        before = await record_session(channel, parsed.session_state, parsed.session_detail, parsed.qr)
        if parsed.session_state == "working" and before in ("down", "pairing", "starting"):
            _recover(request, channel)  # the session is back: fetch what it missed
    if parsed.typing:  # presence: shown live, never stored
        await receive_typing(channel, parsed.typing)
    if parsed.ignored:
        log.info("webhook %s/%s ignored: %s", provider, channel_id, "; ".join(parsed.ignored)[:500])
    if provider == "twilio":  # Twilio expects TwiML; an empty Response sends no reply.
        return Response("<Response></Response>", media_type="text/xml", status_code=200)
    return Response({"ok": True, **result.as_dict()}, status_code=200)


_RECOVERIES: set[asyncio.Task] = set()


def _recover(request: Request, channel: ChannelInfo) -> None:
    """Backfill in the background (the provider's webhook is answered at once)."""

    async def run() -> None:
        try:
            result = await backfill(channel, request.app.state.http)
            log.info("channel %s back to working: %d missed messages recovered", channel.id, result.recovered)
        except Exception:  # noqa: BLE001 - a background task must log, not vanish
            log.exception("backfill of channel %s failed", channel.id)

    task = asyncio.create_task(run(), name=f"backfill-{channel.id}")
    _RECOVERIES.add(task)
    task.add_done_callback(_RECOVERIES.discard)


@get("/webhooks/meta/{channel_id:int}")
async def meta_handshake(request: Request, channel_id: FromPath[int]) -> Response:
    try:
        channel = await _channel("meta", channel_id)
        challenge = META.verify_handshake(channel.webhook_secret, dict(request.query_params.items()))
    except WebhookRejected as exc:
        return _reject(exc.status, exc.reason)
    return Response(challenge, media_type="text/plain", status_code=200)


@get("/webhooks/media/{message_id:int}/{token:str}")
async def public_media(request: Request, message_id: FromPath[int], token: FromPath[str]) -> File:
    """Outbound files, fetched by the provider from the signed address the sender gave it."""
    settings = request.app.state.settings
    path, mime, name = await get_public_media(message_id, token, settings.secret_key, settings.data_dir)
    return File(path=path, filename=name, media_type=mime, headers={"X-Content-Type-Options": "nosniff"})


ROUTES = [receive, receive_meta, meta_handshake, public_media]
