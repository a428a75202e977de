"""Channels: one WhatsApp number at one provider. Reads, and the admin actions on them.

Secrets (tokens, app secrets, the webhook secret) are stored as given and never echoed back in
full: :func:`masked` is what pages show, and an edit that leaves a secret field empty keeps the
stored value. Which credential fields exist comes from each provider module's ``fields``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.departments import departments_exist
from app.domain.errors import NotFound, ValidationError
from app.domain.phones import parse_phone
from app.domain.validation import Cleaner
from app.i18n import N_
from app.netpolicy import UrlRefused, check_url
from app.providers import PROVIDERS, get_provider
from app.providers.base import Provider
from app.realtime.bus_cache import BusCache

PROVIDER_CHOICES = list(PROVIDERS)


@dataclass
class ChannelInfo:
    id: int
    company_id: int
    name: str
    provider: str
    active: bool
    credentials: dict = field(default_factory=dict)
    webhook_secret: str = ""
    default_department_id: int | None = None
    created_at: datetime | None = None

    @property
    def impl(self) -> Provider:
        return PROVIDERS[self.provider]

    def webhook_path(self) -> str:
        return f"/webhooks/{self.provider}/{self.id}"


def _row(r: asyncpg.Record) -> ChannelInfo:
    creds = r["credentials"]
    return ChannelInfo(
        id=r["id"],
        company_id=r["company_id"],
        name=r["name"],
        provider=r["provider"],
        active=r["active"],
        credentials=json.loads(creds) if isinstance(creds, str) else dict(creds or {}),
        webhook_secret=r["webhook_secret"],
        default_department_id=r["default_department_id"],
        created_at=r["created_at"],
    )


def mask(value: str) -> str:
    """A secret as pages show it: its length hidden, only the last 4 characters (if long)."""
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 12 else "")


async def list_channels(company_id: int) -> list[ChannelInfo]:
    rows = await sql.fetch("SELECT * FROM channel WHERE company_id = $1 ORDER BY lower(name)", company_id)
    return [_row(r) for r in rows]


async def get_channel(company_id: int, channel_id: int) -> ChannelInfo:
    row = await sql.fetchrow("SELECT * FROM channel WHERE company_id = $1 AND id = $2", company_id, channel_id)
    if row is None:
        raise NotFound(N_("No such channel."))
    return _row(row)


async def get_channel_for_webhook(channel_id: int) -> ChannelInfo | None:
    """Webhooks arrive before we know the company: the channel id (and its secret) decide it."""
    if not 0 < channel_id < 2**31:
        return None
    row = await sql.fetchrow("SELECT * FROM channel WHERE id = $1", channel_id)
    return _row(row) if row else None


class WebhookChannels(BusCache[int, ChannelInfo]):
    """Per-process cache of ``get_channel_for_webhook``: a webhook's first query, saved. A
    database trigger (migration 0013) sends ``ChannelChanged`` for each updated or deleted
    channel row (app.realtime.bus_cache)."""

    def stale_keys(self, event: object) -> list[int] | None:
        from app.domain.events import ChannelChanged

        if not isinstance(event, ChannelChanged):
            return []
        return [event.channel_id] if event.channel_id else None  # 0: the table was truncated

    async def get(self, channel_id: int) -> ChannelInfo | None:  # type: ignore[override]
        return await super().get(channel_id, lambda: get_channel_for_webhook(channel_id))


WEBHOOK_CHANNELS = WebhookChannels()


async def _clean(company_id: int, data: dict, existing: ChannelInfo | None) -> dict:
    c = Cleaner(data)
    provider_name = existing.provider if existing else c.choice("provider", PROVIDER_CHOICES)
    provider = get_provider(provider_name) or PROVIDERS["sandbox"]
    values: dict = {"name": c.text("name", max_len=120), "provider": provider_name}
    dep_raw = str(data.get("default_department_id") or "").strip()
    values["default_department_id"] = None
    if dep_raw:
        dep_id = c.integer("default_department_id", low=1, high=2**31 - 1)
        if "default_department_id" not in c.errors:
            if await departments_exist(company_id, [dep_id]):
                values["default_department_id"] = dep_id
            else:
                c.fail("default_department_id", N_("Choose from the list."))
    creds: dict = {}
    old = existing.credentials if existing else {}
    for f in provider.fields:
        key = f"cred_{f.name}"
        raw = c.text(key, max_len=2000, required=False)
        if f.secret and not raw:
            raw = old.get(f.name, "")  # empty secret field: keep what is stored
        if not raw:
            raw = f.default
        if f.required and not raw:
            c.fail(key, N_("This field is required."))
        if f.name.endswith(("base", "base_url")) and raw:
            try:
                raw = check_url(raw)
            except UrlRefused as exc:
                c.fail(key, str(exc))
        if f.name == "from_number" and raw:
            parsed = parse_phone(raw)  # a sender number is always international
            if parsed is None:
                c.fail(key, N_("Enter the number in international form, e.g. +14155238886."))
            raw = parsed or raw
        creds[f.name] = raw
    values["credentials"] = creds
    secret = c.text("webhook_secret", max_len=128, required=False)
    if secret and len(secret) < 16:
        c.fail("webhook_secret", N_("Use at least 16 characters (or leave empty to keep / generate one)."))
    values["webhook_secret"] = secret or (existing.webhook_secret if existing else secrets.token_urlsafe(24))
    c.raise_if_errors()
    return values


def _audited(values: dict, provider_name: str) -> dict:
    """What the audit shows of a channel: names and plain settings; secret credentials and the
    webhook secret only as a fingerprint-free "set", so a change shows without the value."""
    provider = get_provider(provider_name) or PROVIDERS["sandbox"]
    secret_fields = {f.name for f in provider.fields if f.secret}
    shown = {
        "name": values["name"],
        "provider": provider_name,
        "default_department_id": values["default_department_id"],
    }
    for name, value in (values.get("credentials") or {}).items():
        shown[f"credential.{name}"] = ("set" if value else "empty") if name in secret_fields else value
    return shown


def _secret_changes(old: ChannelInfo, values: dict) -> tuple[dict, dict]:
    """Secrets that changed, as "changed" markers (never the values)."""
    provider = get_provider(old.provider) or PROVIDERS["sandbox"]
    before, after = {}, {}
    for f in provider.fields:
        if f.secret and (old.credentials or {}).get(f.name, "") != values["credentials"].get(f.name, ""):
            before[f"credential.{f.name}"], after[f"credential.{f.name}"] = "previous value", "changed"
    if old.webhook_secret != values["webhook_secret"]:
        before["webhook_secret"], after["webhook_secret"] = "previous value", "changed"
    return before, after


async def create_channel(company_id: int, data: dict) -> ChannelInfo:
    values = await _clean(company_id, data, None)
    try:
        async with sql.transaction():
            row = await sql.fetchone(
                """INSERT INTO channel (company_id, name, provider, credentials, webhook_secret, default_department_id)
                   VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING *""",
                company_id,
                values["name"],
                values["provider"],
                json.dumps(values["credentials"]),
                values["webhook_secret"],
                values["default_department_id"],
            )
            await record_audit(
                company_id,
                "channel.created",
                target_type="channel",
                target_id=row["id"],
                target_label=values["name"],
                after=_audited(values, values["provider"]),
            )
    except asyncpg.UniqueViolationError as exc:
        raise ValidationError({"name": N_("Another channel already uses this name.")}) from exc
    return _row(row)


async def update_channel(company_id: int, channel_id: int, data: dict) -> ChannelInfo:
    existing = await get_channel(company_id, channel_id)
    values = await _clean(company_id, data, existing)
    try:
        async with sql.transaction():
            await sql.execute(
                """UPDATE channel SET name = $3, credentials = $4::jsonb, webhook_secret = $5, default_department_id = $6
                   WHERE company_id = $1 AND id = $2""",
                company_id,
                channel_id,
                values["name"],
                json.dumps(values["credentials"]),
                values["webhook_secret"],
                values["default_department_id"],
            )
            old = {
                "name": existing.name,
                "default_department_id": existing.default_department_id,
                "credentials": existing.credentials,
            }
            before, after = _audited(old, existing.provider), _audited(values, existing.provider)
            secrets_before, secrets_after = _secret_changes(existing, values)
            before, after = {**before, **secrets_before}, {**after, **secrets_after}
            if {k: v for k, v in before.items() if after.get(k) != v}:
                await record_audit(
                    company_id,
                    "channel.updated",
                    target_type="channel",
                    target_id=channel_id,
                    target_label=values["name"],
                    before=before,
                    after=after,
                )
    except asyncpg.UniqueViolationError as exc:
        raise ValidationError({"name": N_("Another channel already uses this name.")}) from exc
    WEBHOOK_CHANNELS.forget([channel_id])  # at once, before its trigger's NOTIFY arrives
    return await get_channel(company_id, channel_id)


async def set_channel_active(company_id: int, channel_id: int, active: bool) -> ChannelInfo:
    """Disable (webhooks refused, nothing sent) or enable a channel. History stays."""
    channel = await get_channel(company_id, channel_id)
    async with sql.transaction():
        await sql.execute(
            "UPDATE channel SET active = $3 WHERE company_id = $1 AND id = $2", company_id, channel_id, active
        )
        await record_audit(
            company_id,
            "channel.enabled" if active else "channel.disabled",
            target_type="channel",
            target_id=channel_id,
            target_label=channel.name,
            before={"active": channel.active},
            after={"active": active},
        )
    WEBHOOK_CHANNELS.forget([channel_id])  # at once, before its trigger's NOTIFY arrives
    return await get_channel(company_id, channel_id)


async def ensure_sandbox_channel(company_id: int, name: str = "Sandbox") -> ChannelInfo:
    """The company's Sandbox channel, created if missing (demo company, first run)."""
    row = await sql.fetchrow(
        "SELECT * FROM channel WHERE company_id = $1 AND provider = 'sandbox' ORDER BY id LIMIT 1", company_id
    )
    if row:
        return _row(row)
    return await create_channel(company_id, {"name": name, "provider": "sandbox"})
