"""Automatic messages to customers (seeds 000, 002, 003): the bot's welcome menu, its
re-ask and returning-customer question, take-over, place in line, closing.

Each company may edit the texts or turn them off; until it does, the defaults below apply.
Placeholders: ``{agent}`` (the agent's name) in the take-over text, ``{position}`` (place
in line) in the waiting text.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from app.i18n import gettext
from app.domain import sql
from app.domain.validation import Cleaner

KINDS = ("welcome", "invalid", "returning", "takeover", "queued", "resolved")
DEFAULTS = {
    "welcome": "Welcome to {company}! Reply with the number of the service you need:\n{menu}",
    "invalid": "Sorry, I did not understand. Please reply with one of these numbers:\n{menu}",
    "returning": "Welcome back! Do you want to continue with {department}? Reply yes or no.",
    "takeover": "{agent} is now with you.",
    "queued": "All our agents are busy. You are number {position} in line; we will answer as soon as we can.",
    "resolved": "Thank you for contacting us. This conversation is now closed; write again any time.",
}
PLACEHOLDERS = {
    "welcome": {"company", "menu"},
    "invalid": {"menu"},
    "returning": {"department"},
    "takeover": {"agent"},
    "queued": {"position"},
    "resolved": set(),
}


@dataclass(frozen=True)
class AutoMessage:
    kind: str
    text: str
    enabled: bool


async def list_auto_messages(company_id: int) -> dict[str, AutoMessage]:
    rows = {r["kind"]: r for r in await sql.fetch("SELECT kind, text, enabled FROM auto_message WHERE company_id = $1", company_id)}
    return {
        kind: AutoMessage(kind, rows[kind]["text"], rows[kind]["enabled"]) if kind in rows else AutoMessage(kind, DEFAULTS[kind], True)
        for kind in KINDS
    }


def _placeholders(text: str) -> set[str]:
    """The {names} in a text; anything but a plain name (attributes, indexes, format specs,
    conversions) counts as unknown, so a text can never do more than substitute."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return {"<malformed>"}
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        names.add(name if name.isidentifier() and not spec and not conversion else "<malformed>")
    return names


async def update_auto_messages(company_id: int, data: dict) -> dict[str, AutoMessage]:
    """Save the texts and switches a form carries (``<kind>_text``, ``<kind>_enabled``);
    kinds the form does not mention keep what they had."""
    c = Cleaner(data)
    values = {}
    for kind in KINDS:
        if f"{kind}_text" not in data:
            continue
        text = c.text(f"{kind}_text", max_len=1000)
        unknown = _placeholders(text) - PLACEHOLDERS[kind]
        if text and unknown:
            allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS[kind])) or "none"
            c.fail(f"{kind}_text", gettext("Unknown placeholder. Allowed here: %(allowed)s.") % {"allowed": allowed})
        values[kind] = (text, str(data.get(f"{kind}_enabled", "")) in ("on", "true", "1"))
    c.raise_if_errors()
    async with sql.transaction():
        for kind, (text, enabled) in values.items():
            await sql.execute(
                """INSERT INTO auto_message (company_id, kind, text, enabled) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (company_id, kind) DO UPDATE SET text = excluded.text, enabled = excluded.enabled""",
                company_id,
                kind,
                text,
                enabled,
            )
    return await list_auto_messages(company_id)


async def render_auto_message(company_id: int, kind: str, **values: object) -> str | None:
    """The text to send, or None when the company turned this message off."""
    message = (await list_auto_messages(company_id))[kind]
    if not message.enabled:
        return None
    return message.text.format_map({k: str(v) for k, v in values.items()})
