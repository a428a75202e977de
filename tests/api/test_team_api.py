"""``/api/v1`` for what the pages do: me, users, departments and channels (admin permission),
presence, message search, per-agent and per-department metrics, media upload and download."""

from __future__ import annotations

from app.domain import sql
from app.domain.api_keys import create_api_key
from tests.api.conftest import Shop


async def admin_key(shop: Shop, *scopes: str) -> dict:
    _, key = await create_api_key(
        shop.company.id, {"name": "admin", "scopes": list(scopes or ("admin", "read"))}, user_id=None
    )
    return {"Authorization": f"Bearer {key}"}


async def test_me(client, shop):
    me = (await client.get("/api/v1/me", headers=shop.auth("orders"))).json()
    assert me["type"] == "api_key" and me["company"]["id"] == shop.company.id and me["scopes"] == ["orders"]


async def test_users_departments_channels_need_admin(client, shop, other_shop):
    h = await admin_key(shop)
    new_user = {
        "name": "Bruno",
        "email": "bruno@example.com",
        "password": "correct horse battery staple 42",
        "role": "agent",
        "department_ids": [shop.department.id],
    }
    assert (await client.post("/api/v1/users", json=new_user, headers=shop.auth("all"))).status_code == 403
    created = await client.post("/api/v1/users", json=new_user, headers=h)
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["name"], user["role"], user["department_ids"], user["presence"]) == (
        "Bruno",
        "agent",
        [shop.department.id],
        "offline",
    )
    patched = (await client.patch(f"/api/v1/users/{user['id']}", json={"capacity": 9}, headers=h)).json()
    assert (patched["capacity"], patched["name"], patched["department_ids"]) == (9, "Bruno", [shop.department.id])
    # Presence, as seed 003's front end drives it (write permission).
    online = await client.put(
        f"/api/v1/users/{user['id']}/presence", json={"presence": "online"}, headers=shop.auth("write")
    )
    assert online.status_code == 200 and online.json()["presence"] == "online"
    off = (await client.patch(f"/api/v1/users/{user['id']}", json={"active": False}, headers=h)).json()
    assert off["active"] is False and off["presence"] == "offline"
    assert (await client.post("/api/v1/users", json={**new_user, "password": "x"}, headers=h)).status_code == 400
    assert (await client.post("/api/v1/users", json={**new_user, "admin": True}, headers=h)).status_code == 400
    theirs = await admin_key(other_shop)
    assert (await client.patch(f"/api/v1/users/{user['id']}", json={"capacity": 1}, headers=theirs)).status_code == 404
    assert (await client.get(f"/api/v1/users/{user['id']}", headers=other_shop.auth("read"))).status_code == 404

    dep = await client.post("/api/v1/departments", json={"name": "SAV", "code": "sav"}, headers=h)
    assert dep.status_code == 201 and dep.json()["code"] == "SAV"
    dep_id = dep.json()["id"]
    renamed = (await client.patch(f"/api/v1/departments/{dep_id}", json={"name": "Après-vente"}, headers=h)).json()
    assert (renamed["name"], renamed["code"]) == ("Après-vente", "SAV")
    assert (await client.delete(f"/api/v1/departments/{dep_id}", headers=theirs)).status_code == 404
    assert (await client.delete(f"/api/v1/departments/{dep_id}", headers=h)).status_code == 204

    ch = await client.post(
        "/api/v1/channels",
        json={"name": "Boutique", "provider": "whapi", "credentials": {"token": "whapi-secret-token-123"}},
        headers=h,
    )
    assert ch.status_code == 201, ch.text
    channel = ch.json()
    assert channel["credentials"]["token"] == "••••-123" and len(channel["webhook_secret"]) >= 16  # shown once
    listed = (await client.get("/api/v1/channels", headers=h)).json()
    assert all("whapi-secret" not in str(c) for c in listed) and all(
        c["webhook_secret"].startswith("••••") for c in listed
    )
    renamed = (
        await client.patch(f"/api/v1/channels/{channel['id']}", json={"name": "Shop", "active": False}, headers=h)
    ).json()
    assert (renamed["name"], renamed["active"]) == ("Shop", False)
    assert (
        await sql.fetchval("SELECT credentials->>'token' FROM channel WHERE id = $1", channel["id"])
        == "whapi-secret-token-123"
    )
    assert (await client.get("/api/v1/channels", headers=shop.auth("all"))).status_code == 403
    assert (await client.get(f"/api/v1/channels/{channel['id']}", headers=theirs)).status_code == 404
    bad = await client.post("/api/v1/channels", json={"name": "X", "provider": "whapi", "credentials": {}}, headers=h)
    assert bad.status_code == 400


