"""API keys for integrators: created with scopes, shown once, looked up by prefix, revoked.

A key reads ``sbk_<prefix>_<secret>``: the prefix (8 random characters) finds the row, the
whole key is compared by its SHA-256. The secret is 32 random bytes, so a slow password hash
would add nothing but latency; the database never holds the key itself.

Rate limits (``hit_rate_limit``) are fixed one-minute windows counted in PostgreSQL, so that
every process shares them. What does not live here: the HTTP side (``app.api.auth``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound, Throttled
from app.domain.validation import Cleaner
from app.i18n import N_

SCOPES = ("read", "write", "orders", "admin", "pbx:read", "pbx:write", "calls")
SCOPE_HELP = {
    "read": N_("Read contacts, conversations, messages, departments, users and metrics."),
    "write": N_("Send messages; assign, transfer and resolve conversations."),
    "orders": N_("Create customers and orders to be confirmed over WhatsApp; read orders."),
    "admin": N_("Manage users, departments and channels."),
    "pbx:read": N_("Read the PBX's extensions, trunks and queues with their live status."),
    "pbx:write": N_("Create, change and delete the PBX's extensions, trunks and queues."),
    "calls": N_("Read live calls and the call history; hang up and transfer calls."),
}
PER_PAGE = 25
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class ApiKey:
    id: int
    company_id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    rate_limit: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def display(self) -> str:
        return f"sbk_{self.prefix}_…"


def _row(r: asyncpg.Record) -> ApiKey:
    return ApiKey(
        r["id"],
        r["company_id"],
        r["name"],
        r["prefix"],
        tuple(r["scopes"]),
        r["rate_limit"],
        r["created_at"],
        r["last_used_at"],
        r["revoked_at"],
    )


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _clean(data: dict) -> tuple[str, list[str], int | None]:
    c = Cleaner(data)
    name = c.text("name", max_len=100)
    raw = data.get("scopes") or []
    scopes = [raw] if isinstance(raw, str) else list(raw)
    scopes = [s for s in SCOPES if s in scopes]
    if not scopes:
        c.fail("scopes", N_("Choose at least one permission."))
    rate = c.integer("rate_limit", low=1, high=100_000, default=0) or None
    c.raise_if_errors()
    return name, scopes, rate


async def create_api_key(company_id: int, data: dict, *, user_id: int | None) -> tuple[ApiKey, str]:
    """A new key; returns the row and the full key, which is never shown again."""
    name, scopes, rate = _clean(data)
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    key = f"sbk_{prefix}_{secrets.token_urlsafe(32)}"
    async with sql.transaction():
        row = await sql.fetchone(
            """INSERT INTO api_key (company_id, name, prefix, secret_hash, scopes, rate_limit, created_by_user_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
            company_id,
            name,
            prefix,
            hash_key(key),
            scopes,
            rate,
            user_id,
        )
        await record_audit(
            company_id,
            "api_key.created",
            target_type="api_key",
            target_id=row["id"],
            target_label=name,
            after={"name": name, "scopes": scopes, "prefix": prefix},
        )
    return _row(row), key


async def revoke_api_key(company_id: int, key_id: int) -> ApiKey:
    async with sql.transaction():
        row = await sql.fetchrow(
            """UPDATE api_key SET revoked_at = coalesce(revoked_at, now())
               WHERE company_id = $1 AND id = $2 RETURNING *""",
            company_id,
            key_id,
        )
        if row is None:
            raise NotFound(N_("No such API key."))
        await record_audit(
            company_id,
            "api_key.revoked",
            target_type="api_key",
            target_id=key_id,
            target_label=row["name"],
            before={"revoked": False},
            after={"revoked": True},
        )
    return _row(row)


async def list_api_keys(company_id: int, page: int = 1) -> tuple[list[ApiKey], int]:
    """One page of the company's keys (newest first) and the number of pages."""
    total = await sql.fetchval("SELECT count(*) FROM api_key WHERE company_id = $1", company_id)
    pages = sql.page_count(total, PER_PAGE)
    page = min(max(page, 1), pages)
    rows = await sql.fetch(
        "SELECT * FROM api_key WHERE company_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        company_id,
        PER_PAGE,
        (page - 1) * PER_PAGE,
    )
    return [_row(r) for r in rows], pages


def _parse(key: str) -> str | None:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "sbk" or len(parts[1]) != 8 or len(key) > 200:
        return None
    return parts[1]


async def find_api_key(key: str) -> ApiKey | None:
    """The live (not revoked) key matching ``key`` exactly, else None."""
    prefix = _parse(key.strip())
    if prefix is None:
        return None
    row = await sql.fetchrow("SELECT * FROM api_key WHERE prefix = $1 AND revoked_at IS NULL", prefix)
    if row is None or not hmac.compare_digest(row["secret_hash"], hash_key(key.strip())):
        return None
    return _row(row)


async def hit_rate_limit(key: ApiKey, default_limit: int) -> None:
    """Count one request in the key's current minute; Throttled past its limit.

    One statement, atomic under concurrency (``ON CONFLICT DO UPDATE`` serialises the
    increments of one row), so the limit holds across any number of processes."""
    limit = key.rate_limit or default_limit
    row = await sql.fetchone(
        """WITH w AS (SELECT date_trunc('minute', now()) AS start)
           INSERT INTO api_rate (key_id, window_start, hits) SELECT $1, w.start, 1 FROM w
           ON CONFLICT (key_id, window_start) DO UPDATE SET hits = api_rate.hits + 1
           RETURNING hits, 60 - extract(epoch FROM now() - window_start)::int AS left_s""",
        key.id,
    )
    if row["hits"] == 1:
        # A new window: forget the old ones and note the key's use (once a minute is enough).
        await sql.execute(
            "DELETE FROM api_rate WHERE key_id = $1 AND window_start < date_trunc('minute', now())", key.id
        )
        await sql.execute("UPDATE api_key SET last_used_at = now() WHERE id = $1", key.id)
    if row["hits"] > limit:
        raise Throttled(N_("Too many requests for this API key: wait before trying again."), max(1, row["left_s"]))
