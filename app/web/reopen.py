"""Reopen a resolved conversation from its pane (``app.dispatch.reopen``)."""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.params import FromPath
from litestar.response import Redirect

from app.dispatch.reopen import reopen_conversation
from app.web.security import staff


class ReopenController(Controller):
    path = "/inbox/{conversation_id:int}/reopen"
    guards = [staff]

    @post("/", status_code=303)
    async def reopen(self, request: Request, conversation_id: FromPath[int]) -> Redirect:
        await reopen_conversation(request.user, conversation_id)
        return Redirect(f"/inbox/{conversation_id}", status_code=303)
