"""Admin: contacts (list and search, edit, opt-out, merge duplicates, delete); and the customer's
language, which any staff member who may see one of their open conversations sets."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, Parameter
from litestar.response import Redirect, Template

from app.domain import sql
from app.domain.contacts import (
    CONTACT_LANGUAGES,
    Page,
    contact_stats,
    delete_contact,
    get_contact,
    list_contacts,
    merge_contacts,
    set_contact_language,
    update_contact,
)
from app.domain.conversations import agent_may_see
from app.domain.duplicates import likely_duplicates
from app.domain.errors import NotFound, ValidationError
from app.i18n import gettext as _
from app.web.forms import flash, read_form, safe_next
from app.web.security import admin_only, staff

BASE = "/admin/contacts"
QUERY = Parameter(default="", max_length=100)
PAGE = Parameter(default=1, ge=1, le=100_000)


def _name(contact) -> str:
    return contact["name"] or contact["phone"] or f"#{contact['id']}"


class ContactsController(Controller):
    path = BASE
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request, q: str = QUERY, page: int = PAGE) -> Template:
        result = await list_contacts(request.user.company_id, query=q, page=page)
        return Template("admin/contacts/list.html", context={"result": result, "q": q, "languages": CONTACT_LANGUAGES})

    async def _edit_page(
        self,
        request: Request,
        contact_id: int,
        values: dict | None = None,
        errors: dict | None = None,
        status: int = 200,
    ) -> Template:
        contact = await get_contact(request.user.company_id, contact_id)
        if values is None:
            values = {
                "name": contact["name"],
                "language": contact["language"],
                "details": contact["details"],
                "opted_out": "on" if contact["opted_out_at"] else "",
            }
        context = {
            "contact": contact,
            "values": values,
            "errors": errors or {},
            "languages": CONTACT_LANGUAGES,
            "stats": await contact_stats(request.user.company_id, contact_id),
        }
        return Template("admin/contacts/form.html", context=context, status_code=status)

    @get("/{contact_id:int}/edit")
    async def edit(self, request: Request, contact_id: FromPath[int]) -> Template:
        return await self._edit_page(request, contact_id)

    @post("/{contact_id:int}", status_code=303)
    async def update(self, request: Request, contact_id: FromPath[int]) -> Template | Redirect:
        await get_contact(request.user.company_id, contact_id)
        data = await read_form(request)
        try:
            contact = await update_contact(request.user.company_id, contact_id, data)
        except ValidationError as exc:
            values = {k: str(data.get(k, ""))[:2100] for k in ("name", "language", "details", "opted_out")}
            return await self._edit_page(request, contact_id, values, exc.errors, 400)
        flash(request, _("Saved %(name)s.") % {"name": _name(contact)})
        return Redirect(BASE, status_code=303)

    @get("/{contact_id:int}/delete")
    async def confirm_delete(self, request: Request, contact_id: FromPath[int]) -> Template:
        contact = await get_contact(request.user.company_id, contact_id)
        stats = await contact_stats(request.user.company_id, contact_id)
        return Template("admin/contacts/delete.html", context={"contact": contact, "stats": stats, "errors": {}})

    @post("/{contact_id:int}/delete", status_code=303)
    async def delete(self, request: Request, contact_id: FromPath[int]) -> Template | Redirect:
        contact = await get_contact(request.user.company_id, contact_id)
        try:
            await delete_contact(request.user.company_id, contact_id)
        except ValidationError as exc:
            stats = await contact_stats(request.user.company_id, contact_id)
            context = {"contact": contact, "stats": stats, "errors": exc.errors}
            return Template("admin/contacts/delete.html", context=context, status_code=409)
        flash(request, _("Contact deleted: their details are erased, their conversations kept anonymously."))
        return Redirect(BASE, status_code=303)

    async def _merge_page(
        self, request: Request, contact_id: int, q: str, page: int, errors: dict | None = None, status: int = 200
    ) -> Template:
        contact = await get_contact(request.user.company_id, contact_id)
        if q.strip():
            result = await list_contacts(request.user.company_id, query=q, page=page, exclude_id=contact_id)
        else:
            # Before any search: the likely duplicates (a word of the name, the phone's end).
            rows = await likely_duplicates(request.user.company_id, contact)
            result = Page(items=list(rows), page=1, per_page=max(1, len(rows)), total=len(rows))
        context = {
            "contact": contact,
            "result": result,
            "q": q,
            "query": q,
            "errors": errors or {},
            "suggested": not q.strip(),
        }
        return Template("admin/contacts/merge.html", context=context, status_code=status)

    @get("/{contact_id:int}/merge")
    async def merge_form(
        self, request: Request, contact_id: FromPath[int], q: str = QUERY, page: int = PAGE
    ) -> Template:
        return await self._merge_page(request, contact_id, q, page)

    @get("/{contact_id:int}/merge/{duplicate_id:int}")
    async def merge_confirm(self, request: Request, contact_id: FromPath[int], duplicate_id: FromPath[int]) -> Template:
        """The merge cannot be undone: say what will happen and ask once more."""
        company_id = request.user.company_id
        if contact_id == duplicate_id:
            raise NotFound("No such contact.")
        contact, duplicate = await get_contact(company_id, contact_id), await get_contact(company_id, duplicate_id)
        context = {
            "contact": contact,
            "duplicate": duplicate,
            "stats": await contact_stats(company_id, contact_id),
            "duplicate_stats": await contact_stats(company_id, duplicate_id),
        }
        return Template("admin/contacts/merge_confirm.html", context=context)

    @post("/{contact_id:int}/merge", status_code=303)
    async def merge(self, request: Request, contact_id: FromPath[int]) -> Template | Redirect:
        await get_contact(request.user.company_id, contact_id)
        data = await read_form(request)
        try:
            duplicate_id = int(str(data.get("duplicate_id", "")).strip())
            if not 0 < duplicate_id < 2**31:
                raise ValueError
        except ValueError:
            return await self._merge_page(request, contact_id, "", 1, {"duplicate_id": "Choose from the list."}, 400)
        try:
            kept = await merge_contacts(request.user.company_id, contact_id, duplicate_id)
        except ValidationError as exc:
            return await self._merge_page(request, contact_id, "", 1, exc.errors, 409)
        flash(request, _("Merged the duplicate into %(name)s.") % {"name": _name(kept)})
        return Redirect(f"{BASE}/{contact_id}/edit", status_code=303)


class ContactLanguageController(Controller):
    """Staff (agents included) set a customer's language from a conversation: the small form in
    ``admin/contacts/_language.html`` can be included in any conversation view."""

    path = "/contacts"
    guards = [staff]

    @post("/{contact_id:int}/language", status_code=200)
    async def set_language(self, request: Request, contact_id: FromPath[int]) -> Template | Redirect:
        me = request.user
        open_conversations = await sql.fetch(
            """SELECT id, status, assigned_user_id, department_id FROM conversation
               WHERE company_id = $1 AND contact_id = $2 AND status <> 'resolved'""",
            me.company_id,
            contact_id,
        )
        if me.role not in ("admin", "supervisor"):
            if not any([await agent_may_see(me.id, me.role, c) for c in open_conversations]):
                raise NotFound("No such contact.")
        data = await read_form(request)
        errors: dict = {}
        try:
            contact = await set_contact_language(me.company_id, contact_id, str(data.get("language", "")))
        except ValidationError as exc:
            contact, errors = await get_contact(me.company_id, contact_id), exc.errors
        if request.headers.get("hx-request") != "true":
            if not errors:
                flash(request, _("Language saved."))
            return Redirect(safe_next(data.get("next"), "/"), status_code=303)
        context = {
            "contact": contact,
            "languages": CONTACT_LANGUAGES,
            "language_errors": errors,
            "language_saved": not errors,
        }
        return Template("admin/contacts/_language.html", context=context, status_code=400 if errors else 200)
