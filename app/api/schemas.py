"""Request bodies of ``/api/v1`` (msgspec structs: Litestar validates them and documents them
in the OpenAPI schema). Limits here are the same as the domain's; the domain checks again."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Id = Annotated[int, Meta(ge=1, le=2**31 - 1)]
Note = Annotated[str, Meta(max_length=2000)]


class ContactIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: Annotated[str, Meta(min_length=1, max_length=40, description="International format, e.g. +33612345678")]
    name: Annotated[str, Meta(max_length=200)] = ""


class OrderItemIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    price: Annotated[float, Meta(ge=0, le=1_000_000_000, description="Unit price, at most two decimals")]
    quantity: Annotated[int, Meta(ge=1, le=100_000)] = 1
    id: Annotated[str, Meta(max_length=100, description="Your product id, kept with the item")] | None = None


class OrderIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either ``contact_id`` (an existing customer) or ``phone`` (and ``name``): found or created."""

    items: Annotated[list[OrderItemIn], Meta(min_length=1, max_length=100)]
    phone: Annotated[str, Meta(max_length=40)] | None = None
    name: Annotated[str, Meta(max_length=200)] = ""
    contact_id: Id | None = None
    external_id: (
        Annotated[str, Meta(max_length=100, description="Your reference; a repeated POST returns the same order")]
        | None
    ) = None
    currency: Annotated[str, Meta(pattern="^[A-Z]{3}$")] = "EUR"
    channel_id: Id | None = None


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["confirm", "cancel"]


class AssignIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Id
    note: Note = ""


class TransferIn(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly one of ``department_id`` (back to its queue) and ``user_id`` (an agent)."""

    department_id: Id | None = None
    user_id: Id | None = None
    note: Note = ""


class SendIn(msgspec.Struct, forbid_unknown_fields=True):
    """``text``; ``media`` (a public https URL the provider downloads, with an optional caption in
    ``text``); or ``template`` (Meta: ``template_name`` + ``template_language`` +
    ``template_params``; Twilio: ``content_sid`` + ``content_variables``), required more than 24
    hours after the customer's last message on Meta and Twilio."""

    type: Literal["text", "media", "template"] = "text"
    text: Annotated[str, Meta(max_length=4096)] = ""
    media_url: Annotated[str, Meta(max_length=2000)] = ""
    media_type: Literal["image", "document", "audio", "video"] = "image"
    mime_type: Annotated[str, Meta(max_length=100)] = ""
    filename: Annotated[str, Meta(max_length=200)] = ""
    template_name: Annotated[str, Meta(max_length=512)] = ""
    template_language: Annotated[str, Meta(max_length=16)] = "en_US"
    template_params: Annotated[list[Annotated[str, Meta(max_length=1000)]], Meta(max_length=20)] = []
    content_sid: Annotated[str, Meta(max_length=34)] = ""
    content_variables: Annotated[dict[str, Annotated[str, Meta(max_length=1000)]], Meta(max_length=20)] = {}
