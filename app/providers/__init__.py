"""WhatsApp providers: one module per provider behind the contract in ``base``."""

from __future__ import annotations

from app.providers import custom, evolution, meta, sandbox, twilio, waha, whapi
from app.providers.base import Provider

PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        whapi.PROVIDER,
        waha.PROVIDER,
        evolution.PROVIDER,
        meta.PROVIDER,
        twilio.PROVIDER,
        custom.PROVIDER,
        sandbox.PROVIDER,
    )
}


def get_provider(name: str) -> Provider | None:
    return PROVIDERS.get(name)
