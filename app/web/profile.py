"""Self-service profile (/profile): each person's own name, language and alert sound."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from app.domain.errors import ValidationError
from app.domain.profile import SOUNDS, profile_values, update_profile
from app.domain.users import LANGUAGES
from app.i18n import N_
from app.web.forms import flash, read_form
from app.web.security import staff


def _page(values: dict, errors: dict, status: int = 200) -> Template:
    context = {
        "values": values,
        "errors": errors,
        "languages": LANGUAGES,
        "sounds": SOUNDS,
    }
    return Template("profile/page.html", context=context, status_code=status)


class ProfileController(Controller):
    path = "/profile"
    guards = [staff]

    @get("/")
    async def show(self, request: Request) -> Template:
        return _page(profile_values(request.user), {})

    @post("/", status_code=303)
    async def save(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await update_profile(request.user, data)
        except ValidationError as exc:
            values = {k: str(data.get(k, ""))[:200] for k in ("name", "language", "notification_sound")}
            return _page(values, exc.errors, 400)
        flash(request, N_("Profile saved."))  # translated when shown: the language may have changed
        return Redirect("/profile", status_code=303)
