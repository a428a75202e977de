"""Order confirmation over WhatsApp: the customer's answer, the hand-over to agents, templates."""

import json

import pytest

from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.errors import ValidationError
from app.domain.events import ConversationOpened, MessageReceived
from app.domain.orders import DEFAULT_CANCEL, DEFAULT_CONFIRM, classify, create_order, get_order, update_order_settings
from tests.api.conftest import Shop, make_shop

ITEMS = [{"name": "Robe d'été", "price": "59.90", "quantity": 1}]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Oui, je confirme", "confirm"),
        ("OUI", "confirm"),
        ("je confirme !", "confirm"),
        ("Confirmé", "confirm"),
        ("oui 👍", "confirm"),
        ("Sim, confirmo", "confirm"),
        ("yes", "confirm"),
        ("ok", "confirm"),
        ("Non, annuler", "cancel"),
        ("NÃO", "cancel"),
        ("Cancelar pedido", "cancel"),
        ("cancel please", "cancel"),
        ("annulez", "cancel"),
        ("je ne confirme pas", None),
        ("oui non", None),
        ("Quand sera-t-elle livrée ?", None),
        ("", None),
        ("oui mais pouvez-vous changer l'adresse de livraison svp merci", None),
        ("nonsense", None),
        ("ouistiti", None),
    ],
)
def test_replies_in_three_languages(text, expected):
    assert classify(text, list(DEFAULT_CONFIRM), list(DEFAULT_CANCEL)) == expected


def test_custom_keywords_fold_case_and_accents():
    assert classify("VALIDÉ", ["validé"], ["refusé"]) == "confirm"
    assert classify("refuse", ["validé"], ["refusé"]) == "cancel"
    assert classify("oui", ["validé"], ["refusé"]) is None


async def customer_says(shop: Shop, conv_id: int, text: str) -> int:
    message_id = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', $4, 'received') RETURNING id""",
        shop.company.id,
        shop.channel_id,
        conv_id,
        text,
    )
    await sql.execute("UPDATE conversation SET last_inbound_at = now() WHERE id = $1", conv_id)
    await react(MessageReceived(shop.company.id, conv_id, message_id))
    return message_id


async def texts(conv_id: int, author: str = "bot") -> list[str]:
    return [
        r["text"]
        for r in await sql.fetch(
            "SELECT text FROM message WHERE conversation_id = $1 AND author = $2 ORDER BY id", conv_id, author
        )
    ]


async def new_order(shop: Shop, **extra) -> dict:
    order, created = await create_order(
        shop.company.id, {"phone": "+33612345678", "name": "Zoé", "items": ITEMS, **extra}
    )
    assert created
    # The dispatcher sees the conversation opened for the order: the bot stays quiet.
    await react(ConversationOpened(shop.company.id, order["conversation_id"], shop.channel_id))
    return order


async def test_oui_je_confirme_confirms_and_thanks_without_the_bot(app):
    shop = await make_shop()
    await sql.execute("UPDATE company SET language = 'fr' WHERE id = $1", shop.company.id)
    await sql.execute(
        "UPDATE channel SET default_department_id = $1 WHERE id = $2", shop.department.id, shop.channel_id
    )
    order = await new_order(shop)
    [request] = await texts(order["conversation_id"])
    assert request.startswith("Bonjour Zoé, merci de confirmer votre commande #") and "59.90 EUR" in request
    await customer_says(shop, order["conversation_id"], "Oui, je confirme")
    decided = await get_order(shop.company.id, order["id"])
    assert (decided["status"], decided["decided_by"], decided["reply_text"]) == (
        "confirmed",
        "customer",
        "Oui, je confirme",
    )
    assert (await texts(order["conversation_id"]))[-1] == f"Merci, votre commande #{order['id']} est confirmée."
    conv = await sql.fetchrow("SELECT status, bot_state FROM conversation WHERE id = $1", order["conversation_id"])
    assert (conv["status"], conv["bot_state"]) == ("bot", "order")  # no menu, no queue: nothing for agents

    # Later messages are no longer about the order: the usual flow (the channel's department) takes over.
    await customer_says(shop, order["conversation_id"], "Oui")
    conv = await sql.fetchrow(
        "SELECT status, assigned_user_id FROM conversation WHERE id = $1", order["conversation_id"]
    )
    assert (conv["status"], conv["assigned_user_id"]) == ("assigned", shop.agent.id)
    assert (await get_order(shop.company.id, order["id"]))["reply_text"] == "Oui, je confirme"


async def test_unclear_reply_goes_to_an_agent_and_the_order_waits(app):
    shop = await make_shop()
    await sql.execute(
        "UPDATE channel SET default_department_id = $1 WHERE id = $2", shop.department.id, shop.channel_id
    )
    order = await new_order(shop)
    await customer_says(shop, order["conversation_id"], "Can I change the delivery address first?")
    decided = await get_order(shop.company.id, order["id"])
    assert decided["status"] == "pending" and decided["needs_agent_at"] is not None
    conv = await sql.fetchrow(
        "SELECT status, assigned_user_id FROM conversation WHERE id = $1", order["conversation_id"]
    )
    assert (conv["status"], conv["assigned_user_id"]) == ("assigned", shop.agent.id)
    # The agent's customer writes "yes" afterwards: still a clear answer to the pending order.
    await customer_says(shop, order["conversation_id"], "ok then, yes")
    assert (await get_order(shop.company.id, order["id"]))["status"] == "confirmed"


