"""Contract tests: each seed system's documented client requests, sent over real HTTP to a real
server process, with only the base URL and an API key changed (README "Moving from …").

Seed 001: the order-confirmation guide's curl/fetch calls (x-api-key header). Seed 002: the
Twilio Studio flow's request to the backend (Basic credentials in the URL, as Studio sends
them). Seed 004: the Operator front end's REST calls (§3.1-3.5). Seeds 000 and 003: users,
departments (postes) and presence by JSON."""

from __future__ import annotations

import httpx

from app.domain.api_keys import create_api_key
from app.domain.channels import create_channel, ensure_sandbox_channel
from tests.factories import make_company, make_department


async def _key(company, *scopes: str) -> str:
    _, key = await create_api_key(company.id, {"name": "migrated", "scopes": list(scopes)}, user_id=None)
    return key


async def test_seed_001_shop(live_server):
    company = await make_company("Boutique")
    await ensure_sandbox_channel(company.id)
    headers = {"Content-Type": "application/json", "x-api-key": await _key(company, "orders")}
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers, timeout=10) as api:
        r = await api.post(
            "/api/clients", json={"phoneNumber": "+33612345678", "name": "Test Client", "status": "pending"}
        )
        assert r.status_code == 201
        client_id = r.json()["_id"]
        r = await api.post(
            "/api/orders",
            json={
                "clientId": client_id,
                "products": [
                    {"id": "prod1", "name": "Produit A", "price": 29.99, "quantity": 2},
                    {"id": "prod2", "name": "Produit B", "price": 49.99, "quantity": 1},
                ],
            },
        )
        assert r.status_code == 201 and r.json()["total"] == 109.97 and r.json()["products"][0]["id"] == "prod1"
        r = await api.put(f"/api/clients/{client_id}", json={"status": "confirmed"})
        assert (
            r.status_code == 200
            and r.json()["status"] == "confirmed"
            and r.json()["orders"][0]["status"] == "confirmed"
        )
        assert (await api.get("/api/clients", headers={"x-api-key": "sbk_wrong_key"})).status_code == 401


async def test_seed_002_studio_flow(live_server):
    company = await make_company("Garage")
    channel = await create_channel(
        company.id,
        {
            "name": "Twilio",
            "provider": "twilio",
            "cred_account_sid": "ACX",
            "cred_auth_token": "tok",
            "cred_from_number": "+14155238886",
            "cred_studio_in_front": "yes",
            "webhook_secret": "studio-secret-0123456789",
        },
    )
    url = live_server.url.replace("http://", "http://studio:studio-secret-0123456789@")
    async with httpx.AsyncClient(timeout=10) as studio:
        r = await studio.post(
            f"{url}/webhooks/twilio-studio/{channel.id}",
            data={"From": "whatsapp:+212612345678", "Body": "mercedes", "MessageSid": "SMc1"},
        )
        assert r.status_code == 200 and r.json()["agent_mode"] is False


async def test_seed_004_operator_front_end(live_server):
    company = await make_company("Standard")
    headers = {"Authorization": f"Bearer {await _key(company, 'pbx:read', 'pbx:write', 'calls')}"}
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers, timeout=10) as api:
        created = await api.post(
            "/api/extensions", json={"number": "1001", "name": "Accueil", "secret": "Sip-Password-123"}
        )
        assert created.status_code == 201
        ext = (await api.get("/api/extensions")).json()[0]
        assert (await api.put(f"/api/extensions/{ext['id']}", json=ext)).json()["name"] == "Accueil"
        trunk = await api.post("/api/trunks", json={"name": "operator", "host": "sip.example.net"})
        assert trunk.status_code == 201 and "status" in trunk.json()
        queue = await api.post("/api/queues", json={"name": "accueil", "members": [{"extension": "1001"}]})
        assert queue.status_code == 201 and queue.json()["waitingCalls"] == 0
        q = queue.json()
        kept = await api.put(f"/api/queues/{q['id']}", json={"name": "accueil", "strategy": "rrmemory"})
        assert [m["extension"] for m in kept.json()["members"]] == ["1001"]
        history = await api.get(
            "/api/cdr", params={"page": 1, "limit": 15, "search": "", "startDate": "", "endDate": ""}
        )
        assert history.status_code == 200 and history.json()["total"] == 0
        assert (await api.post("/api/calls/hangup", json={"channel": "SIP/1001-00000001"})).status_code == 404
        assert (await api.delete(f"/api/extensions/{ext['id']}")).status_code == 204


async def test_seeds_000_and_003_team(live_server):
    company = await make_company("Service desk")
    department = await make_department(company, "Vendas")
    headers = {"Authorization": f"Bearer {await _key(company, 'admin', 'read', 'write')}"}
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers, timeout=10) as api:
        user = await api.post(
            "/api/v1/users",
            json={
                "email": "ana@example.com",
                "name": "Ana",
                "role": "agent",
                "password": "correct horse battery staple 42",
                "department_ids": [department.id],
            },
        )
        assert user.status_code == 201
        user_id = user.json()["id"]
        assert (await api.patch(f"/api/v1/users/{user_id}", json={"name": "Ana Souza"})).json()["name"] == "Ana Souza"
        assert (await api.put(f"/api/v1/users/{user_id}/presence", json={"presence": "online"})).json()[
            "presence"
        ] == "online"
        poste = await api.post("/api/v1/departments", json={"name": "Suporte", "code": "SUP"})
        assert poste.status_code == 201
        assert {d["name"] for d in (await api.get("/api/v1/departments")).json()} == {"Vendas", "Suporte"}
        assert (await api.get("/api/v1/me")).json()["type"] == "api_key"
