"""Shop orders confirmed over WhatsApp (seed 001): creation, the request, the customer's answer.

An integrator creates an order for a customer (``create_order``); in the same transaction the
contact is found or created, their open conversation on the company's channel is found or
opened, and the confirmation request is queued in the outbox (as the company's template when
the 24-hour window of Meta or Twilio is closed). A conversation opened *for* an order starts
with ``bot_state = 'order'``, so the bot does not greet the customer with its menu.

The customer's next messages go through ``take_reply`` before the bot and dispatch see them
(the dispatcher's hook, ``app.dispatch.sweeper.react``): a clear confirmation or cancellation
(configurable keywords in any of the three languages, folded: no case, no accents; button
replies are text too) decides the order, thanks the customer, and stops there. Anything else
marks the order as needing an agent and returns ``"unclear"``: the conversation then follows
the normal flow (menu or the channel's department queue), and an agent decides by hand.

Every change queues the integrator's webhook (``order.*``) and emits ``OrderChanged``.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import asyncpg

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.auto_messages import customer_language
from app.domain.channels import get_channel
from app.domain.companies import get_company_country
from app.domain.errors import NotFound, ValidationError
from app.domain.events import ConversationOpened, OrderChanged, emit
from app.domain.integrations import queue_webhook
from app.domain.messages import queue_message, window_open
from app.domain.phones import parse_phone
from app.domain.validation import Cleaner
from app.i18n import N_

STATUSES = ("pending", "confirmed", "cancelled")
MAX_ITEMS = 100
# Replies longer than this many words are never taken as a yes or no: a person reads them.
MAX_ANSWER_WORDS = 8

DEFAULT_CONFIRM = (
    "yes",
    "y",
    "confirm",
    "confirmed",
    "i confirm",
    "ok",
    "okay",
    "oui",
    "je confirme",
    "confirme",
    "confirmer",
    "confirmee",
    "d'accord",
    "sim",
    "confirmo",
    "confirmar",
    "confirmado",
    "pode enviar",
)
DEFAULT_CANCEL = (
    "no",
    "cancel",
    "cancelled",
    "canceled",
    "non",
    "annuler",
    "annule",
    "annulez",
    "annulation",
    "nao",
    "cancelar",
    "cancela",
    "cancelado",
    "cancelo",
)
# A negation next to a confirmation ("je ne confirme pas") is not a yes.
NEGATIONS = {"not", "don", "dont", "never", "pas", "jamais", "nunca", "nem"}

REQUEST_TEXT = {
    "en": "Hello {name}, please confirm your order {reference}:\n{items}\nTotal: {total}\n"
    "Reply YES to confirm or NO to cancel.",
    "fr": "Bonjour {name}, merci de confirmer votre commande {reference} :\n{items}\nTotal : {total}\n"
    "Répondez OUI pour confirmer ou NON pour annuler.",
    "pt_BR": "Olá {name}, confirme seu pedido {reference}:\n{items}\nTotal: {total}\n"
    "Responda SIM para confirmar ou NÃO para cancelar.",
}
THANKS_TEXT = {
    "confirmed": {
        "en": "Thank you, your order {reference} is confirmed.",
        "fr": "Merci, votre commande {reference} est confirmée.",
        "pt_BR": "Obrigado, seu pedido {reference} está confirmado.",
    },
    "cancelled": {
        "en": "Your order {reference} is cancelled.",
        "fr": "Votre commande {reference} est annulée.",
        "pt_BR": "Seu pedido {reference} foi cancelado.",
    },
}


# Answers ----------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case, no accents, words separated by single spaces: "Oui, je CONFIRMÉ!" -> "oui je confirme"."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _hits(folded: str, words: list[str]) -> bool:
    padded = f" {folded} "
    return any(f" {w} " in padded for w in (fold(x) for x in words) if w)


def classify(text: str, confirm: list[str], cancel: list[str]) -> str | None:
    """'confirm', 'cancel', or None when the reply is not a clear yes or no."""
    folded = fold(text)
    words = folded.split()
    if not words or len(words) > MAX_ANSWER_WORDS:
        return None
    yes, no = _hits(folded, confirm), _hits(folded, cancel)
    if yes and not no and not NEGATIONS.intersection(words):
        return "confirm"
    if no and not yes:
        return "cancel"
    return None


# Settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSettings:
    confirm_words: list[str]
    cancel_words: list[str]
    request_text: str = ""
    template_name: str = ""
    template_language: str = "en_US"
    content_sid: str = ""


def _plain_placeholders(text: str) -> bool:
    """Only {name}, {reference}, {items}, {total}: no attributes, indexes or format specs."""
    try:
        fields = [(f, conv, spec) for _, f, spec, conv in string.Formatter().parse(text) if f is not None]
    except ValueError:
        return False
    return all(f in ("name", "reference", "items", "total") and not conv and not spec for f, conv, spec in fields)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


async def get_order_settings(company_id: int) -> OrderSettings:
    row = await sql.fetchrow("SELECT * FROM order_settings WHERE company_id = $1", company_id)
    if row is None:
        return OrderSettings(list(DEFAULT_CONFIRM), list(DEFAULT_CANCEL))
    return OrderSettings(
        _lines(row["confirm_words"]) or list(DEFAULT_CONFIRM),
        _lines(row["cancel_words"]) or list(DEFAULT_CANCEL),
        row["request_text"],
        row["template_name"],
        row["template_language"],
        row["content_sid"],
    )


async def update_order_settings(company_id: int, data: dict) -> OrderSettings:
    c = Cleaner(data)
    confirm = c.text("confirm_words", max_len=4000, required=False)
    cancel = c.text("cancel_words", max_len=4000, required=False)
    request_text = c.text("request_text", max_len=2000, required=False)
    template_name = c.text("template_name", max_len=512, required=False)
    template_language = c.text("template_language", max_len=16, required=False) or "en_US"
    content_sid = c.text("content_sid", max_len=34, required=False)
    if content_sid and not (content_sid.startswith("HX") and len(content_sid) == 34):
        c.fail("content_sid", N_("A Content SID looks like HX followed by 32 characters."))
    overlap = {fold(w) for w in _lines(confirm)} & {fold(w) for w in _lines(cancel)}
    if overlap:
        c.fail("cancel_words", N_("A word cannot both confirm and cancel."))
    if request_text and not _plain_placeholders(request_text):
        c.fail("request_text", N_("Use only the placeholders {name}, {reference}, {items} and {total}."))
    c.raise_if_errors()
    before = await get_order_settings(company_id)
    async with sql.transaction():
        await sql.execute(
            """INSERT INTO order_settings (company_id, confirm_words, cancel_words, request_text, template_name,
                                           template_language, content_sid, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, now())
               ON CONFLICT (company_id) DO UPDATE SET confirm_words = $2, cancel_words = $3, request_text = $4,
                   template_name = $5, template_language = $6, content_sid = $7, updated_at = now()""",
            company_id,
            "\n".join(_lines(confirm)),
            "\n".join(_lines(cancel)),
            request_text,
            template_name,
            template_language,
            content_sid,
        )
        after = await get_order_settings(company_id)
        await record_audit(
            company_id,
            "order_settings.updated",
            target_type="company",
            target_id=company_id,
            before=before.__dict__,
            after=after.__dict__,
        )
    return after


# Reading ----------------------------------------------------------------------------------

ORDER_SQL = """
SELECT o.*, ct.phone, ct.name AS contact_name, rm.type AS request_type, rm.data->'template' AS request_template
FROM shop_order o JOIN contact ct ON ct.id = o.contact_id LEFT JOIN message rm ON rm.id = o.request_message_id
"""


def total_of(items: list[dict]) -> Decimal:
    return sum((Decimal(i["price"]) * i["quantity"] for i in items), Decimal("0.00"))


def _order(r: asyncpg.Record) -> dict:
    order = dict(r)
    order["items"] = json.loads(order["items"]) if isinstance(order["items"], str) else order["items"]
    order["total"] = f"{total_of(order['items']):.2f}"
    order["reference"] = order["external_id"] or f"#{order['id']}"
    return order


async def get_order(company_id: int, order_id: int) -> dict:
    if not 0 < order_id < 2**31:
        raise NotFound(N_("No such order."))
    row = await sql.fetchrow(ORDER_SQL + " WHERE o.company_id = $1 AND o.id = $2", company_id, order_id)
    if row is None:
        raise NotFound(N_("No such order."))
    return _order(row)


async def list_orders(
    company_id: int,
    *,
    status: str = "",
    contact_id: int | None = None,
    query: str = "",
    before: int | None = None,
    limit: int = 50,
) -> tuple[list[dict], int | None]:
    """A page of orders, newest first, and the cursor of the next page (None: last page)."""
    if status and status not in STATUSES:
        raise ValidationError({"status": N_("Choose one of the options.")})
    like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" if query else ""
    rows = await sql.fetch(
        ORDER_SQL
        + """ WHERE o.company_id = $1 AND ($2 = '' OR o.status = $2) AND ($3::int IS NULL OR o.contact_id = $3)
                        AND ($4::int IS NULL OR o.id < $4)
                        AND ($5 = '' OR ct.name ILIKE $5 OR ct.phone LIKE $5 OR o.external_id ILIKE $5)
                        ORDER BY o.id DESC LIMIT $6""",
        company_id,
        status,
        contact_id,
        before,
        like,
        limit + 1,
    )
    orders = [_order(r) for r in rows[:limit]]
    return orders, (orders[-1]["id"] if len(rows) > limit else None)


def public(order: dict) -> dict:
    """The order as the API and the webhooks show it."""
    return {
        "id": order["id"],
        "external_id": order["external_id"],
        "status": order["status"],
        "contact": {"id": order["contact_id"], "phone": order["phone"], "name": order["contact_name"]},
        "channel_id": order["channel_id"],
        "conversation_id": order["conversation_id"],
        "items": order["items"],
        "currency": order["currency"],
        "total": order["total"],
        "reply_text": order["reply_text"],
        "needs_agent": order["needs_agent_at"] is not None,
        "decided_by": order["decided_by"] or None,
        "created_at": order["created_at"].isoformat(),
        "requested_at": order["requested_at"].isoformat() if order["requested_at"] else None,
        "decided_at": order["decided_at"].isoformat() if order["decided_at"] else None,
        "request": request_of(order),
    }


def request_of(order: dict) -> dict | None:
    """How the confirmation request went out: a plain text inside the 24-hour window, else the
    company's default template (Admin → Order confirmation, or ``PUT /api/v1/order-settings``)."""
    if not order.get("request_message_id"):
        return None
    template = order.get("request_template")
    template = json.loads(template) if isinstance(template, str) else (template or {})
    return {
        "message_id": order["request_message_id"],
        "type": order.get("request_type") or "text",
        "template": template.get("name") or template.get("content_sid") or None,
    }


