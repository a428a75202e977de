"""/api/v1: authentication, permissions, rate limits, and the conversation endpoints."""

import asyncio
import itertools

from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.api_keys import create_api_key, revoke_api_key
from app.domain.channels import get_channel
from app.domain.events import ConversationOpened
from app.domain.messages import receive_webhook
from app.providers.base import InboundMessage, Parsed
from tests.api.conftest import Shop, make_shop
from tests.factories import make_department, make_user
from tests.helpers import csrf, login

_message_ids = itertools.count(1)


async def customer_writes(shop: Shop, text: str, phone: str = "+33699000001") -> int:
    n = next(_message_ids)
    channel = await get_channel(shop.company.id, shop.channel_id)
    await receive_webhook(
        channel,
        Parsed(
            messages=[
                InboundMessage(provider_message_id=f"in-{n}", phone=phone, name="Marie Curie", type="text", text=text)
            ]
        ),
    )
    conv_id = await sql.fetchval(
        "SELECT id FROM conversation WHERE company_id = $1 ORDER BY id DESC LIMIT 1", shop.company.id
    )
    return conv_id


async def test_keys_are_required_checked_and_scoped(client, shop: Shop):
    r = await client.get("/api/v1/conversations")
    assert r.status_code == 401
    assert set(r.json()["error"]) == {"status", "message", "request_id"}
    for header in (
        {"Authorization": "Bearer sbk_nope_nope"},
        {"Authorization": "Bearer " + shop.keys["all"][:-1] + "x"},
        {"X-API-Key": "garbage"},
        {"Authorization": "Basic abc"},
    ):
        assert (await client.get("/api/v1/conversations", headers=header)).status_code == 401, header
    assert (await client.get("/api/v1/conversations", headers={"X-API-Key": shop.keys["read"]})).status_code == 200
    # Wrong permission: 403 whatever the body.
    assert (await client.get("/api/v1/conversations", headers=shop.auth("orders"))).status_code == 403
    assert (await client.post("/api/v1/orders", json={}, headers=shop.auth("read"))).status_code == 403
    r = await client.post("/api/v1/conversations/1/resolve", headers=shop.auth("read"))
    assert r.status_code == 403 and "write" in r.json()["error"]["message"]
    assert (await client.get("/api/v1/orders", headers=shop.auth("write"))).status_code == 403
    # Revoked keys stop at once; the database holds only a hash.
    key_id = await sql.fetchval("SELECT id FROM api_key WHERE company_id = $1 AND name = 'read'", shop.company.id)
    await revoke_api_key(shop.company.id, key_id)
    assert (await client.get("/api/v1/departments", headers=shop.auth("read"))).status_code == 401
    stored = await sql.fetch("SELECT prefix, secret_hash FROM api_key")
    assert all(r["secret_hash"] not in shop.keys.values() and len(r["secret_hash"]) == 64 for r in stored)
    assert not any(k.split("_", 2)[2] in str(list(map(dict, stored))) for k in shop.keys.values())


async def test_rate_limit_per_key_with_retry_after(client, app):
    shop = await make_shop("Limited", rate_limit=3)
    for _ in range(3):
        assert (await client.get("/api/v1/departments", headers=shop.auth("all"))).status_code == 200
    r = await client.get("/api/v1/departments", headers=shop.auth("all"))
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
    assert r.json()["error"]["status"] == 429
    # Concurrent requests cannot slip through: the counter is one atomic upsert.
    results = await asyncio.gather(*(client.get("/api/v1/departments", headers=shop.auth("read")) for _ in range(8)))
    assert sorted(r.status_code for r in results) == [200] * 3 + [429] * 5
    # Another key of the same company has its own budget.
    assert (await client.get("/api/v1/departments", headers=shop.auth("orders"))).status_code == 403


