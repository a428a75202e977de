"""The outbound webhook worker: POSTs due deliveries to integrators, signed, with retries.

Runs beside the message sender in every process that sends (``SENDER_ENABLED``); deliveries
are claimed with ``SKIP LOCKED`` (``app.domain.integrations.claim_due``), so processes never
share one. A 2xx answer is delivered; anything else (network error, timeout, 3xx, 4xx, 5xx)
is tried again after 5 s, 10 s, 20 s … up to an hour, until ``WEBHOOK_MAX_ATTEMPTS``.
Receivers should de-duplicate on ``X-Switchboard-Delivery``: a lease that runs out (a worker
killed mid-request) may send a delivery twice.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from app import __version__, netpolicy
from app.domain.integrations import SIGNATURE_HEADER, Due, claim_due, record_attempt_failed, record_delivered, sign
from app.retry import backoff

log = logging.getLogger(__name__)

REFUSED = "Not sent: the address is on a loopback, private or reserved network this install does not allow."


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        poll_interval: float = 0.5,
        max_attempts: int = 12,
        retry_base: float = 5.0,
        retry_cap: float = 3600.0,
        timeout: float = 10.0,
    ) -> None:
        self.client = client
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.timeout = timeout

    def backoff(self, attempts: int) -> float:
        return backoff(attempts, self.retry_base, self.retry_cap)

    async def run_once(self) -> int:
        due = await claim_due(10, lease_seconds=self.timeout * 3)
        if due:
            await asyncio.gather(*(self._deliver(d) for d in due))
        return len(due)

    async def run(self) -> None:
        while True:
            try:
                if await self.run_once():
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the worker must outlive a bad moment
                log.exception("webhook worker failed; retrying")
            await asyncio.sleep(self.poll_interval)

    async def _deliver(self, d: Due) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Switchboard-Webhooks/{__version__}",
            "X-Switchboard-Event": d.event,
            "X-Switchboard-Delivery": str(d.id),
            SIGNATURE_HEADER: sign(d.secret, d.body),
        }
        status: int | None = None
        try:
            response = await self.client.post(
                d.url, content=d.body, headers=headers, timeout=self.timeout, follow_redirects=False
            )
            status = response.status_code
            if 200 <= status < 300:
                await record_delivered(d.id, status)
                return
            error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            # Only the kind of failure: the receiver's address is the admin's, and a detailed
            # socket error per address and port would make the delivery log a port scanner.
            if netpolicy.was_refused(exc):
                await record_attempt_failed(d.id, None, REFUSED, None)
                return
            error = (
                "timed out" if isinstance(exc, httpx.TimeoutException) else f"could not connect ({type(exc).__name__})"
            )
        retry = self.backoff(d.attempts) if d.attempts < self.max_attempts else None
        log.info(
            "webhook delivery %s to %s failed (%s); %s",
            d.id,
            d.url,
            error,
            f"retry in {retry:.0f}s" if retry is not None else "giving up",
        )
        await record_attempt_failed(d.id, status, error, retry)
