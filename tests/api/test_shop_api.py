"""Seed 001's shop API (``/api/clients``, ``/api/orders``) with the seed's own requests: the
guide's curl and fetch calls, with only the base URL and an API key added (``x-api-key``, as
the seed's middleware reads it)."""

from __future__ import annotations

from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.events import MessageReceived
from tests.api.conftest import Shop

SEED_PRODUCTS = [
    {"id": "prod1", "name": "Produit A", "price": 29.99, "quantity": 2},
    {"id": "prod2", "name": "Produit B", "price": 49.99, "quantity": 1},
]


def seed_headers(shop: Shop, which: str = "orders") -> dict:
    return {"Content-Type": "application/json", "x-api-key": shop.keys[which]}


async def test_the_seed_guides_requests_work_unchanged(client, shop):
    # "Simuler un nouveau client" (the guide's curl)
    created = await client.post(
        "/api/clients",
        json={"phoneNumber": "+33612345678", "name": "Test Client", "status": "pending"},
        headers=seed_headers(shop),
    )
    assert created.status_code == 201, created.text
    c = created.json()
    assert (c["phoneNumber"], c["name"], c["status"], c["orders"]) == ("+33612345678", "Test Client", "pending", [])
    assert c["_id"] == c["id"] and c["lastContact"] and c["createdAt"]
    again = await client.post("/api/clients", json={"phoneNumber": "+33612345678"}, headers=seed_headers(shop))
    assert again.status_code == 200 and again.json()["id"] == c["id"] and again.json()["name"] == "Test Client"
    # "Créer une commande"
    order = await client.post(
        "/api/orders", json={"clientId": c["_id"], "products": SEED_PRODUCTS}, headers=seed_headers(shop)
    )
    assert order.status_code == 201, order.text
    o = order.json()
    assert o["clientId"] == c["id"] and o["status"] == "pending" and o["total"] == 109.97
    assert o["products"] == SEED_PRODUCTS  # ids, names, prices and quantities as the shop sent them
    request = await sql.fetchval(
        "SELECT text FROM message WHERE conversation_id = $1 AND direction = 'out'", o["conversationId"]
    )
    assert "Produit A" in request and "109.97" in request
    shown = (await client.get(f"/api/clients/{c['id']}", headers=seed_headers(shop))).json()
    assert shown["status"] == "pending" and [x["id"] for x in shown["orders"]] == [o["id"]]
    # The customer answers "oui": order and client are confirmed (Switchboard reads the answer itself).
    message_id = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', 'Oui je confirme', 'received') RETURNING id""",
        shop.company.id,
        shop.channel_id,
        o["conversationId"],
    )
    await sql.execute("UPDATE conversation SET last_inbound_at = now() WHERE id = $1", o["conversationId"])
    await react(MessageReceived(shop.company.id, o["conversationId"], message_id))
    after = (await client.get(f"/api/clients/{c['id']}", headers=seed_headers(shop))).json()
    assert after["status"] == "confirmed" and after["orders"][0]["status"] == "confirmed"
    assert after["lastContact"] > c["lastContact"]
    # "Mettre à jour le statut quand le client confirme": already confirmed, the PUT agrees.
    put = await client.put(f"/api/clients/{c['id']}", json={"status": "confirmed"}, headers=seed_headers(shop))
    assert put.status_code == 200 and put.json()["status"] == "confirmed"
    listing = (await client.get("/api/clients", headers=seed_headers(shop))).json()
    assert [x["phoneNumber"] for x in listing] == ["+33612345678"]
    assert [x["id"] for x in (await client.get("/api/orders", headers=seed_headers(shop))).json()] == [o["id"]]