async def test_conversations_list_read_and_message_pages(client, shop: Shop, other_shop: Shop):
    conv = await customer_writes(shop, "Bonjour")
    for n in range(4):
        await customer_writes(shop, f"message {n}")
    other = await customer_writes(other_shop, "hello")
    r = await client.get("/api/v1/conversations?status=bot", headers=shop.auth("read"))
    assert [c["id"] for c in r.json()["items"]] == [conv]
    assert r.json()["items"][0]["contact"]["phone"] == "+33699000001"
    assert (await client.get("/api/v1/conversations?status=resolved", headers=shop.auth("read"))).json()["items"] == []
    assert (
        await client.get(f"/api/v1/conversations?department_id={shop.department.id}", headers=shop.auth("read"))
    ).json()["items"] == []
    assert (await client.get("/api/v1/conversations?status=nope", headers=shop.auth("read"))).status_code == 400
    assert (await client.get(f"/api/v1/conversations/{conv}", headers=shop.auth("read"))).json()["status"] == "bot"
    assert (await client.get(f"/api/v1/conversations/{other}", headers=shop.auth("read"))).status_code == 404
    assert (await client.get(f"/api/v1/conversations/{other}/messages", headers=shop.auth("read"))).status_code == 404
    first = (await client.get(f"/api/v1/conversations/{conv}/messages?limit=3", headers=shop.auth("read"))).json()
    assert [m["text"] for m in first["items"]] == ["message 3", "message 2", "message 1"]
    rest = (
        await client.get(
            f"/api/v1/conversations/{conv}/messages?limit=3&cursor={first['next_cursor']}", headers=shop.auth("read")
        )
    ).json()
    assert [m["text"] for m in rest["items"]] == ["message 0", "Bonjour"] and rest["next_cursor"] is None


async def test_send_assign_transfer_resolve(client, shop: Shop, other_shop: Shop):
    conv = await customer_writes(shop, "Bonjour")
    other = await customer_writes(other_shop, "hello")
    h = shop.auth("write")
    r = await client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "Hello <b>there</b>"}, headers=h)
    assert r.status_code == 201 and r.json()["status"] == "pending" and r.json()["text"] == "Hello <b>there</b>"
    r = await client.post(
        f"/api/v1/conversations/{conv}/messages",
        headers=h,
        json={"type": "media", "media_url": "https://cdn.example/p.jpg", "text": "photo"},
    )
    assert r.status_code == 201 and r.json()["type"] == "image"
    for body in (
        {"text": ""},
        {"type": "media", "media_url": "ftp://x"},
        {"type": "template"},
        {"type": "fax"},
        {"text": "x" * 4097},
        {"text": 5},
    ):
        r = await client.post(f"/api/v1/conversations/{conv}/messages", json=body, headers=h)
        assert r.status_code == 400, (body, r.text)
    assert (
        await client.post(f"/api/v1/conversations/{other}/messages", json={"text": "hi"}, headers=h)
    ).status_code == 404

    r = await client.post(f"/api/v1/conversations/{conv}/assign", json={"user_id": shop.agent.id}, headers=h)
    assert r.status_code == 200 and (r.json()["status"], r.json()["assigned_user_id"]) == ("assigned", shop.agent.id)
    other_agent = await make_user(other_shop.company, presence="online")
    assert (
        await client.post(f"/api/v1/conversations/{conv}/assign", json={"user_id": other_agent.id}, headers=h)
    ).status_code == 404
    assert (
        await client.post(f"/api/v1/conversations/{other}/assign", json={"user_id": shop.agent.id}, headers=h)
    ).status_code == 404
    support = await make_department(shop.company, "Support")
    r = await client.post(
        f"/api/v1/conversations/{conv}/transfer", json={"department_id": support.id, "note": "n"}, headers=h
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["department_id"]) == ("queued", support.id)
    assert (await client.post(f"/api/v1/conversations/{conv}/transfer", json={}, headers=h)).status_code == 400
    assert (
        await client.post(
            f"/api/v1/conversations/{conv}/transfer", json={"department_id": other_shop.department.id}, headers=h
        )
    ).status_code == 404
    r = await client.post(f"/api/v1/conversations/{conv}/resolve", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert (await client.post(f"/api/v1/conversations/{other}/resolve", headers=h)).status_code == 404
    r = await client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "late"}, headers=h)
    assert r.status_code == 400 and "resolved" in r.json()["error"]["message"]
    events = await sql.fetch(
        "SELECT kind, actor_user_id FROM conversation_event WHERE conversation_id = $1 ORDER BY id", conv
    )
    assert [e["kind"] for e in events][-1] == "resolved" and all(e["actor_user_id"] is None for e in events)


