"""Automatic messages to customers (seeds 000, 002, 003): the bot's welcome menu, its
re-ask and returning-customer question, the out-of-hours notice, take-over, place in line,
closing.

Each text exists per customer language (English, French, Brazilian Portuguese). A company may
edit the texts of each language or switch them off; until it does, the defaults below apply,
translated through the catalogues (``admin.po``). The language of a conversation is its
contact's (``contact.language``, set by staff), else the company's; phone country codes are
not used to guess it (a +33 number writing to a Brazilian shop is not a reason to answer in
French).

Placeholders: ``{company}`` and ``{menu}`` (welcome, invalid), ``{department}`` (returning),
``{opens}`` (out of hours: the next opening, in the customer's language and the company's
timezone), ``{agent}`` (take-over), ``{position}`` (place in line).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_datetime as babel_datetime

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.validation import Cleaner
from app.i18n import N_, SUPPORTED, gettext, normalise, translations

KINDS = ("welcome", "invalid", "returning", "out_of_hours", "takeover", "queued", "resolved")
LANGUAGES = SUPPORTED  # ("en", "fr", "pt_BR")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "pt_BR": "Português (Brasil)"}
DEFAULTS = {
    "welcome": N_("Welcome to {company}! Reply with the number of the service you need:\n{menu}"),
    "invalid": N_("Sorry, I did not understand. Please reply with one of these numbers:\n{menu}"),
    "returning": N_("Welcome back! Do you want to continue with {department}? Reply yes or no."),
    # Says nothing an online agent could contradict a second later by taking the conversation.
    "out_of_hours": N_(
        "Thank you for your message. We are closed at the moment; we open again on {opens}. "
        "Your message is kept: an agent will answer you as soon as one is available."
    ),
    "takeover": N_("{agent} is now with you."),
    "queued": N_("All our agents are busy. You are number {position} in line; we will answer as soon as we can."),
    "resolved": N_("Thank you for contacting us. This conversation is now closed; write again any time."),
}
PLACEHOLDERS = {
    "welcome": {"company", "menu"},
    "invalid": {"menu"},
    "returning": {"department"},
    "out_of_hours": {"company", "opens"},
    "takeover": {"agent"},
    "queued": {"position"},
    "resolved": set(),
}


@dataclass(frozen=True)
class AutoMessage:
    kind: str
    text: str
    enabled: bool
    customised: bool = False


def default_text(kind: str, language: str) -> str:
    return translations(language).gettext(DEFAULTS[kind])


async def company_language(company_id: int) -> str:
    return normalise(await sql.fetchval("SELECT language FROM company WHERE id = $1", company_id)) or "en"


async def customer_language(company_id: int, conversation_id: int) -> str:
    """The language to write to this conversation's customer in: the contact's, else the company's."""
    row = await sql.fetchrow(
        """SELECT ct.language AS contact_language, co.language AS company_language
           FROM conversation c JOIN contact ct ON ct.id = c.contact_id JOIN company co ON co.id = c.company_id
           WHERE c.company_id = $1 AND c.id = $2""",
        company_id,
        conversation_id,
    )
    if row is None:
        return "en"
    return normalise(row["contact_language"]) or normalise(row["company_language"]) or "en"


async def list_auto_messages(company_id: int, language: str | None = None) -> dict[str, AutoMessage]:
    """Every kind's message in one language (the company's when None)."""
    language = normalise(language) or await company_language(company_id)
    rows = {
        r["kind"]: r
        for r in await sql.fetch(
            "SELECT kind, text, enabled FROM auto_message WHERE company_id = $1 AND language = $2", company_id, language
        )
    }
    return {
        kind: AutoMessage(kind, rows[kind]["text"], rows[kind]["enabled"], True)
        if kind in rows
        else AutoMessage(kind, default_text(kind, language), True)
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


async def update_auto_messages(company_id: int, data: dict, language: str | None = None) -> dict[str, AutoMessage]:
    """Save the texts and switches a form carries (``<kind>_text``, ``<kind>_enabled``) for one
    language (``language``, else the form's ``language``, else the company's); kinds the form
    does not mention keep what they had."""
    c = Cleaner(data)
    if language is None and data.get("language"):
        language = c.choice("language", LANGUAGES, default="en")
    language = normalise(language) or await company_language(company_id)
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
    before = await list_auto_messages(company_id, language)
    async with sql.transaction():
        for kind, (text, enabled) in values.items():
            await sql.execute(
                """INSERT INTO auto_message (company_id, kind, language, text, enabled) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (company_id, kind, language) DO UPDATE SET text = excluded.text, enabled = excluded.enabled""",
                company_id,
                kind,
                language,
                text,
                enabled,
            )
        old = {k: {"text": before[k].text, "enabled": before[k].enabled} for k in values}
        new = {k: {"text": t, "enabled": e} for k, (t, e) in values.items()}
        if old != new:
            await record_audit(
                company_id,
                "auto_messages.updated",
                target_type="auto_message",
                target_id=language,
                target_label=LANGUAGE_NAMES[language],
                before=old,
                after=new,
            )
    return await list_auto_messages(company_id, language)


def format_opening(at: datetime | None, language: str, zone: str) -> str:
    """The next opening as the out-of-hours text shows it ("Monday 23 November, 09:00")."""
    if at is None:
        return ""
    from zoneinfo import ZoneInfo

    try:
        tz = ZoneInfo(zone or "UTC")
    except Exception:  # noqa: BLE001 - a bad stored zone must not stop a message
        tz = ZoneInfo("UTC")
    return babel_datetime(at, "EEEE d MMMM, HH:mm", tzinfo=tz, locale=language)


async def render_auto_message(
    company_id: int, kind: str, *, conversation_id: int | None = None, language: str | None = None, **values: object
) -> str | None:
    """The text to send (in the conversation's customer's language when ``conversation_id`` is
    given), or None when the company turned this message off."""
    if language is None and conversation_id is not None:
        language = await customer_language(company_id, conversation_id)
    message = (await list_auto_messages(company_id, language))[kind]
    if not message.enabled:
        return None
    return message.text.format_map(_Values({k: str(v) for k, v in values.items()}))


class _Values(dict):
    """A placeholder the caller has no value for becomes empty rather than an error."""

    def __missing__(self, key: str) -> str:
        return ""
