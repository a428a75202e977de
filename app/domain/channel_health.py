"""Channel health: is the channel working, does it need pairing, when did it last receive and send,
what went wrong last. No more silent channels.

The provider's word on the session arrives by webhook (WAHA ``session.status``, Evolution
``connection.update`` / ``qrcode.updated``: ``record_session``) or is asked for from the channel
page (``refresh``: WAHA ``GET /api/sessions/{session}``, Whapi ``/health``, Meta's phone number
status and quality rating, Evolution's connection state). A pairing QR code is kept as its raw
value and drawn as SVG on the server (``qr_svg``, with segno).

"Silent far longer than usual": a channel whose last inbound message is older than ten times its
usual gap between inbound messages (their average spacing over the last seven days, at least
twenty of them), and at least an hour, raises a wallboard alert; so does a channel that is down or needs pairing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from app.domain import sql
from app.domain.channels import ChannelInfo
from app.providers.base import SESSION_STATES, SendError

HISTORY = timedelta(days=7)
SILENCE_FACTOR = 10
SILENCE_MIN = timedelta(hours=1)
MIN_TRAFFIC = 20  # inbound messages over HISTORY before "usual traffic" means anything


async def record_session(channel: ChannelInfo, state: str, detail: str = "", qr: str = "") -> str:
    """What the provider says about the session now (the QR code is kept only while pairing);
    returns the state before ('' when never known)."""
    if state not in SESSION_STATES:
        return ""
    qr = qr if state == "pairing" else ""
    before = await sql.fetchval("SELECT state FROM channel_health WHERE channel_id = $1", channel.id) or ""
    _ALERTS.pop(channel.company_id, None)
    await sql.execute(
        """INSERT INTO channel_health (channel_id, company_id, state, state_detail, state_at, qr, qr_at)
           VALUES ($1, $2, $3, $4, now(), $5, CASE WHEN $5 <> '' THEN now() END)
           ON CONFLICT (channel_id) DO UPDATE
           SET state = excluded.state, state_detail = excluded.state_detail, state_at = now(),
               qr = CASE WHEN excluded.state <> 'pairing' THEN ''
                         WHEN excluded.qr <> '' THEN excluded.qr ELSE channel_health.qr END,
               qr_at = CASE WHEN excluded.state <> 'pairing' THEN NULL
                            WHEN excluded.qr <> '' THEN now() ELSE channel_health.qr_at END""",
        channel.id,
        channel.company_id,
        state,
        detail[:200],
        qr[:4000],
    )
    return before


async def record_error(channel: ChannelInfo, reason: str) -> None:
    await sql.execute(
        """INSERT INTO channel_health (channel_id, company_id, last_error, last_error_at) VALUES ($1, $2, $3, now())
           ON CONFLICT (channel_id) DO UPDATE SET last_error = excluded.last_error, last_error_at = now()""",
        channel.id,
        channel.company_id,
        reason[:1000],
    )


async def refresh(channel: ChannelInfo, client: httpx.AsyncClient, timeout: float = 5.0) -> None:
    """Ask the provider for the session's state (and QR code) now, and record it."""
    impl = channel.impl
    if channel.provider == "sandbox":
        await record_session(channel, "working", "sandbox")
        return
    try:
        state, detail, qr = await _with_timeout(impl.session_state(client, channel.credentials), timeout)
    except (SendError, httpx.HTTPError, TimeoutError) as exc:
        reason = getattr(exc, "reason", "") or f"Could not reach {impl.label}: {exc.__class__.__name__}."
        await record_error(channel, reason)
        await record_session(channel, "down", reason[:200])
        return
    await record_session(channel, state, detail, qr)
    await sql.execute("UPDATE channel_health SET checked_at = now() WHERE channel_id = $1", channel.id)


async def _with_timeout(coro, timeout: float):
    import asyncio

    return await asyncio.wait_for(coro, timeout)


