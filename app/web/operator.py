"""The operator console (``/operator``), its live fragments and its call actions (the calls API
of seed 004 is ``app.api.operator``)."""

from __future__ import annotations

import json
import time

from litestar import Controller, Request, Response, get, post
from litestar.response import ServerSentEventMessage, Stream, Template

from app.domain.errors import ValidationError
from app.domain.tables import User
from app.i18n import N_
from app.telephony import calls, cdr
from app.telephony.ami import AmiError
from app.telephony.live import PbxLiveChanged, get_live, get_status
from app.web.errors import error_response
from app.web.forms import read_form
from app.web.security import supervisors
from app.web.templating import render_fragment

SECTIONS = ("status", "stats", "calls", "endpoints", "queues")


def _context(live: dict, status: dict | None, configured: bool) -> dict:
    extensions = {n: e for n, e in live["endpoints"].items() if e["kind"] == "extension"}
    trunks = {n: e for n, e in live["endpoints"].items() if e["kind"] == "trunk"}
    return {
        "live": live,
        "status": status,
        "configured": configured,
        "extensions": dict(sorted(extensions.items())),
        "trunks": dict(sorted(trunks.items())),
        "now": time.time(),
    }


def render_section(section: str, context: dict) -> str:
    return render_fragment(f"operator/_{section}.html", **context)


async def render_live(event: PbxLiveChanged, viewer: User) -> list[ServerSentEventMessage]:
    """SSE: the console's sections that changed since this stream last received them."""
    if viewer.role not in {"admin", "supervisor"}:
        return []
    from app.web.live import CACHE  # rendered once per event and process, for every supervisor

    async def make() -> str:
        context = _context(await get_live(event.company_id), await get_status(), True)
        return json.dumps({section: render_section(section, context) for section in SECTIONS})

    sections = json.loads(await CACHE.get((event, "operator"), make))
    # Per stream memory (the viewer object lives as long as the stream): send a section
    # only when its HTML changed, so that the 2-second heartbeat costs the browser nothing.
    seen: dict = viewer.__dict__.setdefault("_operator_sections", {})
    messages = []
    for section in SECTIONS:
        html = sections[section]
        if seen.get(section) != html:
            seen[section] = html
            messages.append(ServerSentEventMessage(event=f"operator-{section}", data=html))
    return messages


def _toast(message: str, kind: str = "success") -> Template:
    return Template("operator/_toast.html", context={"message": message, "kind": kind})


def ami_error_handler(request: Request, exc: AmiError) -> Response:
    status = 503 if exc.unreachable else 502
    return error_response(request, status, str(exc))


class OperatorController(Controller):
    path = "/operator"
    guards = [supervisors]

    @get("/")
    async def console(self, request: Request) -> Template:
        me = request.user
        settings = request.app.state.settings
        context = _context(await get_live(me.company_id), await get_status(), bool(settings.ami_host))
        return Template("operator/page.html", context=context)

    @get("/history")
    async def history(self, request: Request) -> Template:
        params = dict(request.query_params)
        errors: dict = {}
        try:
            f = cdr.parse_filter(params)
            page = await cdr.search_cdr(request.user.company_id, f, cursor=params.get("cursor") or None)
        except ValidationError as exc:
            errors, page = exc.errors, cdr.CdrPage([], None, cdr.CdrFilter())
        query = {k: v for k, v in params.items() if k in {"q", "from", "to", "disposition", "min_duration"} and v}
        context = {
            "page": page,
            "params": params,
            "query": query,
            "errors": errors,
            "dispositions": cdr.DISPOSITIONS,
            "tab": "history",
        }
        return Template("operator/history.html", context=context, status_code=400 if errors else 200)

    @get("/history.csv")
    async def history_csv(self, request: Request) -> Stream:
        f = cdr.parse_filter(dict(request.query_params))
        return Stream(
            cdr.export_csv(request.user.company_id, f),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="call-history.csv"'},
        )

    @post("/calls/hangup", status_code=200)
    async def hangup(self, request: Request) -> Template:
        result = await calls.hangup_call(request.app.state.settings, request.user, await read_form(request))
        return _toast(result.message or N_("Hung up."))

    @post("/calls/transfer", status_code=200)
    async def transfer(self, request: Request) -> Template:
        result = await calls.transfer_call(request.app.state.settings, request.user, await read_form(request))
        return _toast(result.message or N_("Transferred."))

    @post("/calls/originate", status_code=200)
    async def originate(self, request: Request) -> Template:
        result = await calls.originate_call(request.app.state.settings, request.user, await read_form(request))
        return _toast(result.message or N_("Calling."))

    @post("/queues/pause", status_code=200)
    async def pause(self, request: Request) -> Template:
        result = await calls.pause_queue_member(request.app.state.settings, request.user, await read_form(request))
        return _toast(result.message or N_("Done."))
