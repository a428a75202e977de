"""The Orders page (live over SSE), a customer's orders for the agent workspace, an agent's
confirm / cancel by hand, and the admin's order confirmation settings."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, ServerSentEventMessage, Template

from app.domain import orders, sql
from app.domain.contacts import get_contact
from app.domain.conversations import agent_may_see
from app.domain.errors import NotFound, ValidationError
from app.domain.events import OrderChanged
from app.domain.tables import User
from app.domain.validation import Cleaner
from app.i18n import N_
from app.i18n import gettext as _
from app.web.forms import flash, read_form, safe_next
from app.web.security import admin_only, staff
from app.web.templating import render_fragment

STATUS_LABELS = {"pending": "pending", "confirmed": "confirmed", "cancelled": "cancelled"}


class OrdersController(Controller):
    path = "/orders"
    guards = [staff]

    @get("/")
    async def index(self, request: Request) -> Template:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        c = Cleaner(params)
        status = params.get("status", "")
        if status not in ("", *orders.STATUSES):
            c.fail("status", "bad status")
        q = c.text("q", max_len=100, required=False)
        before = c.integer("before", low=1, high=2**31 - 1, default=0) or None
        if c.errors:
            status, q, before = "", "", None
        company_id = request.user.company_id
        found, next_cursor = await orders.list_orders(company_id, status=status, query=q, before=before)
        context = {
            "orders": found,
            "next_cursor": next_cursor,
            "status": status,
            "q": q,
            "counts": await orders.order_counts(company_id),
            "live": not (status or q or before),
        }
        return Template("orders/page.html", context=context, status_code=400 if c.errors else 200)

    @get("/customer/{contact_id:int}")
    async def customer(self, request: Request, contact_id: FromPath[int]) -> Template:
        """The agent workspace's panel: this customer's latest orders (``_customer_orders.html``)."""
        await get_contact(request.user.company_id, contact_id if contact_id < 2**31 else 0)  # 404 for another company's
        found, _next = await orders.list_orders(request.user.company_id, contact_id=contact_id, limit=5)
        return Template("orders/_customer_orders_list.html", context={"orders": found, "contact_id": contact_id})

    @post("/{order_id:int}/decision", status_code=303)
    async def decide(self, request: Request, order_id: FromPath[int]) -> Redirect | Template:
        data = await read_form(request)
        decision = str(data.get("decision") or "")
        await _may_decide(request.user, order_id if order_id < 2**31 else 0)
        order = await orders.decide_order(
            request.user.company_id, order_id if order_id < 2**31 else 0, decision, by="agent"
        )
        if request.headers.get("hx-request"):
            return Template("orders/_row.html", context={"o": order}, status_code=200)
        flash(
            request,
            _("Order %(reference)s confirmed.") % {"reference": order["reference"]}
            if decision == "confirm"
            else _("Order %(reference)s cancelled.") % {"reference": order["reference"]},
        )
        return Redirect(safe_next(data.get("next"), "/orders"), status_code=303)


async def _may_decide(user: User, order_id: int) -> None:
    """Supervisors and admins decide any order of their company; an agent only one whose
    conversation they may see (theirs, or waiting in their departments): 404 otherwise, as for
    the conversation itself."""
    order = await orders.get_order(user.company_id, order_id)
    if user.role in ("admin", "supervisor"):
        return
    conversation = None
    if order["conversation_id"]:
        conversation = await sql.fetchrow(
            "SELECT assigned_user_id, status, department_id FROM conversation WHERE company_id = $1 AND id = $2",
            user.company_id,
            order["conversation_id"],
        )
    if conversation is None or not await agent_may_see(user.id, user.role, conversation):
        raise NotFound(N_("No such order."))


class OrderSettingsController(Controller):
    path = "/admin/orders"
    guards = [admin_only]

    def _form(self, values: dict, errors: dict, status: int = 200) -> Template:
        return Template(
            "orders/settings.html",
            context={"values": values, "errors": errors, "defaults": orders.REQUEST_TEXT},
            status_code=status,
        )

    @get("/")
    async def show(self, request: Request) -> Template:
        s = await orders.get_order_settings(request.user.company_id)
        values = {**s.__dict__, "confirm_words": "\n".join(s.confirm_words), "cancel_words": "\n".join(s.cancel_words)}
        return self._form(values, {})

    @post("/", status_code=303)
    async def save(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await orders.update_order_settings(request.user.company_id, data)
        except ValidationError as exc:
            return self._form(data, exc.errors, 400)
        flash(request, _("Order confirmation settings saved."))
        return Redirect("/admin/orders", status_code=303)


async def render_live(event: OrderChanged, viewer: User) -> list[ServerSentEventMessage]:
    """SSE: the order's row (new rows go on top of the unfiltered page), the counters, and a
    nudge to the customer panel of the agent workspace, which fetches its own list."""
    from app.web.live import CACHE

    async def row() -> str:
        return render_fragment("orders/_row.html", o=await orders.get_order(event.company_id, event.order_id))

    async def counts() -> str:
        return render_fragment("orders/_counts.html", counts=await orders.order_counts(event.company_id))

    html = await CACHE.get((event, "order-row"), row)
    return [
        ServerSentEventMessage(event="order-new" if event.created else f"order-{event.order_id}", data=html),
        ServerSentEventMessage(event="order-counts", data=await CACHE.get((event, "order-counts"), counts)),
        ServerSentEventMessage(event=f"order-contact-{event.contact_id}", data="changed"),
    ]
