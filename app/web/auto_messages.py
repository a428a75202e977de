"""Admin: the automatic messages customers receive (take-over, place in line, closing)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from app.i18n import gettext
from app.domain.auto_messages import DEFAULTS, KINDS, PLACEHOLDERS, list_auto_messages, update_auto_messages
from app.domain.errors import ValidationError
from app.web.forms import flash, read_form
from app.web.security import admin_only


def _context(values: dict, errors: dict) -> dict:
    return {"kinds": KINDS, "values": values, "errors": errors, "defaults": DEFAULTS, "placeholders": PLACEHOLDERS}


class AutoMessagesController(Controller):
    path = "/admin/auto-messages"
    guards = [admin_only]

    @get("/")
    async def edit(self, request: Request) -> Template:
        messages = await list_auto_messages(request.user.company_id)
        values = {}
        for kind, m in messages.items():
            values[f"{kind}_text"] = m.text
            values[f"{kind}_enabled"] = "on" if m.enabled else ""
        return Template("admin/auto_messages.html", context=_context(values, {}))

    @post("/", status_code=303)
    async def save(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await update_auto_messages(request.user.company_id, data)
        except ValidationError as exc:
            return Template("admin/auto_messages.html", context=_context(data, exc.errors), status_code=400)
        flash(request, gettext("Automatic messages saved."))
        return Redirect("/admin/auto-messages", status_code=303)
