"""Admin: the automatic messages customers receive, one language at a time."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from app.domain.auto_messages import (
    KINDS,
    LANGUAGE_NAMES,
    LANGUAGES,
    PLACEHOLDERS,
    company_language,
    default_text,
    list_auto_messages,
    update_auto_messages,
)
from app.domain.errors import ValidationError
from app.i18n import N_, gettext
from app.web.forms import flash, read_form
from app.web.security import admin_only


def _context(language: str, values: dict, errors: dict) -> dict:
    return {
        "kinds": KINDS,
        "values": values,
        "errors": errors,
        "placeholders": PLACEHOLDERS,
        "defaults": {kind: default_text(kind, language) for kind in KINDS},
        "edit_language": language,
        "languages": LANGUAGE_NAMES,
    }


class AutoMessagesController(Controller):
    path = "/admin/auto-messages"
    guards = [admin_only]

    @get("/")
    async def edit(self, request: Request, language: str = Parameter(default="", max_length=8)) -> Template:
        company_id = request.user.company_id
        language = language if language in LANGUAGES else await company_language(company_id)
        values = {}
        for kind, m in (await list_auto_messages(company_id, language)).items():
            values[f"{kind}_text"] = m.text
            values[f"{kind}_enabled"] = "on" if m.enabled else ""
        return Template("admin/auto_messages.html", context=_context(language, values, {}))

    @post("/", status_code=303)
    async def save(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        company_id = request.user.company_id
        language = str(data.get("language") or "")
        try:
            if language and language not in LANGUAGES:
                raise ValidationError({"language": N_("Choose one of the options.")})
            await update_auto_messages(company_id, data, language or None)
        except ValidationError as exc:
            shown = language if language in LANGUAGES else await company_language(company_id)
            return Template("admin/auto_messages.html", context=_context(shown, data, exc.errors), status_code=400)
        flash(request, gettext("Automatic messages saved."))
        suffix = f"?language={language}" if language else ""
        return Redirect(f"/admin/auto-messages{suffix}", status_code=303)
