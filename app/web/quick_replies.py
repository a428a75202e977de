"""Admin: quick replies (list with search and pages, create, edit, delete)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.domain.departments import list_departments
from app.domain.errors import ValidationError
from app.domain.quick_replies import (
    create_quick_reply,
    delete_quick_reply,
    get_quick_reply,
    list_quick_replies,
    update_quick_reply,
)
from app.domain.validation import Cleaner
from app.i18n import gettext as _
from app.web.forms import flash, read_form
from app.web.security import admin_only


class QuickRepliesController(Controller):
    path = "/admin/quick-replies"
    guards = [admin_only]

    async def _form(self, request: Request, values: dict, errors: dict, edited, status: int = 200) -> Template:
        context = {
            "values": values,
            "errors": errors,
            "edited": edited,
            "departments": await list_departments(request.user.company_id),
        }
        return Template("admin/quick_replies/form.html", context=context, status_code=status)

    @get("/")
    async def index(self, request: Request) -> Template:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        c = Cleaner(params)
        page = c.integer("page", low=1, high=100_000, default=1)
        q = c.text("q", max_len=100, required=False)
        if c.errors:
            page, q = 1, ""
        result = await list_quick_replies(request.user.company_id, query=q, page=page)
        return Template(
            "admin/quick_replies/list.html", context={"result": result, "q": q}, status_code=400 if c.errors else 200
        )

    @get("/new")
    async def new(self, request: Request) -> Template:
        return await self._form(request, {"department_id": ""}, {}, None)

    @post("/", status_code=303)
    async def create(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await create_quick_reply(request.user.company_id, data)
        except ValidationError as exc:
            return await self._form(request, data, exc.errors, None, 400)
        flash(
            request,
            _("Quick reply /%(shortcut)s created.")
            % {"shortcut": str(data.get("shortcut", "")).strip().lstrip("/").lower()},
        )
        return Redirect("/admin/quick-replies", status_code=303)

    @get("/{quick_reply_id:int}/edit")
    async def edit(self, request: Request, quick_reply_id: FromPath[int]) -> Template:
        row = await get_quick_reply(request.user.company_id, quick_reply_id)
        values = {"shortcut": row["shortcut"], "text": row["text"], "department_id": row["department_id"] or ""}
        return await self._form(request, values, {}, row)

    @post("/{quick_reply_id:int}", status_code=303)
    async def update(self, request: Request, quick_reply_id: FromPath[int]) -> Template | Redirect:
        row = await get_quick_reply(request.user.company_id, quick_reply_id)
        data = await read_form(request)
        try:
            await update_quick_reply(request.user.company_id, quick_reply_id, data)
        except ValidationError as exc:
            return await self._form(request, data, exc.errors, row, 400)
        flash(request, _("Saved."))
        return Redirect("/admin/quick-replies", status_code=303)

    @post("/{quick_reply_id:int}/delete", status_code=303)
    async def delete(self, request: Request, quick_reply_id: FromPath[int]) -> Redirect:
        await read_form(request)
        await delete_quick_reply(request.user.company_id, quick_reply_id)
        flash(request, _("Quick reply deleted."))
        return Redirect("/admin/quick-replies", status_code=303)
