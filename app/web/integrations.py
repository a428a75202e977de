"""Admin: outbound webhook endpoints (secret shown once, events, enable / disable, delete) and
the delivery log with manual replay."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.domain.errors import ValidationError
from app.domain.integrations import (
    EVENTS,
    SIGNATURE_HEADER,
    create_endpoint,
    delete_endpoint,
    list_deliveries,
    list_endpoints,
    replay_delivery,
    set_endpoint_active,
)
from app.domain.validation import Cleaner
from app.i18n import gettext as _
from app.web.forms import flash, read_form, safe_next
from app.web.security import admin_only


class WebhooksController(Controller):
    path = "/admin/webhooks"
    guards = [admin_only]

    async def _page(
        self,
        request: Request,
        *,
        values: dict | None = None,
        errors: dict | None = None,
        created=None,
        status: int = 200,
    ) -> Template:
        context = {
            "endpoints": await list_endpoints(request.user.company_id),
            "events": EVENTS,
            "values": values or {"events": list(EVENTS)},
            "errors": errors or {},
            "created": created,
            "header": SIGNATURE_HEADER,
        }
        return Template("admin/webhooks/list.html", context=context, status_code=status)

    @get("/")
    async def index(self, request: Request) -> Template:
        return await self._page(request)

    @post("/", status_code=200)
    async def create(self, request: Request) -> Template:
        form = await read_form(request)
        data = {
            "url": form.get("url", ""),
            "description": form.get("description", ""),
            "events": [e for e in EVENTS if form.get(f"event_{e}")],
        }
        try:
            endpoint = await create_endpoint(request.user.company_id, data)
        except ValidationError as exc:
            return await self._page(request, values=data, errors=exc.errors, status=400)
        return await self._page(request, created=endpoint, status=201)

    @post("/{endpoint_id:int}/active", status_code=303)
    async def toggle(self, request: Request, endpoint_id: FromPath[int]) -> Redirect:
        form = await read_form(request)
        await set_endpoint_active(
            request.user.company_id, endpoint_id if endpoint_id < 2**31 else 0, form.get("active") == "1"
        )
        return Redirect("/admin/webhooks", status_code=303)

    @post("/{endpoint_id:int}/delete", status_code=303)
    async def delete(self, request: Request, endpoint_id: FromPath[int]) -> Redirect:
        await delete_endpoint(request.user.company_id, endpoint_id if endpoint_id < 2**31 else 0)
        flash(request, _("Webhook endpoint deleted."))
        return Redirect("/admin/webhooks", status_code=303)

    @get("/deliveries")
    async def deliveries(self, request: Request) -> Template:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        c = Cleaner(params)
        before = c.integer("before", low=1, high=2**62, default=0) or None
        status = params.get("status", "")
        if c.errors or status not in ("", "pending", "delivered", "failed"):
            before, status = None, ""
        page = await list_deliveries(request.user.company_id, status=status, before=before)
        return Template(
            "admin/webhooks/deliveries.html",
            context={"page": page, "status": status},
            status_code=400 if c.errors else 200,
        )

    @post("/deliveries/{delivery_id:int}/replay", status_code=303)
    async def replay(self, request: Request, delivery_id: FromPath[int]) -> Redirect:
        form = await read_form(request)
        await replay_delivery(request.user.company_id, delivery_id if delivery_id < 2**62 else 0)
        flash(request, _("Delivery queued again."))
        return Redirect(safe_next(form.get("next"), "/admin/webhooks/deliveries"), status_code=303)