# Creating ---------------------------------------------------------------------------------


async def upsert_contact(company_id: int, phone: object, name: object = "") -> int:
    """The customer with this phone number (created if new; a non-empty name replaces the old)."""
    c = Cleaner({"phone": phone, "name": name})
    raw = c.text("phone", max_len=40)
    clean_name = c.text("name", max_len=200, required=False)
    normal = parse_phone(raw, await get_company_country(company_id)) if raw else None
    if raw and normal is None:
        c.fail("phone", N_("Enter a phone number in international format, e.g. +33612345678."))
    c.raise_if_errors()
    return await sql.fetchval(
        """INSERT INTO contact (company_id, phone, name) VALUES ($1, $2, $3)
           ON CONFLICT (company_id, phone) DO UPDATE
           SET name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE contact.name END
           RETURNING id""",
        company_id,
        normal,
        clean_name,
    )


def clean_items(raw: object) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError({"items": N_("An order needs at least one item.")})
    if len(raw) > MAX_ITEMS:
        raise ValidationError({"items": N_("An order has at most 100 items.")})
    items = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValidationError({f"items[{n}]": N_("Each item has a name, a price and a quantity.")})
        c = Cleaner(item)
        name = c.text("name", max_len=200)
        quantity = c.integer("quantity", low=1, high=100_000, default=1)
        try:
            price = Decimal(str(item.get("price")))
            if (
                not price.is_finite()
                or price < 0
                or price > Decimal("1000000000")
                or price != price.quantize(Decimal("0.01"))
            ):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            c.fail("price", N_("A price is a number from 0 with at most two decimals."))
            price = Decimal("0")
        product_id = c.text("id", max_len=100, required=False)  # the shop's product id (seed 001)
        if c.errors:
            raise ValidationError({f"items[{n}].{k}": v for k, v in c.errors.items()})
        items.append(
            {"name": name, "price": f"{price:.2f}", "quantity": quantity, **({"id": product_id} if product_id else {})}
        )
    return items


