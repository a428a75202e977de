"""Login and logout pages."""

from __future__ import annotations

import time

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from app.domain.account import mfa_required
from app.domain.auth import ThrottlePolicy, authenticate, record_logout, second_factor
from app.domain.errors import Throttled
from app.domain.presence import restore_presence
from app.i18n import gettext as _
from app.web.forms import read_form, safe_next
from app.web.security import CSRF_SESSION_KEY, csrf_cookie, new_csrf_token, rotate_session, staff

MFA_PENDING = "mfa_user_id"
MFA_PENDING_SECONDS = 300  # the second step must follow the password within five minutes


def _pending(request: Request) -> int | None:
    user_id, at = request.session.get(MFA_PENDING), request.session.get("mfa_at")
    if isinstance(user_id, int) and isinstance(at, (int, float)) and time.time() - at < MFA_PENDING_SECONDS:
        return user_id
    return None


async def _logged_in(request: Request, user, next_url: str) -> Redirect:
    """Start the login session: a fresh id, a fresh CSRF token kept in it (app.web.security.
    check_csrf_binding), who and from where (the account page lists sessions)."""
    settings = request.app.state.settings
    await rotate_session(request)
    token = new_csrf_token(settings.secret_key)
    session = {
        "user_id": user.id,
        "ip": request.client.host if request.client else "unknown",
        "ua": request.headers.get("user-agent", "")[:300],
        CSRF_SESSION_KEY: token,
    }
    if not user.mfa_enabled_at and await mfa_required(user):
        session["must_enrol"] = True  # sent to /account/security until two-factor login is on
    request.set_session(session)
    await restore_presence(user)  # back after a timeout the same day: the presence they had
    return Redirect(next_url, status_code=303, cookies=[csrf_cookie(token, settings.secure_cookies)])


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
        if user.mfa_enabled_at:
            # Password right; the session is not logged in until the second step (a fresh id, and
            # only this pending mark in it).
            await rotate_session(request)
            request.set_session({MFA_PENDING: user.id, "mfa_at": time.time(), "next": context["next"]})
            return Redirect("/login/mfa", status_code=303)
        return await _logged_in(request, user, context["next"])

    @get("/login/mfa")
    async def mfa_page(self, request: Request) -> Template | Redirect:
        if not _pending(request):
            return Redirect("/login", status_code=303)
        return Template("auth/mfa.html", context={"error": None})

    @post("/login/mfa", status_code=200)
    async def mfa(self, request: Request) -> Template | Redirect:
        user_id = _pending(request)
        if not user_id:
            return Redirect("/login", status_code=303)
        data = await read_form(request)
        settings = request.app.state.settings
        policy = ThrottlePolicy(settings.login_max_failures, settings.login_throttle_window)
        address = request.client.host if request.client else "unknown"
        try:
            user = await second_factor(user_id, str(data.get("code", ""))[:40], address, policy)
        except Throttled as exc:
            return Template(
                "auth/mfa.html",
                context={"error": str(exc)},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        if user is None:
            return Template("auth/mfa.html", context={"error": _("That code is not right.")}, status_code=400)
        return await _logged_in(request, user, safe_next(request.session.get("next"), LANDING))

    @post("/logout", guards=[staff], status_code=303)
    async def logout(self, request: Request) -> Redirect:
        await record_logout(request.user, request.client.host if request.client else "unknown")
        request.clear_session()
        return Redirect("/login", status_code=303)
