"""The inbox's *Mentions* tab: notes in which colleagues named me (``app.domain.mentions``).

A mention opens read-only here even when the conversation is not mine to open in the inbox
(another department's, a colleague's): the note's context is the point. Taking the conversation
goes through the inbox's own take action and its rules.
"""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Template

from app.domain.mentions import (
    get_mention,
    list_mentions,
    mark_mention_read,
    unread_mentions,
)
from app.domain.notes import list_timeline
from app.domain.users import departments_by_user
from app.web.security import staff


class MentionsController(Controller):
    path = "/inbox/mentions"
    guards = [staff]

    @get("/")
    async def index(self, request: Request) -> Template:
        me = request.user
        mentions = await list_mentions(me.company_id, me.id)
        return Template("inbox/mentions.html", context={"mentions": mentions, "mention": None})

    @get("/count")
    async def count(self, request: Request) -> Template:
        return Template(
            "inbox/_mentions_count.html",
            context={"unread": await unread_mentions(request.user.company_id, request.user.id)},
        )

    @get("/{mention_id:int}")
    async def show(self, request: Request, mention_id: FromPath[int]) -> Template:
        me = request.user
        mention = await get_mention(me.company_id, me.id, mention_id)
        await mark_mention_read(me.company_id, me.id, mention_id)
        items, _ = await list_timeline(me.company_id, mention["conversation_id"])
        mine = mention["status"] == "assigned" and mention["assigned_user_id"] == me.id
        my_departments = (await departments_by_user(me.company_id)).get(me.id, [])
        department_ids = {d.id for d in my_departments}
        can_take = mention["status"] in ("bot", "queued") and (
            me.role != "agent" or mention["department_id"] is None or mention["department_id"] in department_ids
        )
        context = {
            "mentions": await list_mentions(me.company_id, me.id),
            "mention": mention,
            "items": items,
            "mine": mine,
            "can_take": can_take,
        }
        return Template("inbox/mentions.html", context=context)
