"""Seed 004's operator API: ``/api/extensions``, ``/api/trunks``, ``/api/queues``, ``/api/calls``
and the call history ``/api/cdr``, with the seed's paths, bodies and field names.

Who may call: an API key with ``pbx:read`` (GET of the PBX objects), ``pbx:write`` (changes) or
``calls`` (live calls, hang up, transfer, history), or a logged-in admin (PBX objects) or
supervisor (calls) with the ``x-csrftoken`` header, all through ``app.api.auth.api_auth``.
An object of another company answers 404.

Objects read as the seed's front end expects: an extension is ``{id, number, name, codecs,
context, status, state, ipAddress, userAgent}`` where ``name`` is the display label (the same
field PUT writes, so read-edit-write round trips keep it); a trunk carries ``status``; a queue
``waitingCalls``. Updates are partial: what a PUT leaves out keeps its value.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Router, delete, get, post, put
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody, QueryParameter

from app.api.auth import api_auth
from app.api.errors import validation_error
from app.api.pbx_schemas import (
    UNSET,
    ActionOut,
    ExtensionCreate,
    ExtensionUpdate,
    HangupIn,
    QueueCreate,
    QueueUpdate,
    TransferIn,
    TrunkCreate,
    TrunkUpdate,
    flag,
)
from app.api.routes import ERRORS
from app.domain.errors import ValidationError
from app.i18n import N_
from app.telephony import calls, cdr, pbx
from app.telephony.live import get_live
from app.telephony.pbx import PbxObject
from app.telephony.registrations import list_registrations

DEFAULT_CODECS = ["ulaw", "alaw"]
PBX_READ = {"read_scope": "pbx:read", "write_scope": "pbx:write", "session_roles": ("admin",)}
CALLS = {"scope": "calls", "session_roles": ("admin", "supervisor")}


def _given(value: Any) -> bool:
    return value is not UNSET


def _status(live: dict, name: str) -> dict:
    ep = live["endpoints"].get(name)
    if ep is None:
        return {"status": "Unknown", "state": "Unknown"}
    return {"status": "Registered" if ep["registered"] else "Unregistered", "state": ep["state"]}


def _extension(obj: PbxObject, live: dict, seen: dict) -> dict:
    # The live snapshot's address and user agent when the AMI state carries them, else the
    # registration rows Asterisk keeps (ps_contacts / sippeers).
    ep = live["endpoints"].get(obj.name) or {}
    where = {"ip": ep.get("address"), "user_agent": ep.get("user_agent")}
    if not where["ip"]:
        where = seen.get(obj.name) or {}
    return {
        "id": obj.id,
        "number": obj.name,
        "name": obj.label,
        "label": obj.label,
        "codecs": obj.details.get("codecs", []),
        "context": obj.details.get("context", ""),
        **_status(live, obj.name),
        "ipAddress": where.get("ip") or None,
        "userAgent": where.get("user_agent") or None,
    }


def _trunk(obj: PbxObject, live: dict) -> dict:
    return {"id": obj.id, "name": obj.name, "label": obj.label, **obj.details, **_status(live, obj.name)}


def _queue(obj: PbxObject, live: dict) -> dict:
    callers = (live["queues"].get(obj.name) or {}).get("callers") or []
    return {"id": obj.id, "name": obj.name, **obj.details, "waitingCalls": len(callers)}


async def _extension_out(company_id: int, obj: PbxObject) -> dict:
    return _extension(obj, await get_live(company_id), await list_registrations([obj.name]))


def _settings(request: Request) -> dict:
    s = request.app.state.settings
    return {"driver": s.asterisk_sip_driver}


class ExtensionsApi(Controller):
    path = "/extensions"
    tags = ["pbx"]
    opt = PBX_READ

    @get(
        "/", summary="The company's extensions with their registration status, address and user agent", responses=ERRORS
    )
    async def index(self, request: Request) -> list[dict]:
        company_id = request.user.company_id
        items = await pbx.list_extensions(company_id)
        for obj in items:
            obj.details.setdefault("context", "")
        live = await get_live(company_id)
        seen = await list_registrations([o.name for o in items])
        return [_extension(o, live, seen) for o in items]

    @get("/{object_id:int}", summary="One extension", responses=ERRORS)
    async def show(self, request: Request, object_id: FromPath[int]) -> dict:
        company_id = request.user.company_id
        return await _extension_out(company_id, await pbx.get_extension(company_id, object_id))

    @post(
        "/",
        status_code=201,
        summary="Create an extension; the answer carries its SIP password once (secret)",
        responses=ERRORS,
    )
    async def create(self, request: Request, data: JSONBody[ExtensionCreate]) -> dict:
        given = data.secret if _given(data.secret) else data.password
        body = {
            "number": data.number,
            "name": data.name,
            "codecs": data.codecs if _given(data.codecs) else DEFAULT_CODECS,
            "secret": given if _given(given) else "",
        }
        s = request.app.state.settings
        obj, secret = await pbx.create_extension(
            request.user, body, driver=s.asterisk_sip_driver, context=s.context_for(request.user.company_id)
        )
        out = await _extension_out(request.user.company_id, obj)
        return out if _given(given) else {**out, "secret": secret}

    @put("/{object_id:int}", summary="Update an extension; fields left out keep their value", responses=ERRORS)
    async def update(self, request: Request, object_id: FromPath[int], data: JSONBody[ExtensionUpdate]) -> dict:
        company_id = request.user.company_id
        current = await pbx.get_extension(company_id, object_id)
        if _given(data.number) and data.number != current.name:
            raise ValidationError({"number": N_("An extension's number cannot change: create a new one.")})
        given = data.secret if _given(data.secret) else data.password
        body = {
            "name": data.name if _given(data.name) else current.label,
            "codecs": data.codecs if _given(data.codecs) else current.details["codecs"],
            "secret": given if _given(given) else "",
            "regenerate_secret": flag(data.regenerate_secret),
        }
        s = request.app.state.settings
        obj, secret = await pbx.update_extension(
            request.user, object_id, body, driver=s.asterisk_sip_driver, context=s.context_for(request.user.company_id)
        )
        out = await _extension_out(company_id, obj)
        return {**out, "secret": secret} if secret else out

    @delete("/{object_id:int}", status_code=204, summary="Delete an extension", responses=ERRORS)
    async def remove(self, request: Request, object_id: FromPath[int]) -> None:
        await pbx.delete_extension(request.user, object_id)


class TrunksApi(Controller):
    path = "/trunks"
    tags = ["pbx"]
    opt = PBX_READ

    @get("/", summary="The company's trunks with their registration status", responses=ERRORS)
    async def index(self, request: Request) -> list[dict]:
        live = await get_live(request.user.company_id)
        return [_trunk(o, live) for o in await pbx.list_trunks(request.user.company_id)]

    @get("/{object_id:int}", summary="One trunk", responses=ERRORS)
    async def show(self, request: Request, object_id: FromPath[int]) -> dict:
        company_id = request.user.company_id
        return _trunk(await pbx.get_trunk(company_id, object_id), await get_live(company_id))

    @post("/", status_code=201, summary="Create a trunk", responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[TrunkCreate]) -> dict:
        body = msgspec.structs.asdict(data)
        body["codecs"] = data.codecs if _given(data.codecs) else DEFAULT_CODECS
        body["register"] = flag(data.register)
        obj = await pbx.create_trunk(request.user, body, **_settings(request))
        return _trunk(obj, await get_live(request.user.company_id))

    @put(
        "/{object_id:int}", summary="Update a trunk; fields left out keep their value (password too)", responses=ERRORS
    )
    async def update(self, request: Request, object_id: FromPath[int], data: JSONBody[TrunkUpdate]) -> dict:
        company_id = request.user.company_id
        current = await pbx.get_trunk(company_id, object_id)
        if _given(data.name) and data.name != current.name:
            raise ValidationError({"name": N_("A trunk's name cannot change: create a new one.")})
        body: dict[str, Any] = {"label": current.label, **current.details}
        for key, value in msgspec.structs.asdict(data).items():
            if _given(value) and key != "name":
                body[key] = value
        body["register"] = flag(body.get("register"))
        body["password"] = body.get("password") if _given(data.password) else ""
        obj = await pbx.update_trunk(request.user, object_id, body, **_settings(request))
        return _trunk(obj, await get_live(company_id))

    @delete("/{object_id:int}", status_code=204, summary="Delete a trunk", responses=ERRORS)
    async def remove(self, request: Request, object_id: FromPath[int]) -> None:
        await pbx.delete_trunk(request.user, object_id)


def _members(members: list) -> list[dict]:
    return [{"extension": m.extension, "penalty": m.penalty} for m in members]


class QueuesApi(Controller):
    path = "/queues"
    tags = ["pbx"]
    opt = PBX_READ

    @get("/", summary="The company's queues with their members and waiting calls", responses=ERRORS)
    async def index(self, request: Request) -> list[dict]:
        live = await get_live(request.user.company_id)
        return [_queue(o, live) for o in await pbx.list_queues(request.user.company_id)]

    @get("/{object_id:int}", summary="One queue", responses=ERRORS)
    async def show(self, request: Request, object_id: FromPath[int]) -> dict:
        company_id = request.user.company_id
        return _queue(await pbx.get_queue(company_id, object_id), await get_live(company_id))

    @post("/", status_code=201, summary="Create a queue; members: [{extension, penalty}]", responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[QueueCreate]) -> dict:
        body = {**msgspec.structs.asdict(data), "members": _members(data.members)}
        obj = await pbx.create_queue(request.user, body, **_settings(request))
        return _queue(obj, await get_live(request.user.company_id))

    @put("/{object_id:int}", summary="Update a queue; fields left out keep their value (members too)", responses=ERRORS)
    async def update(self, request: Request, object_id: FromPath[int], data: JSONBody[QueueUpdate]) -> dict:
        company_id = request.user.company_id
        current = await pbx.get_queue(company_id, object_id)
        if _given(data.name) and data.name != current.name:
            raise ValidationError({"name": N_("A queue's name cannot change: create a new one.")})
        body: dict[str, Any] = {k: current.details.get(k) for k in ("strategy", "timeout", "wrapuptime", "maxlen")}
        body = {k: v for k, v in body.items() if v is not None}
        body["members"] = [{"extension": m["extension"], "penalty": m["penalty"]} for m in current.details["members"]]
        for key in ("strategy", "timeout", "wrapuptime", "maxlen"):
            if _given(getattr(data, key)):
                body[key] = getattr(data, key)
        if _given(data.members):
            body["members"] = _members(data.members)
        obj = await pbx.update_queue(request.user, object_id, body, **_settings(request))
        return _queue(obj, await get_live(company_id))

    @delete("/{object_id:int}", status_code=204, summary="Delete a queue", responses=ERRORS)
    async def remove(self, request: Request, object_id: FromPath[int]) -> None:
        await pbx.delete_queue(request.user, object_id)


class CallsApi(Controller):
    """Seed 004 §3.5; the same rules as the console's buttons."""

    path = "/calls"
    tags = ["calls"]
    opt = CALLS

    @post("/hangup", status_code=200, summary="Hang up a live call (AMI Hangup)", responses=ERRORS)
    async def hangup(self, request: Request, data: JSONBody[HangupIn]) -> ActionOut:
        result = await calls.hangup_call(request.app.state.settings, request.user, msgspec.structs.asdict(data))
        return ActionOut(result.ok, result.message)

    @post(
        "/transfer", status_code=200, summary="Blind-transfer a live call to a number (AMI Redirect)", responses=ERRORS
    )
    async def transfer(self, request: Request, data: JSONBody[TransferIn]) -> ActionOut:
        result = await calls.transfer_call(request.app.state.settings, request.user, msgspec.structs.asdict(data))
        return ActionOut(result.ok, result.message)

    @get("/", summary="Live calls of the company and the counters", responses=ERRORS)
    async def live_calls(self, request: Request) -> dict:
        live = await get_live(request.user.company_id)
        return {"calls": live["calls"], "stats": live["stats"]}


