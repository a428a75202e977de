"""Old conversation addresses (they lead to the inbox), media files, resending, and the Sandbox
phone simulator.

Conversations have one screen, ``/inbox/<id>`` (app.web.inbox). The simulator: an admin plays a
customer of a Sandbox channel; what they type goes through the same ingestion action as a
provider webhook.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template

from app.domain.channels import ChannelInfo, get_channel, list_channels
from app.domain.companies import get_company_country
from app.domain.conversations import agent_may_see, find_open_conversation, get_conversation, list_messages, may_reply
from app.domain.errors import NotFound, PermissionDenied, ValidationError
from app.domain.media import INLINE, get_media_file, save_upload
from app.domain.messages import get_message, receive_webhook, resend_message
from app.domain.phones import parse_phone
from app.domain.typing_indicators import receive_typing
from app.domain.validation import Cleaner
from app.i18n import N_
from app.providers.base import InboundMessage, Media, Parsed, StatusUpdate, TypingUpdate, normalise_phone
from app.web.forms import read_form
from app.web.security import admin_only, staff


async def _upload(request: Request, data: dict) -> dict | None:
    """The form's file (field ``file``) kept under DATA_DIR, or None when no file was chosen."""
    upload = data.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        return None
    settings = request.app.state.settings
    content = await upload.read()
    return save_upload(
        settings.data_dir,
        request.user.company_id,
        content,
        upload.content_type or "",
        upload.filename,
        settings.media_max_bytes,
    )


async def _conversation_of_message(request: Request, message_id: int, *, write: bool):
    """The message's conversation, if this user may see it (``write``: reply to it); else 404 / 403."""
    message = await get_message(request.user.company_id, message_id)
    conv = await get_conversation(request.user.company_id, message["conversation_id"])
    if not await agent_may_see(request.user.id, request.user.role, conv):
        raise NotFound(N_("No such message."))
    if write and not may_reply(request.user.id, request.user.role, conv):
        raise PermissionDenied(N_("Only the assigned agent or a supervisor may do this."))
    return conv


class ConversationsController(Controller):
    """The conversation has one screen, the inbox's: these addresses (old links, bookmarks,
    notifications) lead there. Media and resending stay here, shared by every screen."""

    path = "/conversations"
    guards = [staff]

    @get("/", status_code=303)
    async def index(self, request: Request) -> Redirect:
        return Redirect("/inbox?tab=all" if request.user.role in ("admin", "supervisor") else "/inbox", status_code=303)

    @get("/{conversation_id:int}", status_code=303)
    async def show(self, request: Request, conversation_id: FromPath[int]) -> Redirect:
        conv = await get_conversation(request.user.company_id, conversation_id)  # another company's: 404
        if not await agent_may_see(request.user.id, request.user.role, conv):
            raise NotFound(N_("No such conversation."))
        return Redirect(f"/inbox/{conversation_id}", status_code=303)

    @get("/media/{message_id:int}")
    async def media(self, request: Request, message_id: FromPath[int]) -> File:
        await _conversation_of_message(request, message_id, write=False)
        path, mime, name = await get_media_file(
            request.user.company_id, message_id, request.app.state.settings.data_dir
        )
        inline = mime.startswith(INLINE)
        return File(
            path=path,
            filename=name,
            media_type=mime,
            content_disposition_type="inline" if inline else "attachment",
            headers={
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox",
                "Cache-Control": "private, no-store",
            },
        )

    @post("/messages/{message_id:int}/resend", status_code=200)
    async def resend(self, request: Request, message_id: FromPath[int]) -> Response:
        await _conversation_of_message(request, message_id, write=True)
        await resend_message(request.user.company_id, message_id)
        return Response("", status_code=200)