async def get_health(company_id: int, channel_id: int, now: datetime | None = None) -> dict:
    """Everything the channel page shows about the channel's health."""
    now = now or datetime.now(UTC)
    row = await sql.fetchrow(
        """SELECT h.* FROM channel_health h JOIN channel c ON c.id = h.channel_id
           WHERE c.company_id = $1 AND c.id = $2""",
        company_id,
        channel_id,
    )
    health = (
        dict(row)
        if row
        else {
            "state": "",
            "state_detail": "",
            "state_at": None,
            "qr": "",
            "qr_at": None,
            "last_error": "",
            "last_error_at": None,
            "checked_at": None,
        }
    )
    traffic = await sql.fetchrow(
        """SELECT (SELECT max(created_at) FROM message WHERE channel_id = $2 AND direction = 'in') AS last_received_at,
                  (SELECT count(*) FROM message WHERE channel_id = $2 AND direction = 'in' AND created_at > $3) AS recent_in,
                  (SELECT min(created_at) FROM message WHERE channel_id = $2 AND direction = 'in' AND created_at > $3)
                      AS first_in,
                  (SELECT sent_at FROM message WHERE channel_id = $2 AND direction = 'out' AND sent_at IS NOT NULL
                   ORDER BY id DESC LIMIT 1) AS last_sent_at,
                  (SELECT row(error_reason, created_at) FROM message
                   WHERE channel_id = $2 AND direction = 'out' AND status = 'failed' ORDER BY id DESC LIMIT 1) AS failed
           FROM channel WHERE company_id = $1 AND id = $2""",
        company_id,
        channel_id,
        now - HISTORY,
    )
    health["last_received_at"] = traffic["last_received_at"] if traffic else None
    health["last_sent_at"] = traffic["last_sent_at"] if traffic else None
    failed = traffic["failed"] if traffic else None
    if failed and (health["last_error_at"] is None or failed[1] > health["last_error_at"]):
        health["last_error"], health["last_error_at"] = failed[0], failed[1]
    health["silent"] = bool(traffic) and silent(
        traffic["last_received_at"], traffic["first_in"], traffic["recent_in"], now
    )
    return health


def silent(last_in: datetime | None, first_in: datetime | None, recent_in: int, now: datetime) -> bool:
    """Whether the channel has been quiet far longer than its usual traffic (see module doc)."""
    if last_in is None or first_in is None or recent_in < MIN_TRAFFIC:
        return False
    usual_gap = (last_in - first_in) / (recent_in - 1)
    return now - last_in > max(SILENCE_MIN, usual_gap * SILENCE_FACTOR)


# The wallboard recomputes its alerts on every change (every message); channel health moves slowly,
# so each process reads it at most every ALERTS_TTL seconds per company (a state recorded here
# clears the company's entry at once).
ALERTS_TTL = 15.0
_ALERTS: dict[int, tuple[float, list[dict]]] = {}


async def channel_alerts(company_id: int, now: datetime | None = None) -> list[dict]:
    """Wallboard alerts: active channels that are down, need pairing, or are silent (cached
    ALERTS_TTL seconds when asked for the present)."""
    if now is None:
        cached = _ALERTS.get(company_id)
        if cached and time.monotonic() - cached[0] < ALERTS_TTL:
            return cached[1]
        alerts = await _channel_alerts(company_id, datetime.now(UTC))
        _ALERTS[company_id] = (time.monotonic(), alerts)
        return alerts
    return await _channel_alerts(company_id, now)


async def _channel_alerts(company_id: int, now: datetime) -> list[dict]:
    rows = await sql.fetch(
        """SELECT c.id, c.name, coalesce(h.state, '') AS state, coalesce(h.state_detail, '') AS detail,
                  (SELECT max(created_at) FROM message m WHERE m.channel_id = c.id AND m.direction = 'in') AS last_in,
                  (SELECT count(*) FROM message m WHERE m.channel_id = c.id AND m.direction = 'in' AND m.created_at > $2)
                      AS recent_in,
                  (SELECT min(created_at) FROM message m WHERE m.channel_id = c.id AND m.direction = 'in' AND m.created_at > $2)
                      AS first_in
           FROM channel c LEFT JOIN channel_health h ON h.channel_id = c.id
           WHERE c.company_id = $1 AND c.active AND c.provider <> 'sandbox' ORDER BY c.name, c.id""",
        company_id,
        now - HISTORY,
    )
    alerts = []
    for r in rows:
        if r["state"] in ("down", "pairing"):
            alerts.append(
                {
                    "kind": "channel",
                    "channel_id": r["id"],
                    "channel": r["name"],
                    "state": r["state"],
                    "detail": r["detail"],
                }
            )
        elif silent(r["last_in"], r["first_in"], r["recent_in"], now):
            alerts.append(
                {
                    "kind": "channel",
                    "channel_id": r["id"],
                    "channel": r["name"],
                    "state": "silent",
                    "seconds": int((now - r["last_in"]).total_seconds()),
                }
            )
    return alerts


def qr_svg(value: str) -> str:
    """The QR code of ``value`` as inline SVG markup (segno), for the channel page."""
    import segno

    return segno.make(value, error="l", micro=False).svg_inline(scale=5, border=2, dark="#111", light="#fff")
