"""Admin: adopt Asterisk rows configured before Switchboard (``app.telephony.adoption``)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.response import Redirect, Template

from app.i18n import gettext as _
from app.telephony.adoption import adopt, list_unowned
from app.web.forms import flash, read_form
from app.web.security import admin_only


@get("/admin/pbx/adopt", guards=[admin_only])
async def adopt_page(request: Request) -> Template:
    return Template("admin/pbx/adopt.html", context={"found": await list_unowned(), "tab": "adopt"})


@post("/admin/pbx/adopt", guards=[admin_only], status_code=303)
async def adopt_object(request: Request) -> Redirect:
    data = await read_form(request)
    kind, name = str(data.get("kind") or ""), str(data.get("name") or "")
    await adopt(request.user, kind, name)
    flash(request, _("%(name)s is now yours.") % {"name": name})
    target = {"extension": "extensions", "trunk": "trunks", "queue": "queues"}[kind]
    return Redirect(f"/admin/pbx/{target}", status_code=303)


ROUTES = [adopt_page, adopt_object]
