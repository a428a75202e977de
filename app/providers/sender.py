"""The sender worker: claims pending outbound messages and sends them through their provider.

Runs in every app process (the claim uses ``SKIP LOCKED``, so processes never share a message).
Timeouts, network errors, 5xx and 429 are retried with exponential backoff, honouring
``Retry-After``; permanent errors mark the message failed with the provider's code and a human
reason. A provider outage therefore delays messages and loses none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path

import httpx

from app.domain import sql
from app.domain.channels import get_channel_for_webhook
from app.domain.contacts import opt_out_allows
from app.domain.errors import NotFound
from app.domain.media import (
    claim_media,
    get_media_file,
    media_failed,
    media_token,
    replicate_one,
    retry_media_later,
    store_media,
)
from app.domain.messages import attach_provider_id, resolve_alias_contacts
from app.domain.outbox import Claimed, claim_due, record_failure, record_retry
from app.providers.base import Media, Outgoing, SendError
from app.retry import backoff

log = logging.getLogger(__name__)

MAY_NOT_HAVE_BEEN_SENT = (
    "May not have been sent: the connection to {provider} was lost while sending, and {provider} "
    "cannot tell us. Check the customer's chat, then Resend if needed."
)
OPTED_OUT = (
    "The customer opted out of messages: only replies within 24 hours of their own message are sent (Contacts page)."
)


class Sender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        public_url: str = "",
        poll_interval: float = 0.5,
        batch: int = 10,
        retry_base: float = 1.0,
        retry_cap: float = 300.0,
        max_attempts: int = 20,
        lease: float = 120.0,
        data_dir: Path | None = None,
        media_max_bytes: int = 16_000_000,
        secret_key: str = "",
        media_max_attempts: int = 8,
        media_timeout: float = 60.0,
    ) -> None:
        self.secret_key = secret_key
        self.media_max_attempts = media_max_attempts
        self.media_timeout = media_timeout
        self.data_dir = data_dir
        self.media_max_bytes = media_max_bytes
        self.client = client
        self.public_url = public_url.rstrip("/")
        self.poll_interval = poll_interval
        self.batch = batch
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.max_attempts = max_attempts
        self.lease = lease
        self._next_alias_check = 0.0

    def backoff(self, attempts: int) -> float:
        return backoff(attempts, self.retry_base, self.retry_cap)

    async def run_once(self) -> int:
        claimed = await claim_due(self.batch, self.lease)
        if claimed:
            await asyncio.gather(*(self._send(m) for m in claimed))
        return len(claimed)

    async def fetch_media_once(self) -> bool:
        """Fetch one inbound file from its provider and keep it under DATA_DIR (False: none due)."""
        if self.data_dir is None:
            return False
        if not await sql.fetchval(
            "SELECT EXISTS (SELECT 1 FROM message WHERE direction = 'in' AND data ? 'media' "
            "AND NOT (data->'media' ? 'path') AND NOT (data->'media' ? 'error') AND next_attempt_at <= now())"
        ):
            return False
        async with sql.transaction():
            item = await claim_media()
            if item is None:
                return False
            channel = await get_channel_for_webhook(item.channel_id)
            if channel is None or channel.company_id != item.company_id:
                await media_failed(item, "The channel no longer exists.")
                return True
            media = Media(**{k: str(item.media.get(k) or "") for k in ("url", "media_id", "mime_type", "filename")})
            try:
                content, mime = await channel.impl.fetch_media(
                    self.client, channel.credentials, media, self.media_max_bytes, timeout=self.media_timeout
                )
            except SendError as exc:
                tries = int(item.media.get("tries") or 0) + 1
                if exc.permanent:
                    await media_failed(item, exc.reason)
                elif tries >= self.media_max_attempts:
                    await media_failed(item, f"Gave up after {tries} attempts: {exc.reason}")
                else:
                    await retry_media_later(item, exc.retry_after or min(3600.0, 30.0 * 2 ** (tries - 1)), tries)
                return True
            await store_media(self.data_dir, item, content, mime)
        return True

    async def resolve_aliases(self) -> int:
        """Every 30 s at most: ask providers for the phones behind contacts known only by an
        alias (WAHA's lids API), so that they merge with their phone contact."""
        now = time.monotonic()
        if now < self._next_alias_check:
            return 0
        self._next_alias_check = now + 30.0
        return await resolve_alias_contacts(self.client)

    async def run(self) -> None:
        while True:
            try:
                await self.resolve_aliases()
                busy = await self.run_once()
                busy += await self.fetch_media_once()
                if self.data_dir is not None:
                    busy += await replicate_one(self.data_dir)
                if busy:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the worker must outlive a bad moment (db restart)
                log.exception("sender loop failed; retrying")
            await asyncio.sleep(self.poll_interval)

    def _media_url(self, m: Claimed, media: dict) -> str:
        if media.get("path") and self.public_url and self.secret_key:
            return f"{self.public_url}/webhooks/media/{m.id}/{media_token(self.secret_key, m.id, media['path'])}"
        return media.get("url") or ""

    async def _file(self, m: Claimed) -> bytes | None:
        """Our copy of an outbound message's file (from the bucket if DATA_DIR lost it), or None."""
        try:
            path, _mime, _name = await get_media_file(m.company_id, m.id, self.data_dir)
        except NotFound:
            return None
        return path.read_bytes()

    def _outgoing(self, m: Claimed, provider: str) -> Outgoing:
        media = m.data.get("media") or {}
        return Outgoing(
            to_phone=m.to_phone or "",
            type=m.type if m.type != "template" else "text",
            text=m.text if m.type != "template" else "",
            media_url=self._media_url(m, media),
            media_mime=media.get("mime_type", ""),
            media_filename=media.get("filename", ""),
            reply_to=m.reply_to,
            template=m.data.get("template"),
            status_callback=f"{self.public_url}/webhooks/twilio/{m.channel_id}"
            if provider == "twilio" and self.public_url
            else "",
            reaction=m.text if m.type == "reaction" else "",
            reaction_to=str(m.data.get("reaction_to") or "") if m.type == "reaction" else "",
            reaction_to_ours=bool(m.data.get("reaction_to_ours")),
        )

    async def _reconciled(self, channel, m: Claimed, outgoing: Outgoing) -> bool:
        """An earlier attempt's outcome is unknown. True when settled here (found at the provider:
        sent; or not knowable: failed as "may not have been sent"); False when it is safe to send
        (the provider's recent messages show it never arrived)."""
        impl = channel.impl
        if not impl.lists_sent:
            await record_failure(m.company_id, m.id, "unknown", MAY_NOT_HAVE_BEEN_SENT.format(provider=impl.label))
            return True
        since = m.previous_attempt_at.timestamp() - 120  # the provider's clock may differ from ours
        try:
            found = await impl.find_sent(self.client, channel.credentials, outgoing, since)
        except SendError as exc:
            if m.attempts >= self.max_attempts:
                await record_failure(m.company_id, m.id, "unknown", MAY_NOT_HAVE_BEEN_SENT.format(provider=impl.label))
            else:
                await record_retry(m.id, self.backoff(m.attempts), exc.code, f"Checking: {exc.reason}", unknown=True)
            return True
        if found:
            await attach_provider_id(channel, m.id, found, "sent")
            return True
        return False

    async def _send(self, m: Claimed) -> None:
        called = False  # whether the provider may have been reached by this attempt
        try:
            channel = await get_channel_for_webhook(m.channel_id)
            if channel is None or channel.company_id != m.company_id:
                return
            if not channel.active:
                await record_failure(m.company_id, m.id, "disabled", "The channel is disabled: enable it, then resend.")
                return
            to_phone = m.to_phone or ""
            if not to_phone and m.to_alias:
                to_phone = await channel.impl.resolve_alias(self.client, channel.credentials, m.to_alias) or ""
            if not to_phone and not (m.to_alias and channel.impl.accepts_alias):
                await record_failure(m.company_id, m.id, "no-phone", "The contact has no phone number to write to.")
                return
            if m.opted_out and not opt_out_allows(m.type, m.last_inbound_at):
                await record_failure(m.company_id, m.id, "opted-out", OPTED_OUT)
                return
            outgoing = replace(self._outgoing(m, channel.provider), to_phone=to_phone, to_alias=m.to_alias)
            if m.previous_attempt_at is not None and await self._reconciled(channel, m, outgoing):
                return
            if channel.impl.uploads_media and (m.data.get("media") or {}).get("path") and self.data_dir is not None:
                outgoing = replace(outgoing, media_content=await self._file(m))
            called = True
            try:
                result = await channel.impl.send(self.client, channel.credentials, outgoing)
            except SendError as exc:
                if exc.permanent:
                    await record_failure(m.company_id, m.id, exc.code, exc.reason)
                elif exc.unknown:  # the provider may have it: the next claim reconciles first
                    await record_retry(m.id, self.backoff(1), exc.code, f"Checking: {exc.reason}", unknown=True)
                elif m.attempts >= self.max_attempts:
                    await record_failure(
                        m.company_id, m.id, exc.code, f"Gave up after {m.attempts} attempts: {exc.reason}"
                    )
                else:
                    delay = exc.retry_after if exc.retry_after is not None else self.backoff(m.attempts)
                    await record_retry(m.id, min(delay, 3600.0), exc.code, f"Retrying: {exc.reason}")
                return
            await attach_provider_id(channel, m.id, result.provider_message_id, result.status)
        except Exception:  # noqa: BLE001 - one bad message must not stop the others
            log.exception("sending message %s failed unexpectedly", m.id)
            try:  # after the provider call began, its outcome is unknown: the next claim reconciles first
                await record_retry(
                    m.id,
                    self.backoff(m.attempts),
                    "error",
                    "Retrying after an internal error.",
                    unknown=called or m.previous_attempt_at is not None,
                )
            except Exception:  # noqa: BLE001
                log.exception("could not record the retry of message %s", m.id)
