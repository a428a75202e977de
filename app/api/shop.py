"""Seed 001's shop API, unchanged for the shop: ``/api/clients`` and ``/api/orders`` with the
seed's paths, field names and answers, mapped onto contacts and orders.

A client reads ``{_id, id, phoneNumber, name, status, lastContact, createdAt, orders}``; an order
``{_id, id, clientId, products: [{id, name, price, quantity}], status, total, currency,
createdAt, ...}`` (prices as numbers, as the shop sends them). Creating an order sends the
customer the confirmation request over WhatsApp (``app.domain.orders``), and their "oui"
confirms both the order and the client. Keys need the ``orders`` permission; logged-in
admins and supervisors may call it with the ``x-csrftoken`` header.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, Response, Router, get, post, put
from litestar.exceptions import ValidationException
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import UNSET, Meta, UnsetType

from app.api.auth import api_auth
from app.api.errors import validation_error
from app.api.routes import ERRORS
from app.domain import clients, orders

Status = Literal["pending", "confirmed", "cancelled"]
PathId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
Phone = Annotated[str, Meta(min_length=1, max_length=40, description="International format, e.g. +33612345678")]


class ClientIn(msgspec.Struct):
    phoneNumber: Phone
    name: Annotated[str, Meta(max_length=200)] = ""
    status: Status | UnsetType = UNSET


class ClientUpdate(msgspec.Struct):
    """Fields left out keep their value; ``status`` confirmed/cancelled decides the client's
    newest pending order too."""

    status: Status | UnsetType = UNSET
    name: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET


class ProductIn(msgspec.Struct):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    price: Annotated[float, Meta(ge=0, le=1_000_000_000)] | Annotated[str, Meta(max_length=20)]
    quantity: Annotated[int, Meta(ge=1, le=100_000)] = 1
    id: Annotated[str, Meta(max_length=100)] | int | None = None


class OrderIn(msgspec.Struct):
    clientId: Annotated[int, Meta(ge=1, le=2**31 - 1)] | Annotated[str, Meta(pattern=r"^[0-9]{1,10}$")]
    products: Annotated[list[ProductIn], Meta(min_length=1, max_length=100)]
    reference: (
        Annotated[str, Meta(max_length=100, description="Your order reference; a repeated POST returns the same order")]
        | None
    ) = None
    currency: Annotated[str, Meta(pattern="^[A-Z]{3}$")] = "EUR"


def _price(value: str) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() else number


def order_out(order: dict) -> dict:
    return {
        "_id": order["id"],
        "id": order["id"],
        "clientId": order["contact_id"],
        "reference": order["reference"],
        "products": [
            {
                **({"id": i["id"]} if "id" in i else {}),
                "name": i["name"],
                "price": _price(i["price"]),
                "quantity": i["quantity"],
            }
            for i in order["items"]
        ],
        "status": order["status"],
        "total": _price(order["total"]),
        "currency": order["currency"],
        "conversationId": order["conversation_id"],
        "createdAt": order["created_at"].isoformat(),
        "decidedAt": order["decided_at"].isoformat() if order["decided_at"] else None,
    }


async def client_out(company_id: int, client: dict) -> dict:
    found, _ = await orders.list_orders(company_id, contact_id=client["id"], limit=20)
    return {
        "_id": client["id"],
        "id": client["id"],
        "phoneNumber": client["phone"],
        "name": client["name"],
        "status": client["client_status"],
        "lastContact": client["last_contact"].isoformat(),
        "createdAt": client["created_at"].isoformat(),
        "orders": [order_out(o) for o in found],
    }


class ClientsApi(Controller):
    path = "/clients"
    tags = ["seed 001 shop"]
    opt = {"scope": "orders"}

    @get("/", summary="The shop's clients, newest first", responses=ERRORS)
    async def index(
        self,
        request: Request,
        status: Annotated[Status | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[dict]:
        company_id = request.user.company_id
        return [
            await client_out(company_id, c)
            for c in await clients.list_clients(company_id, status=status or "", limit=limit)
        ]

    @get("/{client_id:int}", summary="One client with their latest orders", responses=ERRORS)
    async def show(self, request: Request, client_id: PathId) -> dict:
        company_id = request.user.company_id
        return await client_out(company_id, await clients.get_client(company_id, client_id))

    @post("/", summary="Create a client (or find the one with this phone number)", responses=ERRORS)
    async def create(self, request: Request, data: JSONBody[ClientIn]) -> Response[dict]:
        company_id = request.user.company_id
        client, created = await clients.create_client(
            company_id, data.phoneNumber, data.name, data.status if data.status is not UNSET else None
        )
        return Response(await client_out(company_id, client), status_code=201 if created else 200)

    @put("/{client_id:int}", summary="Update a client's status or name", responses=ERRORS)
    async def update(self, request: Request, client_id: PathId, data: JSONBody[ClientUpdate]) -> dict:
        company_id = request.user.company_id
        client = await clients.update_client(
            company_id,
            client_id,
            status=data.status if data.status is not UNSET else None,
            name=data.name if data.name is not UNSET else None,
        )
        return await client_out(company_id, client)


class ShopOrdersApi(Controller):
    path = "/orders"
    tags = ["seed 001 shop"]
    opt = {"scope": "orders"}

    @post(
        "/", summary="Create an order for a client; the customer is asked to confirm it over WhatsApp", responses=ERRORS
    )
    async def create(self, request: Request, data: JSONBody[OrderIn]) -> Response[dict]:
        company_id = request.user.company_id
        client_id = int(data.clientId)
        await clients.get_client(company_id, client_id)
        items = [
            {
                "name": p.name,
                "price": p.price,
                "quantity": p.quantity,
                **({"id": str(p.id)} if p.id not in (None, "") else {}),
            }
            for p in data.products
        ]
        order, created = await orders.create_order(
            company_id,
            {"contact_id": client_id, "items": items, "external_id": data.reference, "currency": data.currency},
        )
        return Response(order_out(order), status_code=201 if created else 200)

    @get("/", summary="Orders, newest first", responses=ERRORS)
    async def index(
        self,
        request: Request,
        status: Annotated[Status | None, QueryParameter()] = None,
        clientId: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[dict]:
        found, _ = await orders.list_orders(
            request.user.company_id, status=status or "", contact_id=clientId, limit=limit
        )
        return [order_out(o) for o in found]

    @get("/{order_id:int}", summary="One order", responses=ERRORS)
    async def show(self, request: Request, order_id: PathId) -> dict:
        return order_out(await orders.get_order(request.user.company_id, order_id))


ROUTER = Router(
    path="/api",
    route_handlers=[ClientsApi, ShopOrdersApi],
    guards=[api_auth],
    security=[{"apiKey": []}],
    exception_handlers={ValidationException: validation_error},
    include_in_schema=True,  # published at /schema with /api/v1 (create_app leaves the pages out)
)