async def test_put_status_decides_the_pending_order(client, shop):
    c = (await client.post("/api/clients", json={"phoneNumber": "+33698765432"}, headers=seed_headers(shop))).json()
    o = (
        await client.post(
            "/api/orders", json={"clientId": str(c["id"]), "products": SEED_PRODUCTS[:1]}, headers=seed_headers(shop)
        )
    ).json()
    put = await client.put(f"/api/clients/{c['id']}", json={"status": "cancelled"}, headers=seed_headers(shop))
    assert put.status_code == 200 and put.json()["status"] == "cancelled"
    assert (await client.get(f"/api/orders/{o['id']}", headers=seed_headers(shop))).json()["status"] == "cancelled"
    assert await sql.fetchval("SELECT decided_by FROM shop_order WHERE id = $1", o["id"]) == "api"
    renamed = await client.put(f"/api/clients/{c['id']}", json={"name": "Zoé"}, headers=seed_headers(shop))
    assert renamed.json()["name"] == "Zoé" and renamed.json()["status"] == "cancelled"  # left out: unchanged


async def test_bad_input_scopes_and_other_companies(client, shop, other_shop):
    c = (await client.post("/api/clients", json={"phoneNumber": "+33612345678"}, headers=seed_headers(shop))).json()
    for bad in ({"phoneNumber": "not a phone"}, {"phoneNumber": "+33612345678", "status": "maybe"}, {"name": "x"}):
        response = await client.post("/api/clients", json=bad, headers=seed_headers(shop))
        assert response.status_code == 400, bad
    for bad in (
        {"clientId": c["id"], "products": []},
        {"clientId": c["id"], "products": [{"name": "A", "price": -1}]},
        {"clientId": c["id"], "products": [{"name": "A", "price": "abc"}]},
        {"products": SEED_PRODUCTS},
    ):
        response = await client.post("/api/orders", json=bad, headers=seed_headers(shop))
        assert response.status_code == 400, bad
    assert (
        await client.put(f"/api/clients/{c['id']}", json={"status": "won"}, headers=seed_headers(shop))
    ).status_code == 400
    assert (await client.get("/api/clients", headers=seed_headers(shop, "read"))).status_code == 403
    assert (await client.get("/api/clients")).status_code == 401
    theirs = seed_headers(other_shop)
    assert (await client.get(f"/api/clients/{c['id']}", headers=theirs)).status_code == 404
    assert (
        await client.put(f"/api/clients/{c['id']}", json={"status": "confirmed"}, headers=theirs)
    ).status_code == 404
    assert (
        await client.post("/api/orders", json={"clientId": c["id"], "products": SEED_PRODUCTS}, headers=theirs)
    ).status_code == 404
    assert (await client.get("/api/clients", headers=theirs)).json() == []


async def test_outside_the_window_the_default_template_is_used_and_said(client, app):
    """Meta, a customer who never wrote: the order needs the company's default template; the
    answer says how to set it, then says the request went out as that template."""
    from app.domain.channels import create_channel
    from tests.api.conftest import make_shop

    shop = await make_shop("Vitrine")
    await sql.execute("UPDATE channel SET active = false WHERE company_id = $1", shop.company.id)
    meta = await create_channel(
        shop.company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "123",
            "cred_access_token": "tok",
            "cred_app_secret": "sec",
        },
    )
    order = {"phone": "+33655555555", "items": [{"name": "A", "price": 10}], "channel_id": meta.id}
    refused = await client.post("/api/v1/orders", json=order, headers=shop.auth("orders"))
    assert refused.status_code == 400 and "/api/v1/order-settings" in refused.json()["error"]["message"]
    settings = await client.put(
        "/api/v1/order-settings",
        json={"template_name": "order_confirm", "template_language": "fr"},
        headers=shop.auth("orders"),
    )
    assert settings.status_code == 200 and settings.json()["template_name"] == "order_confirm"
    assert settings.json()["confirm_words"]  # left out: kept
    created = await client.post("/api/v1/orders", json=order, headers=shop.auth("orders"))
    assert created.status_code == 201, created.text
    assert created.json()["request"]["type"] == "template" and created.json()["request"]["template"] == "order_confirm"