async def _channel_id(company_id: int, wanted: object) -> int:
    if wanted not in (None, ""):
        try:
            channel = await get_channel(company_id, int(wanted))  # type: ignore[arg-type]
        except (TypeError, ValueError, NotFound):
            raise ValidationError({"channel_id": N_("No such channel.")}) from None
        if not channel.active:
            raise ValidationError({"channel_id": N_("This channel is disabled.")})
        return channel.id
    found = await sql.fetchval(
        "SELECT id FROM channel WHERE company_id = $1 AND active ORDER BY id LIMIT 1", company_id
    )
    if found is None:
        raise ValidationError({"channel_id": N_("The company has no active WhatsApp channel.")})
    return found


def _format_items(items: list[dict], currency: str) -> str:
    return "\n".join(f"• {i['quantity']} × {i['name']} ({i['price']} {currency})" for i in items)


async def _request(company_id: int, order: dict, settings: OrderSettings) -> int:
    """Queue the confirmation request; a template when the 24-hour window is closed."""
    conv = await sql.fetchrow("SELECT last_inbound_at FROM conversation WHERE id = $1", order["conversation_id"])
    channel = await get_channel(company_id, order["channel_id"])
    name = order["contact_name"] or ""
    total = f"{order['total']} {order['currency']}"
    values = {
        "name": name,
        "reference": order["reference"],
        "items": _format_items(order["items"], order["currency"]),
        "total": total,
    }
    if channel.impl.has_window and not window_open(conv["last_inbound_at"]):
        if channel.provider == "meta" and settings.template_name:
            data = {
                "template_name": settings.template_name,
                "template_language": settings.template_language,
                "template_params": "\n".join([name or "-", order["reference"], total]),
            }
        elif channel.provider == "twilio" and settings.content_sid:
            data = {
                "content_sid": settings.content_sid,
                "content_variables": json.dumps({"1": name or "-", "2": order["reference"], "3": total}),
            }
        else:
            raise ValidationError(
                {
                    "channel_id": N_(
                        "This customer has not written in the last 24 hours: set the company's default confirmation "
                        "template (Admin → Order confirmation, or PUT /api/v1/order-settings) so that the request can be sent."
                    )
                }
            )
    else:
        language = await customer_language(company_id, order["conversation_id"])
        template = settings.request_text or REQUEST_TEXT.get(language, REQUEST_TEXT["en"])
        data = {"text": template.format(**values)[:4000]}
    return await queue_message(company_id, order["conversation_id"], data, user_id=None, author="bot")


