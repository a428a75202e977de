"""Admin: departments (list, create, edit, delete)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.domain.departments import (
    FIELDS,
    create_department,
    delete_department,
    get_department,
    list_departments,
    member_counts,
    update_department,
)
from app.domain.errors import ValidationError
from app.i18n import gettext as _
from app.web.forms import flash, read_form
from app.web.security import admin_only

DEFAULTS = {
    "colour": "#4f46e5",
    "response_timeout": 300,
    "menu_position": 0,
    "strategy": "least_load",
    "reinjection_policy": "prefer_others",
    "reinjection_alert": 3,
    "offline_policy": "requeue",
    "offline_alert_minutes": 10,
    "overflow_after": 0,
    "menu_timeout": 0,
}


async def _form(request: Request, values: dict, errors: dict, edited, status_code: int = 200) -> Template:
    others = [d for d in await list_departments(request.user.company_id) if edited is None or d.id != edited.id]
    return Template(
        "admin/departments/form.html",
        status_code=status_code,
        context={"values": values, "errors": errors, "edited": edited, "others": others},
    )


class DepartmentsController(Controller):
    path = "/admin/departments"
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request) -> Template:
        company_id = request.user.company_id
        context = {"departments": await list_departments(company_id), "members": await member_counts(company_id)}
        return Template("admin/departments/list.html", context=context)

    @get("/new")
    async def new(self, request: Request) -> Template:
        return await _form(request, DEFAULTS, {}, None)

    @post("/", status_code=303)
    async def create(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            dep = await create_department(request.user.company_id, data)
        except ValidationError as exc:
            return await _form(request, data, exc.errors, None, 400)
        flash(request, _("Department %(name)s created.") % {"name": dep.name})
        return Redirect("/admin/departments", status_code=303)

    @get("/{department_id:int}/edit")
    async def edit(self, request: Request, department_id: FromPath[int]) -> Template:
        dep = await get_department(request.user.company_id, department_id)
        values = {k: getattr(dep, k) for k in FIELDS}
        return await _form(request, values, {}, dep)

    @post("/{department_id:int}", status_code=303)
    async def update(self, request: Request, department_id: FromPath[int]) -> Template | Redirect:
        dep = await get_department(request.user.company_id, department_id)
        data = await read_form(request)
        try:
            dep = await update_department(request.user.company_id, department_id, data)
        except ValidationError as exc:
            return await _form(request, data, exc.errors, dep, 400)
        flash(request, _("Saved %(name)s.") % {"name": dep.name})
        return Redirect("/admin/departments", status_code=303)

    @post("/{department_id:int}/delete", status_code=303)
    async def delete(self, request: Request, department_id: FromPath[int]) -> Redirect:
        dep = await get_department(request.user.company_id, department_id)
        await delete_department(request.user.company_id, department_id)
        flash(request, _("Department %(name)s deleted.") % {"name": dep.name})
        return Redirect("/admin/departments", status_code=303)