async def test_search_metrics_and_media(client, shop, other_shop, settings):
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33611111111', 'Zoé') RETURNING id", shop.company.id
    )
    conv = await sql.fetchval(
        "INSERT INTO conversation (company_id, channel_id, contact_id) VALUES ($1, $2, $3) RETURNING id",
        shop.company.id,
        shop.channel_id,
        contact,
    )
    for text in ("Ma commande n°4512 est arrivée cassée", "Merci beaucoup", "commande 4512 remboursée ?"):
        await sql.execute(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
               VALUES ($1, $2, $3, 'in', 'customer', 'text', $4, 'received')""",
            shop.company.id,
            shop.channel_id,
            conv,
            text,
        )
    found = (await client.get("/api/v1/messages", params={"q": "4512"}, headers=shop.auth("read"))).json()
    assert [m["text"] for m in found["items"]] == [
        "commande 4512 remboursée ?",
        "Ma commande n°4512 est arrivée cassée",
    ]
    one = (await client.get("/api/v1/messages", params={"q": "4512", "limit": 1}, headers=shop.auth("read"))).json()
    assert len(one["items"]) == 1 and one["next_cursor"]
    assert (await client.get("/api/v1/messages", params={"q": "4512"}, headers=other_shop.auth("read"))).json()[
        "items"
    ] == []
    assert (await client.get("/api/v1/messages", params={"q": "x"}, headers=shop.auth("read"))).status_code == 400

    agents = await client.get("/api/v1/metrics/agents", headers=shop.auth("read"))
    assert agents.status_code == 200, agents.text
    assert all({"id", "name", "new_conversations", "first_responses"} <= set(r) for r in agents.json()["items"])
    deps = await client.get(
        "/api/v1/metrics/departments", params={"from": "2026-01-01", "to": "2026-01-31"}, headers=shop.auth("read")
    )
    assert deps.status_code == 200 and deps.json()["from"] == "2026-01-01"
    assert (
        await client.get("/api/v1/metrics/agents", params={"from": "2026-02-30"}, headers=shop.auth("read"))
    ).status_code == 400

    await sql.execute(
        "UPDATE conversation SET status = 'assigned', assigned_user_id = $2 WHERE id = $1", conv, shop.agent.id
    )
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    sent = await client.post(
        f"/api/v1/conversations/{conv}/media",
        files={"file": ("photo.png", png, "image/png")},
        data={"caption": "Voici la photo"},
        headers=shop.auth("write"),
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert (message["type"], message["text"], message["status"]) == ("image", "Voici la photo", "pending")
    got = await client.get(f"/api/v1/messages/{message['id']}/media", headers=shop.auth("read"))
    assert got.status_code == 200 and got.content == png and got.headers["content-type"].startswith("image/png")
    assert (
        await client.get(f"/api/v1/messages/{message['id']}/media", headers=other_shop.auth("read"))
    ).status_code == 404
    assert (
        await client.post(
            f"/api/v1/conversations/{conv}/media",
            data={"caption": "x"},
            files={"other": ("a", b"a")},
            headers=shop.auth("write"),
        )
    ).status_code == 400
