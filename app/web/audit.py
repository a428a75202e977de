"""Admin: the company's audit log (read-only: there is no route that changes a row)."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template

from app.domain import audit
from app.domain.errors import ValidationError
from app.i18n import current_timezone
from app.web.security import admin_only

FILTERS = ("action", "actor", "q", "from", "to")


class AuditController(Controller):
    path = "/admin/audit"
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request) -> Template:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        errors: dict = {}
        try:
            filters = audit.clean_filters(params)
            page = await audit.list_audit(
                request.user.company_id, filters, cursor=params.get("cursor", ""), zone=current_timezone.get()
            )
        except ValidationError as exc:
            errors, page = exc.errors, audit.AuditPage([], None)
        query = {k: params[k] for k in FILTERS if params.get(k)}
        context = {"page": page, "params": params, "query": query, "errors": errors}
        return Template("admin/audit/list.html", context=context, status_code=400 if errors else 200)