async def _simulated_customer(request: Request, c: Cleaner, data: dict) -> tuple[ChannelInfo, str]:
    """The Sandbox channel and the customer's phone a simulator form names (with ``c``'s other
    fields' errors raised together)."""
    channel_id = c.integer("channel_id", low=1, high=2**31 - 1)
    phone = parse_phone(str(data.get("phone") or ""), await get_company_country(request.user.company_id))
    if phone is None:
        c.fail("phone", N_("Enter a phone number in international form, e.g. +15550100001."))
    c.raise_if_errors()
    channel = await get_channel(request.user.company_id, channel_id)
    if channel.provider != "sandbox":
        raise ValidationError({"channel_id": N_("Only Sandbox channels can be simulated.")})
    return channel, phone


class SimulatorController(Controller):
    path = "/simulator"
    guards = [admin_only]

    @get("/")
    async def page(
        self,
        request: Request,
        channel: FromQuery[int | None] = None,
        phone: FromQuery[str] = "+15550100001",
        name: FromQuery[str] = "Test Customer",
    ) -> Template:
        company_id = request.user.company_id
        channels = [c for c in await list_channels(company_id) if c.provider == "sandbox"]
        current = next((c for c in channels if c.id == channel), channels[0] if channels else None)
        phone = normalise_phone(phone) or "+15550100001"
        conv = await find_open_conversation(company_id, current.id, phone) if current else None
        messages = await list_messages(company_id, conv["id"]) if conv else []
        context = {
            "channels": channels,
            "current": current,
            "phone": phone,
            "name": name[:200],
            "conv": conv,
            "messages": messages,
        }
        return Template("simulator/page.html", context=context)

    @post("/send", status_code=303)
    async def send(self, request: Request) -> Redirect:
        data = await read_form(request)
        c = Cleaner(data)
        text = c.text("text", max_len=4096, required=False)
        name = c.text("name", max_len=200, required=False)
        channel, phone = await _simulated_customer(request, c, data)
        media = await _upload(request, data)
        if not text and media is None:
            raise ValidationError({"text": N_("Write a message or choose a file.")})
        kind = media.pop("type") if media else "text"
        message = InboundMessage(
            provider_message_id=f"sim-{uuid.uuid4().hex}",
            phone=phone,
            name=name,
            type=kind,
            text=text,
            media=Media(**media) if media else None,
        )
        await receive_webhook(channel, Parsed(messages=[message]))
        return Redirect(f"/simulator?channel={channel.id}&phone={quote(phone)}&name={quote(name)}", status_code=303)

    @post("/typing", status_code=204)
    async def typing(self, request: Request) -> None:
        """The customer types on the simulated phone (``state=typing`` every few seconds, then
        ``paused``): the inbox shows it, as it would a provider's presence webhook."""
        data = await read_form(request)
        c = Cleaner(data)
        state = c.choice("state", ("typing", "paused"))
        channel, phone = await _simulated_customer(request, c, data)
        await receive_typing(channel, [TypingUpdate(phone=phone, state=state)])

    @post("/read", status_code=303)
    async def read(self, request: Request) -> Redirect:
        """The customer opens the chat: the business's messages become read (blue ticks)."""
        data = await read_form(request)
        c = Cleaner(data)
        channel_id = c.integer("channel_id", low=1, high=2**31 - 1)
        conversation_id = c.integer("conversation_id", low=1, high=2**31 - 1)
        c.raise_if_errors()
        channel = await get_channel(request.user.company_id, channel_id)
        conv = await get_conversation(request.user.company_id, conversation_id)
        if conv["channel_id"] != channel.id or channel.provider != "sandbox":
            raise ValidationError({"conversation_id": N_("Not a conversation of this Sandbox channel.")})
        statuses = [
            StatusUpdate(m["provider_message_id"], "read")
            for m in await list_messages(channel.company_id, conv["id"])
            if m["direction"] == "out" and m["provider_message_id"]
        ]
        await receive_webhook(channel, Parsed(statuses=statuses))
        return Redirect(
            f"/simulator?channel={channel.id}&phone={quote(conv['phone'] or '')}&name={quote(conv['contact_name'] or '')}",
            status_code=303,
        )