async def create_order(company_id: int, data: dict) -> tuple[dict, bool]:
    """Create the order and queue its confirmation request; returns (order, created).

    A second call with the same ``external_id`` returns the first order and sends nothing."""
    c = Cleaner(data)
    external_id = c.text("external_id", max_len=100, required=False) or None
    currency = (c.text("currency", max_len=3, required=False) or "EUR").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        c.fail("currency", N_("A currency is three letters, e.g. EUR."))
    c.raise_if_errors()
    if external_id:
        existing = await sql.fetchval(
            "SELECT id FROM shop_order WHERE company_id = $1 AND external_id = $2", company_id, external_id
        )
        if existing:
            return await get_order(company_id, existing), False
    items = clean_items(data.get("items"))
    contact_id = data.get("contact_id")
    settings = await get_order_settings(company_id)
    async with sql.transaction():
        if contact_id not in (None, ""):
            if not isinstance(contact_id, int) or not await sql.fetchval(
                "SELECT 1 FROM contact WHERE company_id = $1 AND id = $2 AND phone IS NOT NULL",
                company_id,
                contact_id if 0 < contact_id < 2**31 else 0,
            ):
                raise ValidationError({"contact_id": N_("No such contact with a phone number.")})
        else:
            contact_id = await upsert_contact(company_id, data.get("phone"), data.get("name") or "")
        channel_id = await _channel_id(company_id, data.get("channel_id"))
        conv = await sql.fetchrow(
            """INSERT INTO conversation (company_id, channel_id, contact_id, bot_state, department_id)
               VALUES ($1, $2, $3, 'order', (SELECT default_department_id FROM channel WHERE id = $2))
               ON CONFLICT (channel_id, contact_id) WHERE status <> 'resolved'
               DO UPDATE SET last_message_at = conversation.last_message_at
               RETURNING id, (xmax = 0) AS created""",
            company_id,
            channel_id,
            contact_id,
        )
        if conv["created"]:
            await emit(ConversationOpened(company_id, conv["id"], channel_id))
        try:
            order_id = await sql.fetchval(
                """INSERT INTO shop_order (company_id, contact_id, channel_id, conversation_id, external_id, items, currency)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING id""",
                company_id,
                contact_id,
                channel_id,
                conv["id"],
                external_id,
                json.dumps(items),
                currency,
            )
        except asyncpg.UniqueViolationError:
            raise ValidationError({"external_id": N_("Another order has this external id.")}) from None
        order = await get_order(company_id, order_id)
        message_id = await _request(company_id, order, settings)
        await sql.execute(
            "UPDATE shop_order SET request_message_id = $2, requested_at = now() WHERE id = $1", order_id, message_id
        )
        order = await get_order(company_id, order_id)
        await sql.execute("UPDATE contact SET client_status = 'pending' WHERE id = $1", contact_id)
        await queue_webhook(company_id, "order.created", public(order))
        await emit(OrderChanged(company_id, order_id, contact_id, created=True))
    return order, True


