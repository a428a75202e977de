"""Missed call -> WhatsApp (issue 17): a customer whose call was missed (queue abandon, no
answer) gets the company's "we missed your call" message on its WhatsApp channel, in their
open conversation (opened if needed), in one click or automatically (``voice_settings``).

The message is the company's ``missed_call_template``: on Meta the approved template's name
(with ``missed_call_language``), on Twilio its Content SID (``HX…``), on the other providers
(no templates there) the text itself. A new conversation is opened straight into the
channel's default department's queue (else the company's first department), without the bot's
welcome, so an agent answers the customer's reply; a click also gives it to the agent who clicked.
"""

from __future__ import annotations

from app.domain import sql
from app.domain.callers import e164_of, find_contact
from app.domain.channels import get_channel
from app.domain.errors import ValidationError
from app.domain.events import ConversationOpened, ConversationRouted, emit
from app.domain.messages import queue_message
from app.domain.orders import upsert_contact
from app.domain.phone import get_voice_settings
from app.i18n import N_

AUTO_QUIET_MINUTES = 60  # automatic messages: at most one per customer in this many minutes


async def follow_up_missed_call(
    company_id: int, number: str, *, user_id: int | None = None, automatic: bool = False
) -> int | None:
    """Send the missed-call message to ``number``; returns the conversation's id (None when an
    automatic one was skipped: already sent recently)."""
    settings = await get_voice_settings(company_id)
    name = settings["missed_call_template"].strip()
    if not name:
        raise ValidationError(
            {"missed_call_template": N_("Set the missed-call message first (Admin, PBX, Voice and chat).")}
        )
    contact = await find_contact(company_id, number)
    if contact is None:
        e164 = e164_of(number)
        if e164 is None:
            raise ValidationError({"number": N_("This number has no country code: WhatsApp cannot reach it.")})
        contact_id = await upsert_contact(company_id, e164)
    else:
        contact_id = contact["id"]
    channel_id = await sql.fetchval(
        "SELECT id FROM channel WHERE company_id = $1 AND active AND provider <> 'sandbox' ORDER BY id LIMIT 1",
        company_id,
    ) or await sql.fetchval("SELECT id FROM channel WHERE company_id = $1 AND active ORDER BY id LIMIT 1", company_id)
    if channel_id is None:
        raise ValidationError({"channel_id": N_("The company has no active WhatsApp channel.")})
    channel = await get_channel(company_id, channel_id)
    if automatic and await sql.fetchval(
        """SELECT 1 FROM message m JOIN conversation c ON c.id = m.conversation_id
           WHERE c.company_id = $1 AND c.contact_id = $2 AND m.direction = 'out' AND m.text = $3
             AND m.created_at > now() - make_interval(mins => $4)""",
        company_id,
        contact_id,
        name,
        AUTO_QUIET_MINUTES,
    ):
        return None
    department_id = channel.default_department_id or await sql.fetchval(
        "SELECT id FROM department WHERE company_id = $1 ORDER BY menu_position, id LIMIT 1", company_id
    )
    async with sql.transaction():
        # Opened straight into the queue (no bot welcome before the template); without any
        # department the bot asks, as for any new conversation.
        conv = await sql.fetchrow(
            """INSERT INTO conversation (company_id, channel_id, contact_id, department_id, status, queued_at)
               VALUES ($1, $2, $3, $4, CASE WHEN $4::int IS NULL THEN 'bot' ELSE 'queued' END,
                       CASE WHEN $4::int IS NULL THEN NULL ELSE now() END)
               ON CONFLICT (channel_id, contact_id) WHERE status <> 'resolved'
               DO UPDATE SET last_message_at = conversation.last_message_at
               RETURNING id, status, (xmax = 0) AS created""",
            company_id,
            channel_id,
            contact_id,
            department_id,
        )
        assert conv is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        if conv["created"]:
            await emit(ConversationOpened(company_id, conv["id"], channel_id))
            if conv["status"] == "queued":
                await sql.execute(
                    """INSERT INTO conversation_event (company_id, conversation_id, kind, from_status, to_status,
                           to_department_id, note) VALUES ($1, $2, 'queued', 'bot', 'queued', $3, 'missed call')""",
                    company_id,
                    conv["id"],
                    department_id,
                )
                await emit(
                    ConversationRouted(
                        company_id=company_id,
                        conversation_id=conv["id"],
                        status="queued",
                        user_id=None,
                        previous_user_id=None,
                        department_id=department_id,
                    )
                )
    if channel.provider == "meta":
        data = {"template_name": name, "template_language": settings["missed_call_language"] or "en"}
    elif channel.provider == "twilio":
        data = {"content_sid": name}
    else:
        data = {"text": name}
    await queue_message(company_id, conv["id"], data, user_id=user_id, author="agent" if user_id else "bot")
    return int(conv["id"])
