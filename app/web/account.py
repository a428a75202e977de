"""The user's own security settings at ``/account/security``: password, two-factor login, sessions.

(``/profile``, for name, language and sound, is another page; it links here.)
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.domain.account import (
    change_password,
    disable_mfa,
    enable_mfa,
    new_secret,
    provisioning_uri,
    qr_svg,
    recovery_codes_left,
)
from app.domain.companies import get_company
from app.domain.errors import NotFound, ValidationError
from app.domain.sessions import end_session, end_user_sessions, list_sessions
from app.i18n import gettext as _
from app.web.forms import flash, read_form
from app.web.security import staff

SETUP_KEY = "mfa_setup_secret"


async def _page(
    request: Request,
    *,
    errors: dict | None = None,
    codes: list[str] | None = None,
    status_code: int = 200,
) -> Template:
    user = request.user
    setup = request.session.get(SETUP_KEY) if not user.mfa_enabled_at else None
    context = {
        "errors": errors or {},
        "sessions": await list_sessions(user.id, request.cookies.get("session")),
        "mfa_on": bool(user.mfa_enabled_at),
        "codes_left": await recovery_codes_left(user.id) if user.mfa_enabled_at else 0,
        "new_codes": codes or [],
        "setup_secret": setup,
        "setup_qr": qr_svg(provisioning_uri(setup, user.email, (await get_company(user.company_id)).name))
        if setup
        else "",
        "must_enrol": bool(request.session.get("must_enrol")),
    }
    return Template("account/security.html", context=context, status_code=status_code)


class AccountController(Controller):
    path = "/account/security"
    guards = [staff]

    @get("/")
    async def show(self, request: Request) -> Template:
        return await _page(request)

    @post("/password", status_code=303)
    async def password(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await change_password(
                request.user,
                str(data.get("current_password", ""))[:1024],
                str(data.get("new_password", ""))[:1024],
                str(data.get("confirm_password", ""))[:1024],
                keep_session=request.cookies.get("session"),
            )
        except ValidationError as exc:
            return await _page(request, errors=exc.errors, status_code=400)
        flash(request, _("Your password is changed. Your other sessions were ended."))
        return Redirect("/account/security", status_code=303)

    @post("/mfa/start", status_code=303)
    async def mfa_start(self, request: Request) -> Redirect:
        if not request.user.mfa_enabled_at:
            request.session[SETUP_KEY] = new_secret()
        return Redirect("/account/security#two-factor", status_code=303)

    @post("/mfa/confirm", status_code=200)
    async def mfa_confirm(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        secret = request.session.get(SETUP_KEY)
        if not secret or request.user.mfa_enabled_at:
            return Redirect("/account/security", status_code=303)
        try:
            codes = await enable_mfa(request.user, secret, str(data.get("code", ""))[:20])
        except ValidationError as exc:
            return await _page(request, errors=exc.errors, status_code=400)
        request.session.pop(SETUP_KEY, None)
        request.session["must_enrol"] = False
        request.scope["user"] = await _reload(request)
        flash(request, _("Two-factor login is on."))
        return await _page(request, codes=codes)

    @post("/mfa/disable", status_code=303)
    async def mfa_disable(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await disable_mfa(request.user, str(data.get("password", ""))[:1024])
        except ValidationError as exc:
            return await _page(request, errors=exc.errors, status_code=400)
        flash(request, _("Two-factor login is off."))
        return Redirect("/account/security", status_code=303)

    @post("/sessions/{handle:str}/end", status_code=303)
    async def end_one(self, request: Request, handle: FromPath[str]) -> Redirect:
        if not await end_session(request.user.company_id, request.user.id, handle[:40]):
            raise NotFound("No such session.")
        return Redirect("/account/security#sessions", status_code=303)

    @post("/sessions/end-others", status_code=303)
    async def end_others(self, request: Request) -> Redirect:
        count = await end_user_sessions(
            request.user.company_id,
            request.user.id,
            except_key=request.cookies.get("session"),
            reason="ended by the user",
        )
        flash(request, _("%(n)d other sessions ended.") % {"n": count})
        return Redirect("/account/security#sessions", status_code=303)


async def _reload(request: Request):
    from app.domain.users import get_active_user

    return await get_active_user(request.user.id)
