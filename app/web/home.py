"""The landing page: the team and their presence, live."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template

from app.dispatch.reads import list_my_conversations, list_my_queue
from app.domain.departments import list_departments
from app.domain.users import department_ids_of, list_users
from app.web.security import staff


class HomeController(Controller):
    guards = [staff]

    @get("/")
    async def home(self, request: Request) -> Template:
        me = request.user
        team = await list_users(me.company_id, per_page=200)
        departments = await list_departments(me.company_id)
        mine = set(await department_ids_of(me.id))
        return Template(
            "home.html",
            context={
                "team": [u for u in team.items if u.active],
                "my_departments": [d for d in departments if d.id in mine],
                "mine": await list_my_conversations(me.company_id, me.id),
                "queue": await list_my_queue(me.company_id, me.id),
            },
        )
