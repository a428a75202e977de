"""The built-in Sandbox provider: a pretend WhatsApp number played from the simulator page.

Nothing leaves the process: "sending" hands back a fresh id and the message counts as delivered
at once, so a newcomer sees the whole pipeline (outbox, worker, statuses, ticks) with no account.
Inbound messages come from the simulator page, through the same ingestion action as webhooks.
"""

from __future__ import annotations

import uuid

import httpx

from app.i18n import N_
from app.providers.base import Outgoing, Parsed, Provider, SendResult, WebhookRejected, WebhookRequest


class SandboxProvider(Provider):
    name = "sandbox"
    label = "Sandbox (built-in simulator)"
    text_limit = 4096
    fields = ()
    setup_help = N_("Nothing to configure: open the Simulator page and write as a customer.")
    # No request: the simulator page shows the agent's "typing…" (app.domain.typing_indicators).
    supports_typing = True
    typing_stops = True

    def verify(self, credentials: dict, webhook_secret: str, request: WebhookRequest) -> None:
        raise WebhookRejected(404, "Sandbox channels take no webhooks: use the simulator page.")

    def parse(self, request: WebhookRequest) -> Parsed:  # pragma: no cover - verify refuses first
        raise WebhookRejected(404, "Sandbox channels take no webhooks.")

    async def send(self, client: httpx.AsyncClient, credentials: dict, out: Outgoing) -> SendResult:
        return SendResult(f"sbx-{uuid.uuid4().hex}", "delivered")

    async def check_connection(self, client: httpx.AsyncClient, credentials: dict) -> tuple[bool, str]:
        return True, "The sandbox is built in and always connected."


PROVIDER = SandboxProvider()
