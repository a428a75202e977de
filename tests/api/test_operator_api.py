"""Seed 004's operator API (``/api/extensions``, ``/api/trunks``, ``/api/queues``, ``/api/calls``,
``/api/cdr``): API keys with the pbx:read, pbx:write and calls scopes, other companies' ids,
and the seed front end's requests field by field (read-edit-write round trips, partial PUTs)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from app.domain import sql
from app.domain.api_keys import create_api_key
from tests.factories import make_company, make_user
from tests.helpers import csrf, login

T0 = datetime(2026, 11, 20, 9, 0, 0)


async def _key(company, *scopes: str) -> dict:
    _, key = await create_api_key(company.id, {"name": "-".join(scopes), "scopes": list(scopes)}, user_id=None)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def pbx_co(app):
    company = await make_company("Standard")
    keys = {s: await _key(company, s) for s in ("pbx:read", "pbx:write", "calls", "read")}
    keys["both"] = await _key(company, "pbx:read", "pbx:write")
    return company, keys


async def test_scopes_of_each_operator_endpoint(client, pbx_co):
    company, k = pbx_co
    ext = {"number": "1001", "name": "Accueil"}
    assert (await client.post("/api/extensions", json=ext)).status_code == 401
    assert (await client.post("/api/extensions", json=ext, headers=k["pbx:read"])).status_code == 403
    assert (await client.post("/api/extensions", json=ext, headers=k["calls"])).status_code == 403
    assert (await client.post("/api/extensions", json=ext, headers=k["read"])).status_code == 403
    created = await client.post("/api/extensions", json=ext, headers=k["pbx:write"])
    assert created.status_code == 201, created.text
    # pbx:write alone does not read; pbx:read does
    assert (await client.get("/api/extensions", headers=k["pbx:write"])).status_code == 403
    listing = await client.get("/api/extensions", headers=k["pbx:read"])
    assert [e["number"] for e in listing.json()] == ["1001"]
    for path in ("/api/trunks", "/api/queues"):
        assert (await client.get(path, headers=k["pbx:read"])).status_code == 200
        assert (await client.get(path, headers=k["calls"])).status_code == 403
    # calls: live calls, history, hang up and transfer; not the PBX objects
    assert (await client.get("/api/calls", headers=k["calls"])).status_code == 200
    assert (await client.get("/api/cdr", headers=k["calls"])).status_code == 200
    assert (await client.get("/api/cdr", headers=k["pbx:read"])).status_code == 403
    assert (
        await client.post("/api/calls/hangup", json={"channel": "PJSIP/1001-1"}, headers=k["pbx:write"])
    ).status_code == 403
    hangup = await client.post("/api/calls/hangup", json={"channel": "PJSIP/1001-1"}, headers=k["calls"])
    assert hangup.status_code == 404  # no such live call in this company: the key got through
    bad = await client.post(
        "/api/calls/transfer", json={"channel": "PJSIP/1001-1", "destination": "x;y"}, headers=k["calls"]
    )
    assert bad.status_code == 400 and "destination" in bad.json()["error"]["message"]


async def test_other_companys_ids_answer_404(client, pbx_co):
    company, k = pbx_co
    other = await make_company("Autre")
    theirs = await _key(other, "pbx:read", "pbx:write")
    ext = (await client.post("/api/extensions", json={"number": "1001", "name": "A"}, headers=k["both"])).json()
    q = (
        await client.post("/api/queues", json={"name": "sales", "members": [{"extension": "1001"}]}, headers=k["both"])
    ).json()
    t = (await client.post("/api/trunks", json={"name": "op", "host": "10.0.0.1"}, headers=k["both"])).json()
    for path in (f"/api/extensions/{ext['id']}", f"/api/queues/{q['id']}", f"/api/trunks/{t['id']}"):
        assert (await client.get(path, headers=theirs)).status_code == 404
        assert (await client.put(path, json={}, headers=theirs)).status_code == 404
        assert (await client.delete(path, headers=theirs)).status_code == 404
        assert (await client.get(path, headers=k["both"])).status_code == 200
    assert (await client.get("/api/extensions", headers=theirs)).json() == []
    # their queue may not take our extension as a member
    stolen = await client.post("/api/queues", json={"name": "x", "members": [{"extension": "1001"}]}, headers=theirs)
    assert stolen.status_code == 400


async def test_sessions_keep_working_with_roles_and_csrf(client, app):
    company = await make_company()
    admin = await make_user(company, "admin")
    supervisor = await make_user(company, "supervisor")
    await login(client, supervisor.email)
    assert (await client.get("/api/extensions")).status_code == 403  # the PBX objects are the admin's
    assert (await client.get("/api/cdr")).status_code == 200  # calls are a supervisor's too
    await login(client, admin.email)
    assert (
        await client.post("/api/extensions", json={"number": "1001", "name": "A"})
    ).status_code == 403  # no CSRF header
    ok = await client.post(
        "/api/extensions", json={"number": "1001", "name": "A"}, headers={"x-csrftoken": csrf(client)}
    )
    assert ok.status_code == 201


async def test_extension_round_trip_keeps_the_name_and_sets_the_password(client, pbx_co):
    company, k = pbx_co
    # The seed's POST body: Omit<Extension, 'id' | 'status' | 'ipAddress' | 'userAgent'>, no codecs.
    created = await client.post(
        "/api/extensions", json={"number": "1001", "name": "Accueil", "secret": "Sip-Password-123"}, headers=k["both"]
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Accueil" and body["number"] == "1001" and body["codecs"] == ["ulaw", "alaw"]
    assert "secret" not in body  # the client chose it: not echoed back
    assert await sql.fetchval("SELECT password FROM ps_auths WHERE id = '1001'") == "Sip-Password-123"
    read = (await client.get("/api/extensions", headers=k["both"])).json()[0]
    assert set(read) >= {"id", "number", "name", "codecs", "status", "ipAddress", "userAgent"}
    # The seed's PUT body is the whole Extension it read: saving it unchanged changes nothing.
    put = await client.put(f"/api/extensions/{read['id']}", json=read, headers=k["both"])
    assert put.status_code == 200, put.text
    assert put.json()["name"] == "Accueil" and put.json()["codecs"] == ["ulaw", "alaw"]
    assert await sql.fetchval("SELECT label FROM pbx_object WHERE name = '1001'") == "Accueil"
    assert await sql.fetchval("SELECT password FROM ps_auths WHERE id = '1001'") == "Sip-Password-123"
    # A partial PUT changes only what it names.
    renamed = await client.put(f"/api/extensions/{read['id']}", json={"name": "Standard"}, headers=k["both"])
    assert renamed.json()["name"] == "Standard" and renamed.json()["codecs"] == ["ulaw", "alaw"]
    assert await sql.fetchval("SELECT callerid FROM ps_endpoints WHERE id = '1001'") == '"Standard" <1001>'
    await client.put(f"/api/extensions/{read['id']}", json={"password": "Another-Pass-456"}, headers=k["both"])
    assert await sql.fetchval("SELECT password FROM ps_auths WHERE id = '1001'") == "Another-Pass-456"
    regen = await client.put(f"/api/extensions/{read['id']}", json={"regenerate_secret": True}, headers=k["both"])
    assert regen.json()["secret"] == await sql.fetchval("SELECT password FROM ps_auths WHERE id = '1001'")
    for bad in (
        {"number": "1002"},
        {"secret": "short"},
        {"secret": "has spaces in it"},
        {"codecs": ["speex"]},
        {"name": ""},
    ):
        response = await client.put(f"/api/extensions/{read['id']}", json=bad, headers=k["both"])
        assert response.status_code == 400, bad
    assert (await client.post("/api/extensions", json={"number": "1002"}, headers=k["both"])).status_code == 400


async def test_extension_status_address_and_user_agent(client, pbx_co):
    company, k = pbx_co
    a = (await client.post("/api/extensions", json={"number": "1001", "name": "A"}, headers=k["both"])).json()
    await client.post("/api/extensions", json={"number": "1002", "name": "B"}, headers=k["both"])
    await sql.execute(
        """INSERT INTO ps_contacts (id, uri, expiration_time, endpoint, via_addr, user_agent)
           VALUES ('1001;@abc', 'sip:1001@192.0.2.10:5062', 1999999999, '1001', '192.0.2.10',
                   'Yealink SIP-T46U 108.86')"""
    )
    await sql.execute(
        "INSERT INTO pbx_live (company_id, version, snapshot) VALUES ($1, 1, $2::jsonb)",
        company.id,
        json.dumps(
            {
                "endpoints": {
                    "1001": {"kind": "extension", "state": "Not in use", "registered": True},
                    "1002": {"kind": "extension", "state": "Unavailable", "registered": False},
                }
            }
        ),
    )
    items = {e["number"]: e for e in (await client.get("/api/extensions", headers=k["both"])).json()}
    assert (
        items["1001"]["status"],
        items["1001"]["state"],
        items["1001"]["ipAddress"],
        items["1001"]["userAgent"],
    ) == ("Registered", "Not in use", "192.0.2.10", "Yealink SIP-T46U 108.86")
    assert (items["1002"]["status"], items["1002"]["ipAddress"], items["1002"]["userAgent"]) == (
        "Unregistered",
        None,
        None,
    )
    one = (await client.get(f"/api/extensions/{a['id']}", headers=k["both"])).json()
    assert one["ipAddress"] == "192.0.2.10"


async def test_trunk_status_and_partial_put(client, pbx_co):
    company, k = pbx_co
    body = {
        "name": "op",
        "host": "sip.example.net",
        "username": "acme",
        "password": "s3cret",
        "register": True,
        "label": "Opérateur",
    }
    t = await client.post("/api/trunks", json=body, headers=k["both"])
    assert t.status_code == 201, t.text
    trunk = t.json()
    assert trunk["status"] == "Unknown" and "password" not in trunk and trunk["register"] is True
    await sql.execute(
        "INSERT INTO pbx_live (company_id, version, snapshot) VALUES ($1, 1, $2::jsonb)",
        company.id,
        json.dumps({"endpoints": {"op": {"kind": "trunk", "state": "Registered", "registered": True}}}),
    )
    trunk = (await client.get("/api/trunks", headers=k["both"])).json()[0]
    assert trunk["status"] == "Registered"
    put = await client.put(f"/api/trunks/{trunk['id']}", json={**trunk, "host": "sip2.example.net"}, headers=k["both"])
    assert put.status_code == 200, put.text
    after = put.json()
    assert (after["host"], after["username"], after["label"], after["register"]) == (
        "sip2.example.net",
        "acme",
        "Opérateur",
        True,
    )
    assert await sql.fetchval("SELECT password FROM ps_auths WHERE id = 'op'") == "s3cret"
    assert (
        await client.put(f"/api/trunks/{trunk['id']}", json={"name": "renamed"}, headers=k["both"])
    ).status_code == 400


async def test_queue_put_without_members_keeps_them_and_waiting_calls_show(client, pbx_co):
    company, k = pbx_co
    for n in ("1001", "1002"):
        await client.post("/api/extensions", json={"number": n, "name": n}, headers=k["both"])
    q = await client.post(
        "/api/queues",
        json={
            "name": "sales",
            "strategy": "rrmemory",
            "members": [{"extension": "1001"}, {"extension": "1002", "penalty": 2}],
        },
        headers=k["both"],
    )
    assert q.status_code == 201, q.text
    queue = q.json()
    assert queue["waitingCalls"] == 0
    put = await client.put(f"/api/queues/{queue['id']}", json={"timeout": 30}, headers=k["both"])
    assert put.status_code == 200, put.text
    assert [(m["extension"], m["penalty"]) for m in put.json()["members"]] == [("1001", 0), ("1002", 2)]
    assert (put.json()["timeout"], put.json()["strategy"]) == (30, "rrmemory")
    emptied = await client.put(f"/api/queues/{queue['id']}", json={"members": []}, headers=k["both"])
    assert emptied.json()["members"] == []  # an explicit empty list does empty it
    await sql.execute(
        "INSERT INTO pbx_live (company_id, version, snapshot) VALUES ($1, 1, $2::jsonb)",
        company.id,
        json.dumps(
            {
                "queues": {
                    "sales": {
                        "strategy": "rrmemory",
                        "members": [],
                        "callers": [
                            {"uniqueid": "1.1", "channel": "PJSIP/op-1", "position": 1, "joined": 0},
                            {"uniqueid": "1.2", "channel": "PJSIP/op-2", "position": 2, "joined": 0},
                        ],
                    }
                }
            }
        ),
    )
    assert (await client.get("/api/queues", headers=k["both"])).json()[0]["waitingCalls"] == 2


async def _cdr(company, n: int, src: str, dst: str = "1002", clid: str = "") -> None:
    await sql.execute(
        """INSERT INTO cdr (accountcode, src, dst, clid, start, duration, billsec, disposition, uniqueid, linkedid)
           VALUES ($1, $2, $3, $4, $5, 10, 5, 'ANSWERED', $6, $6)""",
        f"sb{company.id}",
        src,
        dst,
        clid or f'"Client {n}" <{src}>',
        T0 + timedelta(minutes=n),
        f"1795.{n}",
    )


async def test_call_history_total_deep_pages_and_contains_search(client, pbx_co):
    company, k = pbx_co
    other = await make_company()
    for n in range(120):
        await _cdr(company, n, f"06{n:08d}")
    await _cdr(company, 500, "0612345678", clid='"Durand Lucie" <0612345678>')
    await _cdr(other, 501, "0612345678")
    first = (await client.get("/api/cdr", params={"page": 1, "limit": 15}, headers=k["calls"])).json()
    assert (first["total"], first["total_exact"], first["pages"], len(first["items"])) == (121, True, 9, 15)
    assert first["items"][0]["src"] == "0612345678"
    # pages beyond 100 (limit 1: page 101 is the 101st newest call)
    deep = (await client.get("/api/cdr", params={"page": 101, "limit": 1}, headers=k["calls"])).json()
    assert deep["items"][0]["src"] == "0600000020" and deep["total"] == 121
    # contains: the middle of a number, of a name; never another company's calls
    middle = (await client.get("/api/cdr", params={"search": "234567"}, headers=k["calls"])).json()
    assert [r["src"] for r in middle["items"]] == ["0612345678"] and middle["total"] == 1
    name = (await client.get("/api/cdr", params={"search": "lucie"}, headers=k["calls"])).json()
    assert name["total"] == 1
    short = (await client.get("/api/cdr", params={"search": "11"}, headers=k["calls"])).json()
    assert short["total"] == sum("11" in f"06{n:08d}" for n in range(120)) + 0
    dated = (
        await client.get(
            "/api/cdr",
            params={"search": "0000011", "startDate": "2026-11-20", "endDate": "2026-11-20"},
            headers=k["calls"],
        )
    ).json()
    assert [r["src"] for r in dated["items"]] == [
        "0600000119",
        "0600000118",
        "0600000117",
        "0600000116",
        "0600000115",
        "0600000114",
        "0600000113",
        "0600000112",
        "0600000111",
        "0600000110",
        "0600000011",
    ]
    for bad in (
        {"page": 0},
        {"limit": 500},
        {"startDate": "hier"},
        {"search": "x" * 81},
        {"page": 1_000_000, "limit": 200},
    ):
        assert (await client.get("/api/cdr", params=bad, headers=k["calls"])).status_code == 400, bad
