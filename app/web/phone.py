"""The agent's phone in the browser (issue 17): the screen-pop, the phone chip beside the chat
presence, creating a contact for an unknown caller, click-to-call from a conversation or a
contact, and a missed call's WhatsApp follow-up. The live part is ``render_live`` (SSE)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import ServerSentEventMessage, Template

from app.domain import sql
from app.domain.callers import caller_card, e164_of
from app.domain.conversations import take_conversation
from app.domain.errors import NotFound, PermissionDenied, ValidationError
from app.domain.missed_calls import follow_up_missed_call
from app.domain.orders import upsert_contact
from app.domain.phone import ON_THE_PHONE, AgentPhoneChanged, get_phone, linked_extension
from app.domain.tables import User
from app.i18n import N_
from app.telephony import calls
from app.web.forms import read_form
from app.web.security import staff
from app.web.templating import render_fragment


async def pop_context(company_id: int, phone: dict | None) -> dict:
    card = None
    if phone and phone["state"] in ON_THE_PHONE and phone["peer_num"]:
        card = await caller_card(company_id, phone["peer_num"].split(",")[0].strip())
    return {
        "phone": phone,
        "card": card,
        "call_id": (phone or {}).get("call_id", ""),
        "state": (phone or {}).get("state", ""),
    }


async def render_live(event: AgentPhoneChanged, viewer: User) -> list[ServerSentEventMessage]:
    """The agent's own pages: the screen-pop appears while the phone rings or talks, and goes."""
    if viewer.id != event.user_id:
        return []
    context = await pop_context(event.company_id, await get_phone(event.company_id, event.user_id))
    return [
        ServerSentEventMessage(event="screen-pop", data=render_fragment("phone/_pop.html", **context) or " "),
        ServerSentEventMessage(event="my-phone", data=render_fragment("phone/_chip.html", **context) or " "),
    ]


class PhoneController(Controller):
    path = "/phone"
    guards = [staff]

    @get("/me")
    async def me(self, request: Request) -> Response | Template:
        """What the page shows when it opens (later changes come over SSE)."""
        phone = await get_phone(request.user.company_id, request.user.id)
        if phone is None:
            return Response(b"", status_code=204)
        return Template("phone/_me.html", context=await pop_context(request.user.company_id, phone))

    @post("/call", status_code=200)
    async def call(self, request: Request) -> Template:
        """Click-to-call: the agent's own phone rings first, then the customer's number is
        dialled through the company's context (which holds its outbound route)."""
        me = request.user
        data = await read_form(request)
        try:
            contact_id = int(str(data.get("contact_id") or ""))
        except ValueError:
            raise ValidationError({"contact_id": N_("Choose a customer.")}) from None
        phone_number = await sql.fetchval(
            "SELECT phone FROM contact WHERE company_id = $1 AND id = $2", me.company_id, contact_id
        )
        if not phone_number:
            raise NotFound(N_("No such customer."))
        extension = await linked_extension(me.company_id, me.id)
        if extension is None:
            raise ValidationError(
                {"extension": N_("You have no phone: an admin links your extension in the user form.")}
            )
        result = await calls.originate_call(
            request.app.state.settings, me, {"extension": extension["name"], "destination": phone_number}
        )
        return Template(
            "operator/_toast.html", context={"message": result.message or N_("Calling."), "kind": "success"}
        )

    @post("/missed", status_code=200)
    async def missed(self, request: Request) -> Response:
        """One click on a missed call: the company's "we missed your call" WhatsApp message,
        then the conversation opens (given to the agent who clicked when they may take it)."""
        me = request.user
        data = await read_form(request)
        conversation_id = await follow_up_missed_call(me.company_id, str(data.get("number") or ""), user_id=me.id)
        try:
            await take_conversation(me, conversation_id)
        except (PermissionDenied, ValidationError):
            pass  # someone else holds it: the conversation still opens, read-only for this agent
        return Response(b"", status_code=200, headers={"HX-Redirect": f"/inbox/{conversation_id}"})

    @post("/contacts", status_code=200)
    async def create_contact(self, request: Request) -> Template:
        data = await read_form(request)
        raw = str(data.get("phone") or "")
        await upsert_contact(request.user.company_id, e164_of(raw) or raw, data.get("name"))
        phone = await get_phone(request.user.company_id, request.user.id)
        return Template("phone/_pop.html", context=await pop_context(request.user.company_id, phone))
