"""The Jinja environment: autoescaping, gettext on every string, and fragment rendering.

Pages and SSE events render the same fragments. The language is chosen per request (the
user's, else the company's) through a context variable that ``_()`` reads, so templates
never pass it around. Catalogues and locale formatting live in ``app.i18n``;
a language without a catalogue falls back to the English source strings.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from app import __version__
from app.i18n import (
    LOCALE_DIR,
    current_language,
    current_timezone,
    format_date,
    format_datetime,
    format_duration,
    format_number,
    format_time,
    translations,
)
from app.i18n import gettext as _gettext
from app.i18n import ngettext as _ngettext
from app.settings import ROOT
from app.web.middleware import STARTED_AT

__all__ = ["ENV", "LOCALE_DIR", "current_language", "current_timezone", "render_fragment", "translations"]


def _ago(value: datetime | None) -> str:
    if value is None:
        return _gettext("never")
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 60:
        return _gettext("just now")
    if seconds < 3600:
        return _ngettext("%(num)d minute ago", "%(num)d minutes ago", seconds // 60) % {"num": seconds // 60}
    if seconds < 86400:
        return _ngettext("%(num)d hour ago", "%(num)d hours ago", seconds // 3600) % {"num": seconds // 3600}
    return format_date(value)


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(ROOT / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are read once per process: no stat() of the file at every render (the event
        # stream renders hundreds of fragments a second). Restart the server to see edits.
        auto_reload=False,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["ago"] = _ago
    env.filters["datetime"] = format_datetime
    env.filters["time"] = format_time
    env.filters["date"] = format_date
    env.filters["number"] = format_number
    env.filters["duration"] = format_duration
    env.globals["version"] = __version__
    env.globals["language"] = current_language.get
    # For messages made at run time (validation errors, flashes): no %-formatting, unlike _().
    env.globals["translate"] = _gettext
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


@pass_context
def _live_since(context) -> str:
    """The page's start on the wall clock, for its event stream's ``since`` (app.web.stream):
    events from then on reach the page even if they happen before its stream opens."""
    request = context.get("request")
    started = request.scope.get(STARTED_AT) if request is not None else None
    return f"{started if started is not None else time.time():.3f}"


_ROW_LABELS: dict[str, dict] = {}


def _row_labels() -> dict:
    """The inbox row's labels in the current language, made once per language: a row is
    rendered for every live event, and translating its five labels each time was about a
    third of its cost. Trusted Markup, as Jinja's own ``_()`` returns."""
    language = current_language.get()
    labels = _ROW_LABELS.get(language)
    if labels is None:
        labels = _ROW_LABELS[language] = {
            "bot": Markup(_gettext("Bot:")),
            "reply": Markup(_gettext("Reply:")),
            "channel": Markup(_gettext("Channel")),
            "waiting": Markup(_gettext("Waiting for an answer")),
            "unread": Markup(_gettext("%(n)s unread")) % {"n": "%(n)s"},
        }
    return labels


ENV.globals["row_labels"] = _row_labels

from app.web.display import avatar, label_of, shown_json  # noqa: E402

ENV.filters["shown_json"] = shown_json

from app.domain.reply_variables import VARIABLES as _REPLY_VARIABLES  # noqa: E402

ENV.globals["reply_variables"] = _REPLY_VARIABLES

ENV.globals["label_of"] = label_of
ENV.globals["avatar"] = avatar
ENV.globals["current_user"] = _current_user
ENV.globals["live_since"] = _live_since
ENV.globals["flashes"] = _flashes
