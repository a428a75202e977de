"""What raw values look like on screen: labels for enum values, and initials avatars.

Columns hold English words fixed by the schema or by Asterisk (``queued``, ``rrmemory``);
people read a label in their language ("Waiting", "Round robin with memory"). Templates call
``label_of(kind, value)``; an unknown value is shown as it is. ``avatar(name)`` draws a
person's initials in one of eight colours chosen from the name (the same in every process).
"""

from __future__ import annotations

import json
import zlib
from functools import lru_cache

from markupsafe import Markup, escape

from app.i18n import N_, gettext

LABELS: dict[str, dict[str, str]] = {
    "role": {
        "admin": N_("Administrator"),
        "supervisor": N_("Supervisor"),
        "agent": N_("Agent"),
    },
    "status": {
        "bot": N_("With the bot"),
        "queued": N_("Waiting"),
        "assigned": N_("Assigned"),
        "resolved": N_("Resolved"),
    },
    "presence": {"online": N_("Online"), "busy": N_("Busy"), "offline": N_("Offline")},
    # Asterisk's queue strategies (queues.conf, "strategy").
    "strategy": {
        "ringall": N_("Ring all"),
        "leastrecent": N_("Least recently called"),
        "fewestcalls": N_("Fewest calls"),
        "random": N_("Random"),
        "rrmemory": N_("Round robin with memory"),
        "linear": N_("In order"),
        "wrandom": N_("Random, weighted by penalty"),
        "rrordered": N_("Round robin, in order"),
    },
}


def label_of(kind: str, value: object) -> str:
    """The label of ``value`` in the current language (the value itself when unknown)."""
    text = LABELS.get(kind, {}).get(str(value or ""))
    return gettext(text) if text else str(value or "")


def initials(name: str | None) -> str:
    """Up to two letters: the first of the first and of the last word ("Zoé Martin" -> "ZM");
    "#" for a name without letters (a phone number)."""
    words = [w for w in str(name or "").split() if w[:1].isalpha()]
    if not words:
        return "#"
    first = words[0][0]
    return (first + words[-1][0]).upper() if len(words) > 1 else first.upper()


@lru_cache(maxsize=4096)
def _avatar(name: str, size: str) -> Markup:
    colour = zlib.crc32(name.encode()) % 8
    return Markup('<span class="avatar avatar-{size} avatar-c{colour}" aria-hidden="true">{text}</span>').format(
        size=size, colour=colour, text=escape(initials(name))
    )


def avatar(name: str | None, size: str = "m") -> Markup:
    """A decorative avatar (the name is always written next to it)."""
    return _avatar(str(name or ""), size if size in ("s", "m", "l") else "m")


def shown_json(value: object) -> str:
    """A value as JSON for people to read (the audit log): accents as typed, not ``\\u00e8``.
    A plain string, escaped by the template like any other text."""
    return json.dumps(value, ensure_ascii=False, default=str)