# Deciding ---------------------------------------------------------------------------------


async def _thank(company_id: int, order: dict, status: str) -> None:
    language = await customer_language(company_id, order["conversation_id"])
    texts = THANKS_TEXT[status]
    try:
        await queue_message(
            company_id,
            order["conversation_id"],
            {"text": texts.get(language, texts["en"]).format(reference=order["reference"])},
            user_id=None,
            author="bot",
        )
    except (ValidationError, NotFound):
        pass  # conversation resolved or window closed: the decision stands without thanks


async def decide_order(
    company_id: int, order_id: int, decision: str, *, by: str, reply_text: str = "", thank: bool = True
) -> dict:
    """Confirm or cancel a pending order (the customer's answer, an agent, or the integrator)."""
    status = {"confirm": "confirmed", "cancel": "cancelled"}.get(decision)
    if status is None:
        raise ValidationError({"decision": N_("Choose one of the options.")})
    async with sql.transaction():
        row = await sql.fetchrow(
            "SELECT status FROM shop_order WHERE company_id = $1 AND id = $2 FOR UPDATE",
            company_id,
            order_id if 0 < order_id < 2**31 else 0,
        )
        if row is None:
            raise NotFound(N_("No such order."))
        if row["status"] != "pending":
            raise ValidationError({"status": N_("This order is already decided.")})
        await sql.execute(
            """UPDATE shop_order SET status = $3, decided_at = now(), decided_by = $4, updated_at = now(),
                      reply_text = CASE WHEN $5 <> '' THEN $5 ELSE reply_text END
               WHERE company_id = $1 AND id = $2""",
            company_id,
            order_id,
            status,
            by,
            reply_text[:2000],
        )
        order = await get_order(company_id, order_id)
        await sql.execute("UPDATE contact SET client_status = $2 WHERE id = $1", order["contact_id"], status)
        if by != "customer":
            await record_audit(
                company_id,
                f"order.{status}",
                target_type="order",
                target_id=order_id,
                target_label=order["reference"],
                before={"status": "pending"},
                after={"status": status},
            )
        await queue_webhook(company_id, f"order.{status}", public(order))
        await emit(OrderChanged(company_id, order_id, order["contact_id"]))
        if thank and order["conversation_id"]:
            await _thank(company_id, order, status)
    return order


