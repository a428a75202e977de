"""One thread per customer: the customer's earlier conversations, inline above the open one
(collapsed, a few at a time as the reader scrolls up; each opens read-only through the inbox's
``/inbox/<id>/past/<past_id>``). Whoever may see the current conversation may read them."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Template

from app.domain import sql
from app.domain.validation import Cleaner
from app.web.security import staff

BATCH = 3


class HistoryController(Controller):
    path = "/inbox/{conversation_id:int}/history"
    guards = [staff]

    @get("/")
    async def earlier(self, request: Request, conversation_id: FromPath[int]) -> Template:
        from app.web.inbox import (
            _visible_conversation,  # who may see a conversation: the inbox's rule
        )

        c, _ = await _visible_conversation(request, conversation_id)
        cl = Cleaner({"before": request.query_params.get("before") or str(conversation_id)})
        before = cl.integer("before", low=1, high=2**31 - 1)
        cl.raise_if_errors()
        rows = await sql.fetch(
            """SELECT c.id, c.created_at, c.status, u.name AS assigned_name, d.name AS department_name,
                      (SELECT count(*) FROM message m WHERE m.conversation_id = c.id) AS messages
               FROM conversation c LEFT JOIN app_user u ON u.id = c.assigned_user_id
               LEFT JOIN department d ON d.id = c.department_id
               WHERE c.company_id = $1 AND c.contact_id = $2 AND c.id < $3
               ORDER BY c.id DESC LIMIT $4""",
            request.user.company_id,
            c["contact_id"],
            before,
            BATCH + 1,
        )
        more = len(rows) > BATCH
        conversations = list(reversed(rows[:BATCH]))
        divider = before == conversation_id  # the first batch ends where this conversation begins
        return Template(
            "inbox/_history.html",
            context={
                "c": c,
                "conversations": conversations,
                "more": more,
                "divider": divider,
            },
        )
