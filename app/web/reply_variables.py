"""The values of the quick replies' variables for one conversation (``app.domain.reply_variables``),
fetched by the composer (static/js/inbox.js) when a pane opens."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from app.domain.reply_variables import reply_values
from app.web.security import staff


class ReplyVariablesController(Controller):
    path = "/inbox/{conversation_id:int}/reply-variables"
    guards = [staff]

    @get("/")
    async def values(self, request: Request, conversation_id: FromPath[int]) -> dict:
        from app.web.inbox import (
            _visible_conversation,  # who may see a conversation: the inbox's rule
        )

        await _visible_conversation(request, conversation_id)
        return await reply_values(request.user.company_id, conversation_id, request.user.name)
