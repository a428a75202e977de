"""Outbound webhooks: the integrator's endpoints, the delivery table, signing, claiming, replay.

A change worth telling (an order created or decided, a conversation opened, queued, assigned
or resolved) queues one ``webhook_delivery`` row per subscribed endpoint *inside the change's
own transaction* (``queue_webhook`` here for orders; database triggers for conversations, see
migration ``sb_0010``). The worker (``app.providers.webhooks``) claims due rows with
``FOR UPDATE SKIP LOCKED`` as a lease, POSTs them signed, and records the answer: 2xx is
delivered, anything else is retried with backoff until the attempts run out (failed). Admins
replay any delivery by hand.

Signature: header ``X-Switchboard-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256 with the endpoint's secret over ``"<t>.<raw body>"`` (``sign`` / ``verify``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound, ValidationError
from app.domain.validation import Cleaner
from app.i18n import N_
from app.netpolicy import UrlRefused, check_url

EVENTS = (
    "order.created",
    "order.confirmed",
    "order.cancelled",
    "order.needs_agent",
    "conversation.opened",
    "conversation.queued",
    "conversation.assigned",
    "conversation.resolved",
)
SIGNATURE_HEADER = "X-Switchboard-Signature"
PER_PAGE = 50
# A receiver's clock may differ a little; older signatures are refused by ``verify``.
TOLERANCE_SECONDS = 300


# Signing ----------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, body: bytes, header: str, now: float | None = None) -> bool:
    """What a receiver does (documented in the README; the tests use it as the receiver)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - t) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


# Endpoints --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    id: int
    company_id: int
    url: str
    description: str
    events: tuple[str, ...]
    active: bool
    created_at: datetime
    secret: str = ""

    @property
    def masked_secret(self) -> str:
        return self.secret[:8] + "…" if self.secret else ""


def _endpoint(r: asyncpg.Record) -> Endpoint:
    return Endpoint(
        r["id"],
        r["company_id"],
        r["url"],
        r["description"],
        tuple(r["events"]),
        r["active"],
        r["created_at"],
        r["secret"],
    )


def _clean(data: dict) -> tuple[str, str, list[str]]:
    c = Cleaner(data)
    url = c.text("url", max_len=2000)
    if url and "url" not in c.errors:
        try:
            url = check_url(url)
        except UrlRefused as exc:
            c.fail("url", str(exc))
    description = c.text("description", max_len=200, required=False)
    raw = data.get("events") or []
    chosen = [raw] if isinstance(raw, str) else list(raw)
    events = [e for e in EVENTS if e in chosen]
    if not events:
        c.fail("events", N_("Choose at least one event."))
    c.raise_if_errors()
    return url, description, events


async def create_endpoint(company_id: int, data: dict) -> Endpoint:
    """A new endpoint with a fresh secret (returned in the row: show it once)."""
    url, description, events = _clean(data)
    secret = "whsec_" + secrets.token_urlsafe(32)
    async with sql.transaction():
        row = await sql.fetchone(
            """INSERT INTO webhook_endpoint (company_id, url, description, secret, events)
               VALUES ($1, $2, $3, $4, $5) RETURNING *""",
            company_id,
            url,
            description,
            secret,
            events,
        )
        await record_audit(
            company_id,
            "webhook.created",
            target_type="webhook_endpoint",
            target_id=row["id"],
            target_label=url,
            after={"url": url, "events": events},
        )
    return _endpoint(row)


async def set_endpoint_active(company_id: int, endpoint_id: int, active: bool) -> Endpoint:
    async with sql.transaction():
        row = await sql.fetchrow(
            "UPDATE webhook_endpoint SET active = $3 WHERE company_id = $1 AND id = $2 RETURNING *",
            company_id,
            endpoint_id,
            active,
        )
        if row is None:
            raise NotFound(N_("No such webhook endpoint."))
        await record_audit(
            company_id,
            "webhook.enabled" if active else "webhook.disabled",
            target_type="webhook_endpoint",
            target_id=endpoint_id,
            target_label=row["url"],
        )
    return _endpoint(row)


async def delete_endpoint(company_id: int, endpoint_id: int) -> None:
    async with sql.transaction():
        url = await sql.fetchval(
            "DELETE FROM webhook_endpoint WHERE company_id = $1 AND id = $2 RETURNING url", company_id, endpoint_id
        )
        if url is None:
            raise NotFound(N_("No such webhook endpoint."))
        await record_audit(
            company_id, "webhook.deleted", target_type="webhook_endpoint", target_id=endpoint_id, target_label=url
        )


