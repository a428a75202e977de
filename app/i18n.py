"""Interface languages: catalogues, the request's language, gettext and locale formatting.

English is the source language of every string. French (``fr``) and Brazilian Portuguese
(``pt_BR``) catalogues are the ``.po`` files under ``app/locale/<lang>/LC_MESSAGES``; they are
compiled in memory the first time a language is used, so there is no compiled file to forget
to rebuild and no build step (``pybabel compile`` still works and its ``.mo`` is then
preferred only if it is newer than the ``.po``). The README's "Translations" section says how
to extract and update them.

The language of a request is chosen once (``choose_language``: the user's, else the
company's, else the browser's ``Accept-Language``, else English) and kept in a context
variable, so templates, flash messages and domain validation messages all read it without
passing it around. What does not live here: the Jinja environment (``app.web.templating``).
"""

from __future__ import annotations

import gettext as gettext_module
import io
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime as _babel_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _babel_decimal

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Interface languages shipped, English first (the source language).
SUPPORTED = ("en", "fr", "pt_BR")

current_language: ContextVar[str] = ContextVar("current_language", default="en")
current_timezone: ContextVar[str] = ContextVar("current_timezone", default="UTC")


def _load(po: Path, language: str) -> gettext_module.NullTranslations:
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fh:
            return gettext_module.GNUTranslations(fh)
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


@cache
def translations(language: str) -> gettext_module.NullTranslations:
    """The catalogue of ``language``; unknown languages fall back to the English source.

    A language is ``messages.po`` plus one ``<area>.po`` per area of the product that keeps its
    own catalogue (``scripts/i18n AREA``, see README); they are chained, ``messages.po`` first.
    """
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    files = sorted(folder.glob("*.po"), key=lambda path: (path.stem != "messages", path.stem))
    if not files:
        return gettext_module.NullTranslations()
    first, *rest = (_load(path, language) for path in files)
    for extra in rest:
        first.add_fallback(extra)
    return first


def gettext(message: str) -> str:
    """``message`` in the current request's language."""
    return translations(current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (it is translated when shown)."""
    return message


def normalise(code: str | None) -> str | None:
    """A supported language code for ``code`` ("pt-br", "fr_CA", "FR"), or None."""
    if not code:
        return None
    code = code.strip().replace("-", "_")
    lang, _, region = code.partition("_")
    lang = lang.lower()
    if lang == "pt":
        return "pt_BR"  # the only Portuguese we ship
    return lang if lang in SUPPORTED else None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header, by quality."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "")[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = normalise(tag)
        if code and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else None


def choose_language(user_language: str | None, company_language: str | None, accept: str | None) -> str:
    return normalise(user_language) or normalise(company_language) or from_accept_language(accept) or "en"


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(current_timezone.get() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _locale() -> Locale:
    try:
        return Locale.parse(current_language.get())
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    """A date and time in the request's language and timezone ("short", "medium", "long" or a pattern)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _babel_datetime(value, format, tzinfo=_zone(), locale=_locale())


def format_duration(value: timedelta | None) -> str:
    """A duration in words in the current language, e.g. "12 minutes", "2 hours" (Babel)."""
    if value is None:
        return ""
    from babel.dates import format_timedelta

    return format_timedelta(value, threshold=1.5, locale=_locale())


def format_date(value: datetime | None, format: str = "medium") -> str:
    """A day in the request's language and timezone."""
    from babel.dates import format_date as _babel_date

    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _babel_date(value.astimezone(_zone()), format, locale=_locale())


def format_time(value: datetime | None, format: str = "short") -> str:
    from babel.dates import format_time as _babel_time

    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _babel_time(value, format, tzinfo=_zone(), locale=_locale())


def territory_name(code: str) -> str:
    """A country's name in the current language (Babel), e.g. ``FR`` -> ``France``."""
    return _locale().territories.get(code, code)


def format_number(value: float | int | None, format: str | None = None) -> str:
    """A number with the request's language's separators (1,234.5 / 1 234,5 / 1.234,5)."""
    if value is None:
        return ""
    return _babel_decimal(value, format=format, locale=_locale())
