"""The Jinja environment: autoescaping, gettext on every string, and fragment rendering.

Pages and SSE events render the same fragments. The language is chosen per request (the
user's, else the company's) through a context variable that ``_()`` reads, so templates
never pass it around. Catalogues live in ``app/locale/<lang>/LC_MESSAGES/messages.mo``;
a language without one falls back to the English source strings.
"""

from __future__ import annotations

import gettext as gettext_module
from contextvars import ContextVar
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app import __version__
from app.settings import ROOT

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
current_language: ContextVar[str] = ContextVar("current_language", default="en")


@lru_cache(maxsize=None)
def translations(language: str) -> gettext_module.NullTranslations:
    return gettext_module.translation("messages", localedir=LOCALE_DIR, languages=[language], fallback=True)


def _gettext(message: str) -> str:
    return translations(current_language.get()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def _ago(value: datetime | None) -> str:
    if value is None:
        return _gettext("never")
    seconds = int((datetime.now(timezone.utc) - value).total_seconds())
    if seconds < 60:
        return _gettext("just now")
    if seconds < 3600:
        return _ngettext("%(num)d minute ago", "%(num)d minutes ago", seconds // 60) % {"num": seconds // 60}
    if seconds < 86400:
        return _ngettext("%(num)d hour ago", "%(num)d hours ago", seconds // 3600) % {"num": seconds // 3600}
    return value.strftime("%Y-%m-%d")


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(ROOT / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["ago"] = _ago
    env.globals["version"] = __version__
    return env


ENV = make_environment()


def render_fragment(name: str, **context: object) -> str:
    """Render a template outside a request (SSE); it must not use request-only helpers."""
    return ENV.get_template(name).render(**context)


# Request-aware helpers for page templates (Litestar puts ``request`` in the context). ----

from jinja2 import pass_context  # noqa: E402


@pass_context
def _current_user(context) -> object | None:
    request = context.get("request")
    return request.scope.get("user") if request is not None else None


@pass_context
def _flashes(context) -> list[dict]:
    request = context.get("request")
    if request is None or "session" not in request.scope or not isinstance(request.scope["session"], dict):
        return []
    return request.scope["session"].pop("flash", [])


ENV.globals["current_user"] = _current_user
ENV.globals["flashes"] = _flashes
