"""/api/v1/orders and /api/v1/contacts: the integrator's side of order confirmation."""

from app.domain import sql
from tests.api.conftest import Shop

ORDER = {
    "phone": "+33 6 12 34 56 78",
    "name": "Zoé Martin",
    "external_id": "CMD-1001",
    "items": [{"name": "Produit A", "price": 29.99, "quantity": 2}, {"name": "Produit B", "price": 49.99}],
}


async def test_create_order_sends_the_request_and_a_repeat_sends_nothing(client, shop: Shop):
    r = await client.post("/api/v1/orders", json=ORDER, headers=shop.auth("orders"))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending" and order["total"] == "109.97" and order["currency"] == "EUR"
    assert order["contact"]["phone"] == "+33612345678" and order["contact"]["name"] == "Zoé Martin"
    assert order["items"][1] == {"name": "Produit B", "price": "49.99", "quantity": 1}
    conv = await sql.fetchrow("SELECT * FROM conversation WHERE id = $1", order["conversation_id"])
    assert (conv["status"], conv["bot_state"], conv["channel_id"]) == ("bot", "order", shop.channel_id)
    [msg] = await sql.fetch("SELECT * FROM message WHERE conversation_id = $1", conv["id"])
    assert (msg["direction"], msg["author"], msg["status"]) == ("out", "bot", "pending")
    assert "CMD-1001" in msg["text"] and "2 × Produit A" in msg["text"] and "109.97 EUR" in msg["text"]

    again = await client.post(
        "/api/v1/orders", json={**ORDER, "items": [{"name": "X", "price": 1}]}, headers=shop.auth("orders")
    )
    assert again.status_code == 200 and again.json()["id"] == order["id"] and again.json()["total"] == "109.97"
    assert await sql.fetchval("SELECT count(*) FROM message") == 1
    assert await sql.fetchval("SELECT count(*) FROM shop_order") == 1

    r = await client.get(f"/api/v1/orders/{order['id']}", headers=shop.auth("orders"))
    assert r.status_code == 200 and r.json()["external_id"] == "CMD-1001"
    listed = (await client.get("/api/v1/orders?status=pending", headers=shop.auth("orders"))).json()
    assert [o["id"] for o in listed["items"]] == [order["id"]] and listed["next_cursor"] is None
    assert (await client.get("/api/v1/orders?status=confirmed", headers=shop.auth("orders"))).json()["items"] == []


async def test_order_validation_errors_are_400_with_the_field(client, shop: Shop):
    cases = [
        ({**ORDER, "items": []}, "items"),
        ({**ORDER, "items": [{"name": "A", "price": 1.234}]}, "price"),
        ({**ORDER, "items": [{"name": "A", "price": -1}]}, "price"),
        ({**ORDER, "items": [{"name": "A", "price": 1, "quantity": 0}]}, "quantity"),
        ({**ORDER, "items": [{"name": "", "price": 1}]}, "name"),
        ({**ORDER, "phone": "not a phone"}, "phone"),
        ({**ORDER, "currency": "euro"}, "currency"),
        ({**ORDER, "surprise": 1}, "surprise"),
        ({"items": [{"name": "A", "price": 1}]}, "phone"),
        ({**ORDER, "phone": None, "contact_id": 2_000_000_000}, "contact_id"),
        ({**ORDER, "channel_id": 999999}, "channel_id"),
    ]
    for body, field in cases:
        r = await client.post("/api/v1/orders", json=body, headers=shop.auth("orders"))
        assert r.status_code == 400, (body, r.text)
        error = r.json()["error"]
        assert error["status"] == 400 and field in error["message"], (field, error)
    for raw in (b"{", b"[]", b"null", "\u0000".encode(), b'{"items": "x"}'):
        r = await client.post(
            "/api/v1/orders", content=raw, headers={**shop.auth("orders"), "content-type": "application/json"}
        )
        assert r.status_code == 400, (raw, r.text)
    big = {**ORDER, "items": [{"name": "A" * 200, "price": 1}] * 100, "external_id": "x"}
    r = await client.post("/api/v1/orders", json={**big, "pad": "x" * 1_100_000}, headers=shop.auth("orders"))
    assert r.status_code == 413 and r.json()["error"]["status"] == 413
    assert await sql.fetchval("SELECT count(*) FROM shop_order") == 0