async def test_cancel_in_portuguese_and_messages_before_the_request_do_not_count(app):
    shop = await make_shop()
    await sql.execute("UPDATE company SET language = 'pt_BR' WHERE id = $1", shop.company.id)
    order = await new_order(shop)
    await sql.execute("UPDATE shop_order SET requested_at = now() + interval '1 minute' WHERE id = $1", order["id"])
    await customer_says(shop, order["conversation_id"], "não")  # written before the request went out
    assert (await get_order(shop.company.id, order["id"]))["status"] == "pending"
    await sql.execute("UPDATE shop_order SET requested_at = now() - interval '1 minute' WHERE id = $1", order["id"])
    await customer_says(shop, order["conversation_id"], "Não, cancelar")
    assert (await get_order(shop.company.id, order["id"]))["status"] == "cancelled"
    assert (await texts(order["conversation_id"]))[-1] == f"Seu pedido #{order['id']} foi cancelado."


async def test_order_in_an_open_conversation_keeps_it_with_its_agent(app):
    shop = await make_shop()
    conv = (
        await sql.fetchval(
            """INSERT INTO conversation (company_id, channel_id, contact_id, status, department_id, assigned_user_id, last_inbound_at)
           VALUES ($1, $2, (INSERT_CONTACT), 'assigned', $3, $4, now()) RETURNING id""".replace(
                "(INSERT_CONTACT)", "(SELECT id FROM contact WHERE company_id = $1)"
            ),
            shop.company.id,
            shop.channel_id,
            shop.department.id,
            shop.agent.id,
        )
        if await sql.fetchval(
            "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33612345678', 'Zoé') RETURNING id",
            shop.company.id,
        )
        else None
    )
    order, _ = await create_order(shop.company.id, {"phone": "+33612345678", "items": ITEMS})
    assert order["conversation_id"] == conv
    await customer_says(shop, conv, "yes")
    assert (await get_order(shop.company.id, order["id"]))["status"] == "confirmed"
    assert (await sql.fetchrow("SELECT status, assigned_user_id FROM conversation WHERE id = $1", conv))[
        "assigned_user_id"
    ] == shop.agent.id


async def meta_channel(shop: Shop) -> int:
    return await sql.fetchval(
        """INSERT INTO channel (company_id, name, provider, webhook_secret, credentials)
           VALUES ($1, 'Meta', 'meta', 'whsecret', $2::jsonb) RETURNING id""",
        shop.company.id,
        json.dumps({"phone_number_id": "123", "access_token": "t", "app_secret": "s"}),
    )


async def test_outside_the_window_the_request_is_the_companys_template(app):
    shop = await make_shop()
    meta = await meta_channel(shop)
    with pytest.raises(ValidationError) as refused:
        await create_order(shop.company.id, {"phone": "+33612345678", "items": ITEMS, "channel_id": meta})
    assert "template" in str(refused.value)
    assert await sql.fetchval("SELECT count(*) FROM shop_order") == 0  # nothing half-done
    await update_order_settings(shop.company.id, {"template_name": "order_confirmation", "template_language": "fr"})
    order, _ = await create_order(
        shop.company.id,
        {"phone": "+33612345678", "name": "Zoé", "items": ITEMS, "channel_id": meta, "external_id": "A-7"},
    )
    msg = await sql.fetchrow("SELECT type, data FROM message WHERE id = $1", order["request_message_id"])
    data = json.loads(msg["data"])
    assert msg["type"] == "template"
    assert data["template"] == {"name": "order_confirmation", "language": "fr", "params": ["Zoé", "A-7", "59.90 EUR"]}


async def test_settings_validation(app):
    shop = await make_shop()
    for data, field in (
        ({"confirm_words": "oui", "cancel_words": "Oui"}, "cancel_words"),
        ({"content_sid": "nope"}, "content_sid"),
        ({"request_text": "Hi {nom}"}, "request_text"),
        ({"request_text": "{name.__class__}"}, "request_text"),
        ({"request_text": "{total:>99999}"}, "request_text"),
        ({"request_text": "{name!r}"}, "request_text"),
        ({"request_text": "oops {"}, "request_text"),
    ):
        with pytest.raises(ValidationError) as exc:
            await update_order_settings(shop.company.id, data)
        assert field in exc.value.errors
    await update_order_settings(shop.company.id, {"request_text": "{{Shop}} {name}: {reference} {items} {total}"})


async def test_a_tapped_button_on_meta_confirms_the_order(app):
    """The template's quick-reply button arrives as Meta's `button` message: its text decides."""
    from pathlib import Path

    from app.domain.channels import get_channel
    from app.domain.messages import receive_webhook
    from app.providers import meta as meta_provider
    from app.providers.base import WebhookRequest

    shop = await make_shop()
    meta = await meta_channel(shop)
    await update_order_settings(shop.company.id, {"template_name": "order_confirmation", "template_language": "pt_BR"})
    order, _ = await create_order(shop.company.id, {"phone": "+972987654321", "items": ITEMS, "channel_id": meta})
    await react(ConversationOpened(shop.company.id, order["conversation_id"], meta))
    raw = (
        Path(__file__).resolve().parent.parent
        / "fixtures/providers/meta/webhook_message_template_button_assembled.json"
    ).read_bytes()
    parsed = meta_provider.PROVIDER.parse(
        WebhookRequest(url="", headers={"content-type": "application/json"}, body=raw)
    )
    await receive_webhook(await get_channel(shop.company.id, meta), parsed)
    message_id = await sql.fetchval("SELECT id FROM message WHERE provider_message_id = 'wamid.quick_reply_assembled'")
    stored = await sql.fetchrow("SELECT conversation_id, text, data FROM message WHERE id = $1", message_id)
    assert stored["conversation_id"] == order["conversation_id"] and stored["text"] == "Confirmar"
    assert json.loads(stored["data"])["button"] == "CONFIRM"
    await react(MessageReceived(shop.company.id, order["conversation_id"], message_id))
    assert (await get_order(shop.company.id, order["id"]))["status"] == "confirmed"
