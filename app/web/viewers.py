"""Who else is here: the pane's heartbeat (``POST /inbox/<id>/viewing``) and the live list of
the others who have the conversation open or type a reply (``app.domain.viewers``)."""

from __future__ import annotations

import json

from litestar import Controller, Request, post
from litestar.params import FromPath
from litestar.response import ServerSentEventMessage

from app.domain.errors import ValidationError
from app.domain.tables import User
from app.domain.viewers import STATES, ViewersChanged, list_viewers, mark_viewer
from app.i18n import N_
from app.web.forms import read_form
from app.web.security import staff
from app.web.templating import render_fragment


class ViewersController(Controller):
    path = "/inbox/{conversation_id:int}/viewing"
    guards = [staff]

    @post("/", status_code=204)
    async def viewing(self, request: Request, conversation_id: FromPath[int]) -> None:
        from app.web.inbox import (
            _visible_conversation,  # who may see a conversation: the inbox's rule
        )

        data = await read_form(request)
        state = str(data.get("state", "viewing"))
        if state not in STATES:
            raise ValidationError({"state": N_("Choose one of the options.")})
        await _visible_conversation(request, conversation_id)
        await mark_viewer(request.user.company_id, conversation_id, request.user.id, state)


async def render_live(event: ViewersChanged, viewer: User) -> list[ServerSentEventMessage]:
    """The others on the conversation, to each person who may see it (themselves left out).
    The list is read once per event and process; the fragment differs per viewer only by who
    is left out."""
    from app.web.inbox import may_see_live
    from app.web.live import CACHE

    if not await may_see_live(event, viewer):
        return []

    async def rows() -> str:
        return json.dumps([dict(r) for r in await list_viewers(event.company_id, event.conversation_id)])

    others = [r for r in json.loads(await CACHE.get((event, "viewers"), rows)) if r["user_id"] != viewer.id]
    html = render_fragment("inbox/_viewers.html", viewers=others, conversation_id=event.conversation_id)
    return [ServerSentEventMessage(event=f"viewers-{event.conversation_id}", data=html)]
