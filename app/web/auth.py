"""Login and logout pages."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from app.i18n import gettext as _
from app.domain.auth import ThrottlePolicy, authenticate, record_logout
from app.domain.errors import Throttled
from app.domain.presence import restore_presence
from app.web.forms import read_form, safe_next
from app.web.security import rotate_session, staff

# Where a login lands when no page asked for it: the inbox is where the day's work is (every
# role has it), the team page is one click away.
LANDING = "/inbox"


class AuthController(Controller):
    @get("/login")
    async def login_page(self, request: Request, next: FromQuery[str | None] = None) -> Template | Redirect:
        if request.session.get("user_id"):
            return Redirect(safe_next(next, LANDING))
        return Template("auth/login.html", context={"next": safe_next(next, LANDING), "email": "", "error": None})

    @post("/login", status_code=200)
    async def login(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        email = str(data.get("email", ""))[:254]
        settings = request.app.state.settings
        policy = ThrottlePolicy(settings.login_max_failures, settings.login_throttle_window)
        address = request.client.host if request.client else "unknown"
        context = {"next": safe_next(data.get("next"), LANDING), "email": email}
        try:
            user = await authenticate(email, str(data.get("password", ""))[:1024], address, policy)
        except Throttled as exc:
            return Template(
                "auth/login.html",
                context={**context, "error": str(exc)},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        if user is None:
            return Template(
                "auth/login.html", context={**context, "error": _("Wrong e-mail or password.")}, status_code=400
            )
        await rotate_session(request)
        request.set_session({"user_id": user.id})
        await restore_presence(user)
        return Redirect(context["next"], status_code=303)

    @post("/logout", guards=[staff], status_code=303)
    async def logout(self, request: Request) -> Redirect:
        await record_logout(request.user, request.client.host if request.client else "unknown")
        request.clear_session()
        return Redirect("/login", status_code=303)
