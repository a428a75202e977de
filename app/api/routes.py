"""``/api/v1`` handlers: parse, call one domain action or read, answer JSON. No rules here."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from app.api.schemas import AssignIn, ContactIn, DecisionIn, OrderIn, SendIn, TransferIn
from app.domain import api_reads, orders
from app.domain.callers import calls_of_number
from app.domain.conversations import assign_to_agent, resolve_conversation, transfer_conversation
from app.domain.errors import ValidationError
from app.domain.messages import queue_message
from app.i18n import N_

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Items per page")]
Cursor = Annotated[int | None, QueryParameter(ge=1, le=2**62, description="next_cursor of the previous page")]
OptId = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]
PathId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


class ErrorDetail(msgspec.Struct):
    status: int
    message: str
    request_id: str


class ErrorBody(msgspec.Struct):
    """Every error of the API: ``{"error": {"status", "message", "request_id"}}``."""

    error: ErrorDetail


ERRORS = {
    code: ResponseSpec(data_container=ErrorBody, description=text, generate_examples=False)
    for code, text in [
        (400, "Invalid input (the message names the fields)"),
        (401, "No or unknown API key"),
        (403, "The key lacks the permission, or the action is not allowed"),
        (404, "No such object in your company"),
        (429, "Rate limit exceeded: see Retry-After"),
    ]
}


def page(items: list, next_cursor: int | None) -> dict:
    return {"items": items, "next_cursor": next_cursor}


class ContactsApi(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @get("/", summary="Customers, newest first (search by name or phone)", responses=ERRORS)
    async def index(
        self,
        request: Request,
        q: Annotated[str, QueryParameter(max_length=100)] = "",
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> dict:
        return page(*await api_reads.list_contacts(request.user.company_id, query=q, before=cursor, limit=limit))

    @get("/{contact_id:int}", summary="One customer", responses=ERRORS)
    async def show(self, request: Request, contact_id: PathId) -> dict:
        return await api_reads.get_contact(request.user.company_id, contact_id)

    @post(
        "/",
        summary="Create a customer (or update the name of the one with this phone)",
        opt={"scope": "orders"},
        responses=ERRORS,
    )
    async def create(self, request: Request, data: JSONBody[ContactIn]) -> dict:
        contact_id = await orders.upsert_contact(request.user.company_id, data.phone, data.name)
        return await api_reads.get_contact(request.user.company_id, contact_id)

    @get(
        "/{contact_id:int}/orders",
        summary="A customer's orders, newest first",
        opt={"scope": "orders"},
        responses=ERRORS,
    )
    async def contact_orders(
        self, request: Request, contact_id: PathId, cursor: Cursor = None, limit: Limit = 50
    ) -> dict:
        await api_reads.get_contact(request.user.company_id, contact_id)
        found, nxt = await orders.list_orders(
            request.user.company_id, contact_id=contact_id, before=cursor, limit=limit
        )
        return page([orders.public(o) for o in found], nxt)

    @get(
        "/{contact_id:int}/calls",
        summary="A customer's telephone calls (from the PBX's CDR), newest first",
        responses=ERRORS,
    )
    async def contact_calls(self, request: Request, contact_id: PathId, limit: Limit = 50) -> dict:
        contact = await api_reads.get_contact(request.user.company_id, contact_id)
        found = await calls_of_number(request.user.company_id, contact.get("phone") or "", limit=limit)
        return {"items": [{**c, "start": c["start"].isoformat() + "Z" if c["start"] else None} for c in found]}


class ConversationsApi(Controller):
    path = "/conversations"
    tags = ["conversations"]

    @get("/", summary="Conversations, newest first, with filters", responses=ERRORS)
    async def index(
        self,
        request: Request,
        status: FromQuery[Literal["bot", "queued", "assigned", "resolved"] | None] = None,
        department_id: OptId = None,
        assigned_user_id: OptId = None,
        contact_id: OptId = None,
        channel_id: OptId = None,
        cursor: Cursor = None,
        limit: Limit = 50,
        label: Annotated[
            str | None, QueryParameter(max_length=40, description="Only conversations with this label")
        ] = None,
    ) -> dict:
        return page(
            *await api_reads.list_conversations(
                request.user.company_id,
                status=status or "",
                department_id=department_id,
                assigned_user_id=assigned_user_id,
                contact_id=contact_id,
                channel_id=channel_id,
                before=cursor,
                limit=limit,
                label=(label or "").strip(),
            )
        )

    @get("/{conversation_id:int}", summary="One conversation", responses=ERRORS)
    async def show(self, request: Request, conversation_id: PathId) -> dict:
        return await api_reads.get_conversation(request.user.company_id, conversation_id)

    @get(
        "/{conversation_id:int}/messages",
        summary="A conversation's messages, newest first (cursor pagination)",
        responses=ERRORS,
    )
    async def messages(
        self, request: Request, conversation_id: PathId, cursor: Cursor = None, limit: Limit = 50
    ) -> dict:
        return page(
            *await api_reads.list_messages(request.user.company_id, conversation_id, before=cursor, limit=limit)
        )

    @post(
        "/{conversation_id:int}/messages",
        summary="Send text, media or a template (queued; sent by the worker)",
        responses=ERRORS,
    )
    async def send(self, request: Request, conversation_id: PathId, data: JSONBody[SendIn]) -> dict:
        user = request.user
        fields: dict[str, Any] = {"text": data.text}
        media = None
        if data.type == "media":
            parts = urlsplit(data.media_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValidationError({"media_url": N_("Enter an http:// or https:// address.")})
            media = {
                "type": data.media_type,
                "url": data.media_url,
                "mime_type": data.mime_type,
                "filename": data.filename or parts.path.rsplit("/", 1)[-1][:200],
            }
        elif data.type == "template":
            if not (data.template_name.strip() or data.content_sid.strip()):
                raise ValidationError({"template_name": N_("Give template_name (Meta) or content_sid (Twilio).")})
            fields.update(
                template_name=data.template_name,
                template_language=data.template_language,
                template_params="\n".join(p.replace("\n", " ") for p in data.template_params),
                content_sid=data.content_sid,
                content_variables=json.dumps(data.content_variables) if data.content_variables else "",
            )
        message_id = await queue_message(user.company_id, conversation_id, fields, user_id=user.id, media=media)
        return await api_reads.get_message(user.company_id, message_id)

    @post(
        "/{conversation_id:int}/assign", status_code=200, summary="Give the conversation to an agent", responses=ERRORS
    )
    async def assign(self, request: Request, conversation_id: PathId, data: JSONBody[AssignIn]) -> dict:
        await assign_to_agent(request.user, conversation_id, data.user_id, note=data.note)
        return await api_reads.get_conversation(request.user.company_id, conversation_id)

    @post(
        "/{conversation_id:int}/transfer",
        status_code=200,
        summary="Transfer to a department or an agent",
        responses=ERRORS,
    )
    async def transfer(self, request: Request, conversation_id: PathId, data: JSONBody[TransferIn]) -> dict:
        await transfer_conversation(
            request.user, conversation_id, department_id=data.department_id, user_id=data.user_id, note=data.note
        )
        return await api_reads.get_conversation(request.user.company_id, conversation_id)

    @post("/{conversation_id:int}/resolve", status_code=200, summary="Resolve the conversation", responses=ERRORS)
    async def resolve(self, request: Request, conversation_id: PathId) -> dict:
        await resolve_conversation(request.user, conversation_id)
        return await api_reads.get_conversation(request.user.company_id, conversation_id)


class OrdersApi(Controller):
    path = "/orders"
    tags = ["orders"]
    opt = {"scope": "orders"}

    @post(
        "/",
        summary="Create an order; the customer is asked to confirm it over WhatsApp",
        responses={
            **ERRORS,
            200: ResponseSpec(
                data_container=dict,
                description="An order with this external_id already existed: returned unchanged, nothing sent",
            ),
        },
    )
    async def create(self, request: Request, data: JSONBody[OrderIn]) -> Response[dict]:
        order, created = await orders.create_order(request.user.company_id, msgspec.to_builtins(data))
        return Response(orders.public(order), status_code=201 if created else 200)

    @get("/", summary="Orders, newest first", responses=ERRORS)
    async def index(
        self,
        request: Request,
        status: FromQuery[Literal["pending", "confirmed", "cancelled"] | None] = None,
        contact_id: OptId = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> dict:
        found, nxt = await orders.list_orders(
            request.user.company_id, status=status or "", contact_id=contact_id, before=cursor, limit=limit
        )
        return page([orders.public(o) for o in found], nxt)

    @get("/{order_id:int}", summary="One order", responses=ERRORS)
    async def show(self, request: Request, order_id: PathId) -> dict:
        return orders.public(await orders.get_order(request.user.company_id, order_id))

    @post(
        "/{order_id:int}/decision",
        status_code=200,
        summary="Confirm or cancel a pending order yourself",
        responses=ERRORS,
    )
    async def decide(self, request: Request, order_id: PathId, data: JSONBody[DecisionIn]) -> dict:
        order = await orders.decide_order(request.user.company_id, order_id, data.decision, by="api")
        return orders.public(order)


class DirectoryApi(Controller):
    tags = ["team"]

    @get("/departments", summary="Departments with their members and waiting queue", responses=ERRORS)
    async def departments(self, request: Request) -> list[dict]:
        return await api_reads.list_departments(request.user.company_id)

    @get("/users", summary="Users with presence and load", responses=ERRORS)
    async def users(
        self,
        request: Request,
        presence: FromQuery[Literal["online", "busy", "offline"] | None] = None,
        role: FromQuery[Literal["admin", "supervisor", "agent"] | None] = None,
    ) -> list[dict]:
        return await api_reads.list_users(request.user.company_id, presence=presence or "", role=role or "")

    @get(
        "/metrics/summary", summary="Conversations by status, the queue now, today's first responses", responses=ERRORS
    )
    async def metrics(self, request: Request) -> dict:
        return await api_reads.metrics_summary(request.user.company_id)