Text = Annotated[str, QueryParameter(max_length=80)]
DateText = Annotated[str, QueryParameter(max_length=40, description="YYYY-MM-DD")]


class CdrApi(Controller):
    """Seed 004 §3.4: ``?page=1&limit=15&search=...&startDate=...&endDate=...`` (also ``q``,
    ``from``, ``to``, ``disposition``, ``min_duration`` and the keyset ``cursor``, fast at any
    depth). ``search`` finds numbers and names containing the text. ``total`` counts the
    matching calls exactly below 2,000 (``total_exact``; else ``total`` is 2,000, a lower
    bound: exact counts of dense searches cost 100-500 ms on 1M rows); pages go on past it."""

    path = "/cdr"
    tags = ["calls"]
    opt = CALLS

    @get("/", summary="Call history (CDR) of the company, newest first, with the total", responses=ERRORS)
    async def index(
        self,
        request: Request,
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 25,
        search: Text = "",
        q: Text = "",
        disposition: Text = "",
        start_date: Annotated[str, QueryParameter(name="startDate", max_length=40)] = "",
        end_date: Annotated[str, QueryParameter(name="endDate", max_length=40)] = "",
        from_: Annotated[str, QueryParameter(name="from", max_length=40)] = "",
        to: DateText = "",
        min_duration: Annotated[str, QueryParameter(max_length=10)] = "",
        cursor: Annotated[str, QueryParameter(max_length=200)] = "",
    ) -> dict:
        f = cdr.parse_filter(
            {
                "q": q or search,
                "from": from_ or start_date,
                "to": to or end_date,
                "disposition": disposition,
                "min_duration": min_duration,
            }
        )
        if (page - 1) * limit > cdr.MAX_OFFSET:
            raise ValidationError({"page": N_("This page is too deep: use cursor to go further.")})
        company_id = request.user.company_id
        result = await cdr.search_cdr(
            company_id, f, cursor=cursor or None, limit=limit, offset=0 if cursor else (page - 1) * limit
        )
        counted = result.total if result.total is not None else await cdr.count_cdr(company_id, f)
        total = min(counted, cdr.TOTAL_CAP)  # counted reaches TOTAL_CAP + 1 at most: "more than"
        rows = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in result.rows]
        return {
            "items": rows,
            "total": total,
            "total_exact": counted < cdr.TOTAL_CAP,
            "page": page,
            "limit": limit,
            "pages": max(1, -(-total // limit)),
            "next_cursor": result.next_cursor,
        }


ROUTER = Router(
    path="/api",
    route_handlers=[ExtensionsApi, TrunksApi, QueuesApi, CallsApi, CdrApi],
    guards=[api_auth],
    security=[{"apiKey": []}],
    exception_handlers={ValidationException: validation_error},
    include_in_schema=True,  # published at /schema with /api/v1 (create_app leaves the pages out)
)