async def test_directory_and_metrics(client, shop: Shop, other_shop: Shop):
    await make_user(shop.company, "supervisor", name="Sam Sup", presence="busy")
    conv = await customer_writes(shop, "Bonjour")
    await react(ConversationOpened(shop.company.id, conv, shop.channel_id))
    deps = (await client.get("/api/v1/departments", headers=shop.auth("read"))).json()
    assert [(d["name"], d["members"]) for d in deps] == [("Ventes", 1)]
    users = (await client.get("/api/v1/users", headers=shop.auth("read"))).json()
    assert {u["name"]: u["presence"] for u in users} == {"Alice Agent": "online", "Sam Sup": "busy"}
    assert [u["name"] for u in (await client.get("/api/v1/users?presence=busy", headers=shop.auth("read"))).json()] == [
        "Sam Sup"
    ]
    assert (await client.get("/api/v1/users?presence=asleep", headers=shop.auth("read"))).status_code == 400
    m = (await client.get("/api/v1/metrics/summary", headers=shop.auth("read"))).json()
    assert m["conversations"]["bot"] + m["conversations"]["queued"] + m["conversations"]["assigned"] == 1
    assert m["today"]["new_conversations"] == 1
    assert (await client.get("/api/v1/metrics/summary", headers=other_shop.auth("read"))).json()["today"][
        "new_conversations"
    ] == 0


async def test_sessions_of_supervisors_work_with_csrf(client, shop: Shop):
    sup = await make_user(shop.company, "supervisor")
    agent = await make_user(shop.company, "agent")
    conv = await customer_writes(shop, "Bonjour")
    await login(client, sup.email)
    assert (await client.get("/api/v1/conversations")).status_code == 200
    r = await client.post(f"/api/v1/conversations/{conv}/messages", json={"text": "hi"})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    r = await client.post(
        f"/api/v1/conversations/{conv}/messages", json={"text": "hi"}, headers={"x-csrftoken": "forged" * 12}
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/conversations/{conv}/messages", json={"text": "hi"}, headers={"x-csrftoken": csrf(client)}
    )
    assert r.status_code == 201
    assert await sql.fetchval("SELECT author_user_id FROM message WHERE id = $1", r.json()["id"]) == sup.id
    client.cookies.clear()
    await login(client, agent.email)
    assert (await client.get("/api/v1/conversations")).status_code == 403


async def test_openapi_schema_documents_the_api(client, shop: Shop):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/orders",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/contacts",
        "/api/v1/departments",
        "/api/v1/users",
        "/api/v1/metrics/summary",
    ):
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    post = paths["/api/v1/orders"]["post"]
    assert post["security"] == [{"apiKey": []}]
    assert "ErrorBody" in str(post["responses"]["400"]) and "429" in post["responses"]
    assert schema["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


async def test_keys_of_another_company_see_nothing_of_this_one(client, shop: Shop):
    _, key = await create_api_key(shop.company.id, {"name": "x", "scopes": ["read"]}, user_id=None)
    other = await make_shop("Third")
    conv = await customer_writes(other, "hello")
    assert (
        await client.get(f"/api/v1/conversations/{conv}", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 404