async def take_reply(company_id: int, conversation_id: int, message_id: int, row=None) -> str | None:
    """The dispatcher's hook for each stored message, before the bot and the queue see it.

    Returns ``"handled"`` (a pending order was confirmed or cancelled: nothing else to do),
    ``"unclear"`` (a conversation opened for an order needs the normal flow now: the caller
    starts the bot), or None (not about an order, or unclear in a conversation already with
    the bot or the agents: the normal flow goes on). ``row``: the message's context
    (``app.dispatch.reads.message_context``) when the caller has read it."""
    if row is None:
        from app.dispatch.reads import message_context

        row = await message_context(company_id, conversation_id, message_id)
    if row is None or row["direction"] != "in":
        return None
    ours = row["status"] == "bot" and row["bot_state"] == "order"
    order = {"id": row["order_id"], "needs_agent_at": row["needs_agent_at"]} if row["order_id"] else None
    if order is not None:
        settings = await get_order_settings(company_id)
        decision = classify(row["text"], settings.confirm_words, settings.cancel_words)
        if decision is not None:
            try:
                await decide_order(company_id, order["id"], decision, by="customer", reply_text=row["text"])
                return "handled"
            except ValidationError:
                pass  # decided a moment ago by someone else: treat as any other message
        elif order["needs_agent_at"] is None:
            async with sql.transaction():
                await sql.execute(
                    """UPDATE shop_order SET needs_agent_at = now(), reply_text = $2, updated_at = now()
                       WHERE id = $1 AND status = 'pending'""",
                    order["id"],
                    row["text"][:2000],
                )
                decided = await get_order(company_id, order["id"])
                await queue_webhook(company_id, "order.needs_agent", public(decided))
                await emit(OrderChanged(company_id, order["id"], decided["contact_id"]))
    if ours:
        # Hand the conversation to the normal flow (the caller starts the bot).
        await sql.execute(
            "UPDATE conversation SET bot_state = '' WHERE company_id = $1 AND id = $2 AND bot_state = 'order'",
            company_id,
            conversation_id,
        )
        return "unclear"
    return None


@dataclass(frozen=True)
class OrderCounts:
    pending: int
    confirmed: int
    cancelled: int
    needs_agent: int


async def order_counts(company_id: int) -> OrderCounts:
    row = await sql.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                  count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
                  count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                  count(*) FILTER (WHERE status = 'pending' AND needs_agent_at IS NOT NULL) AS needs_agent
           FROM shop_order WHERE company_id = $1""",
        company_id,
    )
    return OrderCounts(**dict(row))