async def test_other_companys_ids_are_not_found(client, shop: Shop, other_shop: Shop):
    mine = (await client.post("/api/v1/orders", json=ORDER, headers=shop.auth("orders"))).json()
    theirs = other_shop.auth("all")
    assert (await client.get(f"/api/v1/orders/{mine['id']}", headers=theirs)).status_code == 404
    assert (
        await client.post(f"/api/v1/orders/{mine['id']}/decision", json={"decision": "cancel"}, headers=theirs)
    ).status_code == 404
    assert (await client.get(f"/api/v1/contacts/{mine['contact']['id']}", headers=theirs)).status_code == 404
    assert (await client.get(f"/api/v1/contacts/{mine['contact']['id']}/orders", headers=theirs)).status_code == 404
    r = await client.post(
        "/api/v1/orders", json={"contact_id": mine["contact"]["id"], "items": ORDER["items"]}, headers=theirs
    )
    assert r.status_code == 400 and "contact_id" in r.json()["error"]["message"]
    r = await client.post(
        "/api/v1/orders", json={**ORDER, "external_id": "Z", "channel_id": shop.channel_id}, headers=theirs
    )
    assert r.status_code == 400 and "channel_id" in r.json()["error"]["message"]
    assert (await client.get("/api/v1/orders", headers=theirs)).json()["items"] == []
    assert (await sql.fetchrow("SELECT status FROM shop_order WHERE id = $1", mine["id"]))["status"] == "pending"


async def test_integrator_decides_an_order(client, shop: Shop):
    order = (await client.post("/api/v1/orders", json=ORDER, headers=shop.auth("orders"))).json()
    r = await client.post(
        f"/api/v1/orders/{order['id']}/decision", json={"decision": "cancel"}, headers=shop.auth("orders")
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["decided_by"] == "api"
    again = await client.post(
        f"/api/v1/orders/{order['id']}/decision", json={"decision": "confirm"}, headers=shop.auth("orders")
    )
    assert again.status_code == 400 and "already decided" in again.json()["error"]["message"]
    bad = await client.post(
        f"/api/v1/orders/{order['id']}/decision", json={"decision": "maybe"}, headers=shop.auth("orders")
    )
    assert bad.status_code == 400


async def test_contacts(client, shop: Shop, other_shop: Shop):
    r = await client.post(
        "/api/v1/contacts", json={"phone": "+5511987654321", "name": "João"}, headers=shop.auth("orders")
    )
    assert r.status_code == 201 and r.json()["phone"] == "+5511987654321"
    contact_id = r.json()["id"]
    r = await client.post(
        "/api/v1/contacts", json={"phone": "5511987654321", "name": "João Silva"}, headers=shop.auth("orders")
    )
    assert r.json()["id"] == contact_id and r.json()["name"] == "João Silva"
    assert (await client.get(f"/api/v1/contacts/{contact_id}", headers=shop.auth("read"))).json()[
        "name"
    ] == "João Silva"
    found = (await client.get("/api/v1/contacts?q=silva", headers=shop.auth("read"))).json()
    assert [c["id"] for c in found["items"]] == [contact_id]
    assert (await client.get("/api/v1/contacts", headers=other_shop.auth("read"))).json()["items"] == []
    for body in ({"phone": "abc"}, {"phone": ""}, {"name": "x"}, {"phone": "+33612345678", "name": "n" * 201}):
        r = await client.post("/api/v1/contacts", json=body, headers=shop.auth("orders"))
        assert r.status_code == 400, body
    assert (await client.get("/api/v1/contacts/99999999999", headers=shop.auth("read"))).status_code in (400, 404)
    # Pages
    for n in range(5):
        await client.post("/api/v1/contacts", json={"phone": f"+3361000000{n}"}, headers=shop.auth("orders"))
    first = (await client.get("/api/v1/contacts?limit=4", headers=shop.auth("read"))).json()
    second = (
        await client.get(f"/api/v1/contacts?limit=4&cursor={first['next_cursor']}", headers=shop.auth("read"))
    ).json()
    ids = [c["id"] for c in first["items"] + second["items"]]
    assert len(ids) == 6 == len(set(ids)) and second["next_cursor"] is None
    assert (await client.get("/api/v1/contacts?limit=0", headers=shop.auth("read"))).status_code == 400
    assert (await client.get("/api/v1/contacts?limit=abc", headers=shop.auth("read"))).status_code == 400
