"""``/api/v1`` for what the admin pages and the agents' screens do (seeds 000 and 003 drove
them by JSON): who am I, users, departments and channels (``admin`` permission), agent
presence, message search, metrics per agent and per department, media upload and download.

Handlers parse, call one domain action or read, answer JSON; rules live in ``app.domain``.
Partial updates (PATCH) start from the current values, so what a request leaves out stays.
Channel credentials are never returned in clear: secret fields are masked as on the pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, PathParameter, QueryParameter
from litestar.response import File
from msgspec import UNSET, Meta, UnsetType

from app.api.auth import ApiPrincipal
from app.api.routes import ERRORS, Cursor, Limit, OptId, page
from app.domain import api_reads, channels, departments, metrics, orders, presence, users
from app.domain.errors import NotFound, ValidationError
from app.domain.media import get_media_file, save_upload
from app.domain.messages import queue_message
from app.domain.sql import fetch
from app.i18n import N_

PathId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
ADMIN = {"scope": "admin", "session_roles": ("admin",)}
Role = Literal["admin", "supervisor", "agent"]


class UserIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=120)]
    email: Annotated[str, Meta(min_length=3, max_length=254)]
    password: Annotated[str, Meta(min_length=1, max_length=200)]
    role: Role = "agent"
    capacity: Annotated[int, Meta(ge=0, le=100)] = 5
    language: Literal["", "en", "fr", "pt_BR"] = ""
    department_ids: Annotated[list[Annotated[int, Meta(ge=1, le=2**31 - 1)]], Meta(max_length=200)] = []


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=120)] | UnsetType = UNSET
    email: Annotated[str, Meta(min_length=3, max_length=254)] | UnsetType = UNSET
    password: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    capacity: Annotated[int, Meta(ge=0, le=100)] | UnsetType = UNSET
    language: Literal["", "en", "fr", "pt_BR"] | UnsetType = UNSET
    department_ids: Annotated[list[Annotated[int, Meta(ge=1, le=2**31 - 1)]], Meta(max_length=200)] | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class PresenceIn(msgspec.Struct, forbid_unknown_fields=True):
    presence: Literal["online", "busy", "offline"]


class DepartmentIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=120)]
    code: Annotated[str, Meta(min_length=1, max_length=32)]
    colour: Annotated[str, Meta(pattern=r"^#[0-9A-Fa-f]{6}$")] = "#4f46e5"
    response_timeout: Annotated[int, Meta(ge=10, le=86400)] = 300
    menu_position: Annotated[int, Meta(ge=0, le=99)] = 0


class DepartmentPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=120)] | UnsetType = UNSET
    code: Annotated[str, Meta(min_length=1, max_length=32)] | UnsetType = UNSET
    colour: Annotated[str, Meta(pattern=r"^#[0-9A-Fa-f]{6}$")] | UnsetType = UNSET
    response_timeout: Annotated[int, Meta(ge=10, le=86400)] | UnsetType = UNSET
    menu_position: Annotated[int, Meta(ge=0, le=99)] | UnsetType = UNSET


Credentials = Annotated[dict[str, Annotated[str, Meta(max_length=2000)]], Meta(max_length=20)]


class ChannelIn(msgspec.Struct, forbid_unknown_fields=True):
    """``credentials``: the provider's fields (``GET /api/v1/channels/providers``)."""

    name: Annotated[str, Meta(min_length=1, max_length=120)]
    provider: Literal["whapi", "waha", "evolution", "meta", "twilio", "custom", "sandbox"]
    credentials: Credentials = {}
    webhook_secret: Annotated[str, Meta(max_length=128)] = ""
    default_department_id: Annotated[int, Meta(ge=1, le=2**31 - 1)] | None = None


class ChannelPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Credentials left out keep their value; so do empty secret fields."""

    name: Annotated[str, Meta(min_length=1, max_length=120)] | UnsetType = UNSET
    credentials: Credentials | UnsetType = UNSET
    webhook_secret: Annotated[str, Meta(max_length=128)] | UnsetType = UNSET
    default_department_id: Annotated[int, Meta(ge=1, le=2**31 - 1)] | None | UnsetType = UNSET
    active: bool | UnsetType = UNSET


def _given(value: Any) -> bool:
    return value is not UNSET


async def user_out(company_id: int, user_id: int) -> dict:
    found = [u for u in await api_reads.list_users(company_id) if u["id"] == user_id]
    if not found:
        raise NotFound(N_("No such user."))
    return found[0]


def department_out(d) -> dict:
    return {k: getattr(d, k) for k in ("id", "name", "code", "colour", "response_timeout", "menu_position")}


def channel_out(ch: channels.ChannelInfo) -> dict:
    secret = {f.name for f in ch.impl.fields if f.secret}
    return {
        "id": ch.id,
        "name": ch.name,
        "provider": ch.provider,
        "active": ch.active,
        "default_department_id": ch.default_department_id,
        "webhook_path": ch.webhook_path(),
        "credentials": {k: (channels.mask(v) if k in secret else v) for k, v in ch.credentials.items()},
        "webhook_secret": channels.mask(ch.webhook_secret),
        "created_at": ch.created_at.isoformat() if ch.created_at else None,
    }


class MeApi(Controller):
    tags = ["team"]

    @get(
        "/me",
        summary="Who is calling: the API key (company, permissions) or the logged-in user",
        opt={"any_scope": True},
        responses=ERRORS,
    )
    async def me(self, request: Request) -> dict:
        who = request.user
        company = {"id": who.company_id}
        if isinstance(who, ApiPrincipal):
            return {
                "type": "api_key",
                "company": company,
                "key_id": who.key_id,
                "name": who.name,
                "scopes": list(who.scopes),
            }
        return {"type": "user", "company": company, **(await user_out(who.company_id, who.id))}


class UsersAdminApi(Controller):
    path = "/users"
    tags = ["team"]

    @get("/{user_id:int}", summary="One user with presence, load and departments", responses=ERRORS)
    async def show(self, request: Request, user_id: PathId) -> dict:
        return await user_out(request.user.company_id, user_id)

    @post("/", summary="Create a user (admin)", opt=ADMIN, responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[UserIn]) -> dict:
        user = await users.create_user(request.user.company_id, msgspec.structs.asdict(data))
        return await user_out(request.user.company_id, user.id)

    @patch(
        "/{user_id:int}", summary="Change a user; fields left out keep their value (admin)", opt=ADMIN, responses=ERRORS
    )
    async def update(self, request: Request, user_id: PathId, data: JSONBody[UserPatch]) -> dict:
        company_id = request.user.company_id
        current = await user_out(company_id, user_id)
        user = await users.get_user(company_id, user_id)
        body = {
            "name": user.name,
            "email": user.email,
            "role": user.role,
            "capacity": user.capacity,
            "language": user.language or "",
            "department_ids": current["department_ids"],
        }
        body.update({k: v for k, v in msgspec.structs.asdict(data).items() if _given(v) and k != "active"})
        await users.update_user(request.user, user_id, body)
        if _given(data.active):
            await users.set_user_active(request.user, user_id, data.active)
        return await user_out(company_id, user_id)

    @put("/{user_id:int}/presence", summary="Set an agent's presence (online, busy, offline)", responses=ERRORS)
    async def set_presence(self, request: Request, user_id: PathId, data: JSONBody[PresenceIn]) -> dict:
        user = await users.get_user(request.user.company_id, user_id)
        if not user.active:
            raise NotFound(N_("No such user."))
        await presence.set_presence(user, data.presence)
        return await user_out(request.user.company_id, user_id)


class DepartmentsAdminApi(Controller):
    path = "/departments"
    tags = ["team"]
    opt = ADMIN

    @post("/", summary="Create a department (admin)", responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[DepartmentIn]) -> dict:
        return department_out(
            await departments.create_department(request.user.company_id, msgspec.structs.asdict(data))
        )

    @patch(
        "/{department_id:int}",
        summary="Change a department; fields left out keep their value (admin)",
        responses=ERRORS,
    )
    async def update(self, request: Request, department_id: PathId, data: JSONBody[DepartmentPatch]) -> dict:
        company_id = request.user.company_id
        body = department_out(await departments.get_department(company_id, department_id))
        body.update({k: v for k, v in msgspec.structs.asdict(data).items() if _given(v)})
        return department_out(await departments.update_department(company_id, department_id, body))

    @delete("/{department_id:int}", status_code=204, summary="Delete a department (admin)", responses=ERRORS)
    async def remove(self, request: Request, department_id: PathId) -> None:
        await departments.delete_department(request.user.company_id, department_id)


def _channel_form(
    name: str, credentials: dict, webhook_secret: str, department_id: int | None, provider: str = ""
) -> dict:
    form = {
        "name": name,
        "webhook_secret": webhook_secret,
        "default_department_id": department_id or "",
        **{f"cred_{k}": v for k, v in credentials.items()},
    }
    return {**form, "provider": provider} if provider else form


class ChannelsAdminApi(Controller):
    path = "/channels"
    tags = ["team"]
    opt = ADMIN

    @get("/", summary="WhatsApp channels (admin; secrets masked)", responses=ERRORS)
    async def index(self, request: Request) -> list[dict]:
        return [channel_out(c) for c in await channels.list_channels(request.user.company_id)]

    @get("/providers", summary="Providers and their credential fields (admin)", responses=ERRORS)
    async def providers(self) -> list[dict]:
        from app.providers import PROVIDERS

        return [
            {
                "name": p.name,
                "label": p.label,
                "fields": [
                    {"name": f.name, "label": f.label, "secret": f.secret, "required": f.required} for f in p.fields
                ],
            }
            for p in PROVIDERS.values()
        ]

    @get("/{channel_id:int}", summary="One channel (admin; secrets masked)", responses=ERRORS)
    async def show(self, request: Request, channel_id: PathId) -> dict:
        return channel_out(await channels.get_channel(request.user.company_id, channel_id))

    @post("/", summary="Add a channel (admin); the webhook secret is generated when left empty", responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[ChannelIn]) -> dict:
        created = await channels.create_channel(
            request.user.company_id,
            _channel_form(data.name, data.credentials, data.webhook_secret, data.default_department_id, data.provider),
        )
        return {**channel_out(created), "webhook_secret": created.webhook_secret}  # shown once, as on the page

    @patch("/{channel_id:int}", summary="Change a channel; fields left out keep their value (admin)", responses=ERRORS)
    async def update(self, request: Request, channel_id: PathId, data: JSONBody[ChannelPatch]) -> dict:
        company_id = request.user.company_id
        ch = await channels.get_channel(company_id, channel_id)
        secret = {f.name for f in ch.impl.fields if f.secret}
        creds = {k: ("" if k in secret else v) for k, v in ch.credentials.items()}  # empty secret: kept
        if _given(data.credentials):
            creds.update(data.credentials)
        form = _channel_form(
            data.name if _given(data.name) else ch.name,
            creds,
            data.webhook_secret if _given(data.webhook_secret) else "",
            data.default_department_id if _given(data.default_department_id) else ch.default_department_id,
        )
        ch = await channels.update_channel(company_id, channel_id, form)
        if _given(data.active) and data.active != ch.active:
            ch = await channels.set_channel_active(company_id, channel_id, data.active)
        return channel_out(ch)


class SearchApi(Controller):
    tags = ["conversations"]

    @get("/messages", summary="Search messages by text, newest first (cursor pagination)", responses=ERRORS)
    async def search(
        self,
        request: Request,
        q: Annotated[str, QueryParameter(min_length=2, max_length=100)],
        conversation_id: OptId = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> dict:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await fetch(
            """SELECT id, conversation_id, direction, author, type, text, status, data, error_code, error_reason,
                      created_at, sent_at FROM message
               WHERE company_id = $1 AND text ILIKE $2 AND ($3::int IS NULL OR conversation_id = $3)
                 AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5""",
            request.user.company_id,
            like,
            conversation_id,
            cursor,
            limit + 1,
        )
        items = [api_reads.message_out(r) for r in rows[:limit]]
        return page(items, items[-1]["id"] if len(rows) > limit else None)


def _row(row: metrics.Row) -> dict:
    out = {k: v for k, v in row.__dict__.items() if k not in ("key", "label")}
    return {"id": row.key, "name": row.label, **out}


class MetricsApi(Controller):
    path = "/metrics"
    tags = ["metrics"]

    async def _rows(self, request: Request, group: str, start: str, end: str) -> dict:
        company_id = request.user.company_id
        today = datetime.now(await metrics.company_zone(company_id)).date()
        query = metrics.parse_query({"from": start, "to": end, "group": group}, today)
        rows = await metrics.compute_query(company_id, query)
        return {"from": query.start_day.isoformat(), "to": query.end_day.isoformat(), "items": [_row(r) for r in rows]}

    @get(
        "/agents",
        summary="Per-agent figures over a period (from, to: YYYY-MM-DD; default the last 7 days)",
        responses=ERRORS,
    )
    async def agents(
        self,
        request: Request,
        from_: Annotated[str, QueryParameter(name="from", max_length=10)] = "",
        to: Annotated[str, QueryParameter(max_length=10)] = "",
    ) -> dict:
        return await self._rows(request, "agent", from_, to)

    @get("/departments", summary="Per-department figures over a period (from, to: YYYY-MM-DD)", responses=ERRORS)
    async def departments(
        self,
        request: Request,
        from_: Annotated[str, QueryParameter(name="from", max_length=10)] = "",
        to: Annotated[str, QueryParameter(max_length=10)] = "",
    ) -> dict:
        return await self._rows(request, "department", from_, to)


class MediaApi(Controller):
    tags = ["conversations"]

    @post(
        "/conversations/{conversation_id:int}/media",
        summary="Send a file (multipart: file, caption)",
        opt={"scope": "write"},
        responses=ERRORS,
    )
    async def upload(
        self,
        request: Request,
        conversation_id: PathId,
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> dict:
        upload = data.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ValidationError({"file": N_("Choose a file.")})
        settings = request.app.state.settings
        content = await upload.read()
        media = save_upload(
            settings.data_dir,
            request.user.company_id,
            content,
            upload.content_type or "",
            upload.filename,
            settings.media_max_bytes,
        )
        caption = data.get("caption")
        message_id = await queue_message(
            request.user.company_id,
            conversation_id,
            {"text": caption if isinstance(caption, str) else ""},
            user_id=request.user.id,
            media=media,
        )
        return await api_reads.get_message(request.user.company_id, message_id)

    @get(
        "/messages/{message_id:int}/media",
        summary="Download a message's file",
        responses=ERRORS,
        media_type="application/octet-stream",
    )
    async def download(self, request: Request, message_id: PathId) -> File:
        settings = request.app.state.settings
        path, mime, name = await get_media_file(request.user.company_id, message_id, settings.data_dir)
        return File(path=path, filename=name, media_type=mime, headers={"X-Content-Type-Options": "nosniff"})


class OrderSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    """The company's order confirmation: answer keywords (one per line), the request's text
    (placeholders {name}, {reference}, {items}, {total}), and the default template used outside
    the 24-hour window: Meta ``template_name`` + ``template_language`` (parameters: name,
    reference, total), Twilio ``content_sid`` (variables 1, 2, 3 the same). Fields left out keep
    their value."""

    confirm_words: Annotated[str, Meta(max_length=4000)] | UnsetType = UNSET
    cancel_words: Annotated[str, Meta(max_length=4000)] | UnsetType = UNSET
    request_text: Annotated[str, Meta(max_length=2000)] | UnsetType = UNSET
    template_name: Annotated[str, Meta(max_length=512)] | UnsetType = UNSET
    template_language: Annotated[str, Meta(max_length=16)] | UnsetType = UNSET
    content_sid: Annotated[str, Meta(max_length=34)] | UnsetType = UNSET


def _order_settings_out(s: orders.OrderSettings) -> dict:
    return {
        "confirm_words": "\n".join(s.confirm_words),
        "cancel_words": "\n".join(s.cancel_words),
        "request_text": s.request_text,
        "template_name": s.template_name,
        "template_language": s.template_language,
        "content_sid": s.content_sid,
    }


class OrderSettingsApi(Controller):
    path = "/order-settings"
    tags = ["orders"]
    opt = {"scope": "orders"}

    @get("/", summary="The order confirmation settings, with the default template for closed windows", responses=ERRORS)
    async def show(self, request: Request) -> dict:
        return _order_settings_out(await orders.get_order_settings(request.user.company_id))

    @put("/", summary="Change the order confirmation settings; fields left out keep their value", responses=ERRORS)
    async def update(self, request: Request, data: JSONBody[OrderSettingsIn]) -> dict:
        company_id = request.user.company_id
        body = _order_settings_out(await orders.get_order_settings(company_id))
        body.update({k: v for k, v in msgspec.structs.asdict(data).items() if _given(v)})
        return _order_settings_out(await orders.update_order_settings(company_id, body))


HANDLERS = [
    MeApi,
    OrderSettingsApi,
    UsersAdminApi,
    DepartmentsAdminApi,
    ChannelsAdminApi,
    SearchApi,
    MetricsApi,
    MediaApi,
]
