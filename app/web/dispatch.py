"""Conversation hand-offs: take, transfer, assign, resolve (the rules live in app.dispatch)."""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.params import FromPath
from litestar.response import Redirect

from app.i18n import gettext
from app.dispatch.assignment import assign_to_agent, resolve_conversation, take_conversation, transfer_conversation
from app.domain.validation import Cleaner
from app.web.forms import flash, read_form, safe_next
from app.web.security import staff


class ConversationActionsController(Controller):
    path = "/conversations/{conversation_id:int}"
    guards = [staff]

    @post("/take", status_code=303)
    async def take(self, request: Request, conversation_id: FromPath[int]) -> Redirect:
        data = await read_form(request)
        await take_conversation(request.user, conversation_id)
        flash(request, gettext("The conversation is yours."))
        return Redirect(safe_next(data.get("next"), "/"), status_code=303)

    @post("/resolve", status_code=303)
    async def resolve(self, request: Request, conversation_id: FromPath[int]) -> Redirect:
        data = await read_form(request)
        await resolve_conversation(request.user, conversation_id)
        flash(request, gettext("Conversation resolved."))
        return Redirect(safe_next(data.get("next"), "/"), status_code=303)

    @post("/transfer", status_code=303)
    async def transfer(self, request: Request, conversation_id: FromPath[int]) -> Redirect:
        data = await read_form(request)
        c = Cleaner(data)
        department_id = c.integer("department_id", low=0, high=2**31 - 1, default=0) or None
        user_id = c.integer("user_id", low=0, high=2**31 - 1, default=0) or None
        note = c.text("note", max_len=2000, required=False)
        c.raise_if_errors()
        await transfer_conversation(request.user, conversation_id, department_id=department_id, user_id=user_id, note=note)
        flash(request, gettext("Conversation transferred."))
        return Redirect(safe_next(data.get("next"), "/"), status_code=303)

    @post("/assign", status_code=303)
    async def assign(self, request: Request, conversation_id: FromPath[int]) -> Redirect:
        data = await read_form(request)
        c = Cleaner(data)
        user_id = c.integer("user_id", low=1, high=2**31 - 1)
        note = c.text("note", max_len=2000, required=False)
        c.raise_if_errors()
        await assign_to_agent(request.user, conversation_id, user_id, note=note)
        flash(request, gettext("Conversation assigned."))
        return Redirect(safe_next(data.get("next"), "/"), status_code=303)
