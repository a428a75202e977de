"""The presence switch (online / busy / offline)."""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.response import Redirect, Template

from app.domain.presence import heartbeat, set_presence
from app.web.forms import read_form, safe_next
from app.web.security import staff


class PresenceController(Controller):
    guards = [staff]

    @post("/presence", status_code=200)
    async def switch(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        user = await set_presence(request.user, str(data.get("presence", "")))
        if request.headers.get("hx-request"):
            return Template("users/_presence_switch.html", context={"me": user})
        return Redirect(safe_next(data.get("next")), status_code=303)

    @post("/presence/heartbeat", status_code=204)
    async def beat(self, request: Request) -> None:
        await heartbeat(request.user.id)