async def list_endpoints(company_id: int) -> list[Endpoint]:
    rows = await sql.fetch("SELECT * FROM webhook_endpoint WHERE company_id = $1 ORDER BY id", company_id)
    return [_endpoint(r) for r in rows]


# Deliveries -------------------------------------------------------------------------------


async def queue_webhook(company_id: int, event: str, data: dict) -> None:
    """Queue ``event`` for every subscribed endpoint; call it inside the change's transaction."""
    assert event in EVENTS, event
    await sql.execute("SELECT sb_queue_webhook($1, $2, $3::jsonb)", company_id, event, json.dumps(data, default=str))


@dataclass(frozen=True)
class Due:
    id: int
    company_id: int
    event: str
    body: bytes
    attempts: int
    url: str
    secret: str


async def claim_due(limit: int = 10, lease_seconds: float = 60.0) -> list[Due]:
    """Take up to ``limit`` due deliveries for ``lease_seconds`` (a crashed worker's lease runs out)."""
    if not await sql.fetchval(
        "SELECT EXISTS (SELECT 1 FROM webhook_delivery WHERE status = 'pending' AND next_attempt_at <= now())"
    ):
        return []
    async with sql.transaction():
        rows = await sql.fetch(
            """WITH due AS (
                   SELECT d.id FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id
                   WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                     AND e.active AND e.url ~ '^https?://'  -- a paused endpoint's deliveries wait
                   ORDER BY d.next_attempt_at, d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED)
               UPDATE webhook_delivery d SET attempts = d.attempts + 1,
                                             next_attempt_at = now() + make_interval(secs => $2)
               FROM due, webhook_endpoint e
               WHERE d.id = due.id AND e.id = d.endpoint_id
               RETURNING d.id, d.company_id, d.event, d.payload, d.attempts, e.url, e.secret""",
            limit,
            float(lease_seconds),
        )
    result = []
    for r in rows:
        payload = json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]
        payload = {"id": r["id"], **(payload if isinstance(payload, dict) else {"data": payload})}
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        result.append(Due(r["id"], r["company_id"], r["event"], body, r["attempts"], r["url"], r["secret"]))
    return result


async def record_delivered(delivery_id: int, status: int) -> None:
    await sql.execute(
        """UPDATE webhook_delivery SET status = 'delivered', response_status = $2, last_error = '', delivered_at = now()
           WHERE id = $1 AND status = 'pending'""",
        delivery_id,
        status,
    )


async def record_attempt_failed(delivery_id: int, status: int | None, error: str, retry_in: float | None) -> None:
    """A failed attempt: tried again in ``retry_in`` seconds, or failed for good (None)."""
    await sql.execute(
        """UPDATE webhook_delivery SET response_status = $2, last_error = $3,
                  status = CASE WHEN $4::float8 IS NULL THEN 'failed' ELSE 'pending' END,
                  next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at
                                         ELSE now() + make_interval(secs => $4::float8) END
           WHERE id = $1 AND status = 'pending'""",
        delivery_id,
        status,
        error[:500],
        retry_in,
    )


async def replay_delivery(company_id: int, delivery_id: int) -> None:
    """Send a delivery again now (an admin's button), whatever its state."""
    async with sql.transaction():
        row = await sql.fetchrow(
            """UPDATE webhook_delivery SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = ''
               WHERE company_id = $1 AND id = $2 RETURNING id, event""",
            company_id,
            delivery_id,
        )
        if row is None:
            raise NotFound(N_("No such delivery."))
        await record_audit(
            company_id,
            "webhook.replayed",
            target_type="webhook_delivery",
            target_id=delivery_id,
            target_label=row["event"],
        )


@dataclass(frozen=True)
class DeliveryPage:
    items: list
    next_cursor: int | None


async def list_deliveries(company_id: int, *, status: str = "", before: int | None = None) -> DeliveryPage:
    if status and status not in ("pending", "delivered", "failed"):
        raise ValidationError({"status": N_("Choose one of the options.")})
    rows = await sql.fetch(
        """SELECT d.id, d.event, d.status, d.attempts, d.response_status, d.last_error, d.created_at, d.delivered_at,
                  d.next_attempt_at, d.payload, e.url
           FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id
           WHERE d.company_id = $1 AND ($2 = '' OR d.status = $2) AND ($3::bigint IS NULL OR d.id < $3)
           ORDER BY d.id DESC LIMIT $4""",
        company_id,
        status,
        before,
        PER_PAGE + 1,
    )
    items = [dict(r) for r in rows[:PER_PAGE]]
    for item in items:
        if isinstance(item["payload"], str):
            item["payload"] = json.loads(item["payload"])
    return DeliveryPage(items, items[-1]["id"] if len(rows) > PER_PAGE else None)
