"""Admin: users (list, create, edit, deactivate)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, Parameter
from litestar.response import Redirect, Template

from app.domain.departments import list_departments
from app.domain.errors import ValidationError
from app.domain.phone import clean_extension_link, extension_choices, link_extension, linked_extension
from app.domain.sessions import end_user_sessions
from app.domain.users import (
    LANGUAGES,
    ROLES,
    create_user,
    department_ids_of,
    departments_by_user,
    get_user,
    list_users,
    set_user_active,
    update_user,
)
from app.i18n import gettext as _
from app.web.forms import flash, read_form
from app.web.security import admin_only


async def _form_context(request: Request, values: dict, errors: dict, user=None) -> dict:
    return {
        "values": values,
        "errors": errors,
        "edited": user,
        "roles": ROLES,
        "languages": LANGUAGES,
        "departments": await list_departments(request.user.company_id),
        "extensions": await extension_choices(request.user.company_id),  # the agent's phone (issue 17)
    }


class UsersController(Controller):
    path = "/admin/users"
    guards = [admin_only]

    @get("/")
    async def index(
        self,
        request: Request,
        q: str = Parameter(default="", max_length=100),
        page: int = Parameter(default=1, ge=1, le=10_000),
    ) -> Template:
        me = request.user
        result = await list_users(me.company_id, query=q.strip(), page=page)
        context = {"result": result, "q": q, "departments_of": await departments_by_user(me.company_id)}
        return Template("admin/users/list.html", context=context)

    @get("/new")
    async def new(self, request: Request) -> Template:
        values = {"role": "agent", "capacity": 5, "language": "", "department_ids": []}
        return Template("admin/users/form.html", context=await _form_context(request, values, {}))

    @post("/", status_code=303)
    async def create(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await clean_extension_link(request.user.company_id, None, data.get("extension_id"))
            user = await create_user(request.user.company_id, data)
            await link_extension(request.user, user.id, data.get("extension_id"))
        except ValidationError as exc:
            data.pop("password", None)
            context = await _form_context(request, data, exc.errors)
            return Template("admin/users/form.html", context=context, status_code=400)
        flash(request, _("%(name)s can now log in.") % {"name": user.name})
        return Redirect("/admin/users", status_code=303)

    @get("/{user_id:int}/edit")
    async def edit(self, request: Request, user_id: FromPath[int]) -> Template:
        user = await get_user(request.user.company_id, user_id)
        values = {
            "name": user.name,
            "email": user.email,
            "role": user.role,
            "capacity": user.capacity,
            "language": user.language,
            "department_ids": await department_ids_of(user.id),
            "extension_id": ((await linked_extension(user.company_id, user.id)) or {}).get("id", ""),
        }
        return Template("admin/users/form.html", context=await _form_context(request, values, {}, user))

    @post("/{user_id:int}", status_code=303)
    async def update(self, request: Request, user_id: FromPath[int]) -> Template | Redirect:
        user = await get_user(request.user.company_id, user_id)
        data = await read_form(request)
        try:
            await clean_extension_link(request.user.company_id, user_id, data.get("extension_id"))
            user = await update_user(request.user, user_id, data)
            await link_extension(request.user, user_id, data.get("extension_id"))
        except ValidationError as exc:
            data.pop("password", None)
            context = await _form_context(request, data, exc.errors, user)
            return Template("admin/users/form.html", context=context, status_code=400)
        flash(request, _("Saved %(name)s.") % {"name": user.name})
        return Redirect("/admin/users", status_code=303)

    @post("/{user_id:int}/deactivate", status_code=303)
    async def deactivate(self, request: Request, user_id: FromPath[int]) -> Redirect:
        user = await set_user_active(request.user, user_id, False)
        flash(request, _("%(name)s is deactivated and logged out.") % {"name": user.name})
        return Redirect("/admin/users", status_code=303)

    @post("/{user_id:int}/sessions/end", status_code=303)
    async def end_sessions(self, request: Request, user_id: FromPath[int]) -> Redirect:
        user = await get_user(request.user.company_id, user_id)  # 404 for another company's id
        keep = request.cookies.get("session") if user.id == request.user.id else None
        count = await end_user_sessions(request.user.company_id, user.id, except_key=keep, reason="ended by an admin")
        flash(request, _("%(n)d sessions of %(name)s ended.") % {"n": count, "name": user.name})
        return Redirect(f"/admin/users/{user.id}/edit", status_code=303)

    @post("/{user_id:int}/activate", status_code=303)
    async def activate(self, request: Request, user_id: FromPath[int]) -> Redirect:
        user = await set_user_active(request.user, user_id, True)
        flash(request, _("%(name)s is active again.") % {"name": user.name})
        return Redirect("/admin/users", status_code=303)
