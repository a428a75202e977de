"""Labels: the admin page that defines them (/admin/labels) and the conversation pane's labels
(add, remove; ``templates/inbox/_labels.html``), and their live updates."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, ServerSentEventMessage, Template

from app.domain.errors import ValidationError
from app.domain.labels import (
    PALETTE,
    LabelsChanged,
    create_label,
    delete_label,
    labels_of,
    list_labels,
    set_conversation_label,
    update_label,
)
from app.domain.tables import User
from app.i18n import N_
from app.web.forms import flash, read_form
from app.web.security import admin_only, staff
from app.web.templating import render_fragment

BASE = "/admin/labels"


async def _admin_page(
    request: Request,
    *,
    values: dict | None = None,
    errors: dict | None = None,
    editing: int = 0,
    status: int = 200,
) -> Template:
    labels = await list_labels(request.user.company_id)
    context = {
        "labels": labels,
        "palette": PALETTE,
        "values": values or {"colour": PALETTE[len(labels) % len(PALETTE)]},
        "errors": errors or {},
        "editing": editing,
    }
    return Template("admin/labels/list.html", context=context, status_code=status)


class LabelsAdminController(Controller):
    path = BASE
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request) -> Template:
        return await _admin_page(request)

    @post("/", status_code=303)
    async def create(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await create_label(request.user.company_id, data)
        except ValidationError as exc:
            values = {k: str(data.get(k, ""))[:60] for k in ("name", "colour")}
            return await _admin_page(request, values=values, errors=exc.errors, status=400)
        flash(request, N_("Label saved."))
        return Redirect(BASE, status_code=303)

    @post("/{label_id:int}", status_code=303)
    async def update(self, request: Request, label_id: FromPath[int]) -> Template | Redirect:
        data = await read_form(request)
        try:
            await update_label(request.user.company_id, label_id, data)
        except ValidationError as exc:
            values = {k: str(data.get(k, ""))[:60] for k in ("name", "colour")}
            return await _admin_page(request, values=values, errors=exc.errors, editing=label_id, status=400)
        flash(request, N_("Label saved."))
        return Redirect(BASE, status_code=303)

    @post("/{label_id:int}/delete", status_code=303)
    async def delete(self, request: Request, label_id: FromPath[int]) -> Redirect:
        await delete_label(request.user.company_id, label_id)
        flash(request, N_("Label deleted."))
        return Redirect(BASE, status_code=303)


async def _visible(request: Request, conversation_id: int) -> None:
    from app.web.inbox import (
        _visible_conversation,  # who may see a conversation: the inbox's rule
    )

    await _visible_conversation(request, conversation_id)


async def pane_labels_context(company_id: int, conversation_id: int) -> dict:
    on = await labels_of(company_id, conversation_id)
    ids = {row["id"] for row in on}
    return {
        "conversation_id": conversation_id,
        "labels_on": on,
        "labels_off": [row for row in await list_labels(company_id) if row["id"] not in ids],
    }


class ConversationLabelsController(Controller):
    path = "/inbox/{conversation_id:int}/labels"
    guards = [staff]

    @get("/")
    async def show(self, request: Request, conversation_id: FromPath[int]) -> Template:
        await _visible(request, conversation_id)
        context = await pane_labels_context(request.user.company_id, conversation_id)
        return Template("inbox/_labels.html", context=context)

    @post("/", status_code=200)
    async def change(self, request: Request, conversation_id: FromPath[int]) -> Template | Redirect:
        """``label`` and ``action`` (add or remove): answers the pane's labels fragment."""
        await _visible(request, conversation_id)
        data = await read_form(request)
        try:
            label_id = int(str(data.get("label", "")).strip())
        except ValueError:
            raise ValidationError({"label": N_("Choose a label.")}) from None
        action = str(data.get("action", "add"))
        if action not in ("add", "remove"):
            raise ValidationError({"action": N_("Choose a label.")})
        await set_conversation_label(
            request.user.company_id,
            conversation_id,
            label_id,
            request.user.id,
            action == "add",
        )
        if request.headers.get("hx-request") != "true":
            return Redirect(f"/inbox/{conversation_id}", status_code=303)
        context = await pane_labels_context(request.user.company_id, conversation_id)
        return Template("inbox/_labels.html", context=context)


async def render_live(event: LabelsChanged, viewer: User) -> list[ServerSentEventMessage]:
    """The conversation's list row (it shows its labels), to those who may see it, and a
    signal for an open pane to fetch its labels again (they depend on the company's list)."""
    from app.web.inbox import (  # the inbox's memos and visibility rule
        _row_for,
        may_see_live,
    )
    from app.web.live import CACHE

    if not await may_see_live(event, viewer):
        return []
    row = await _row_for(event)
    if row is None:
        return []
    html = await CACHE.get((event, "inbox-row"), lambda: _row_html(row))
    return [
        ServerSentEventMessage(event="inbox-row", data=html),
        ServerSentEventMessage(event=f"labels-{event.conversation_id}", data="changed"),
    ]


async def _row_html(row) -> str:
    return render_fragment("inbox/_row.html", c=row, open_id=None)
