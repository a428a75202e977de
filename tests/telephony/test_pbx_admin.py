"""Admin pages and JSON API for extensions, trunks and queues: Asterisk rows, validation, scoping."""

import pytest

from app.domain import sql
from tests.factories import make_company, make_user
from tests.helpers import csrf, login, post_form


@pytest.fixture
async def admin(app):
    company = await make_company()
    return await make_user(company, "admin")


async def _ext(client, number="1001", name="Alice", codecs=("ulaw", "alaw")):
    return await post_form(client, "/admin/pbx/extensions/", {"number": number, "name": name, "codecs": list(codecs)})


async def test_create_extension_writes_pjsip_realtime_rows_and_shows_secret_once(client, admin):
    await login(client, admin.email)
    response = await _ext(client, name='Al;ce "A"')
    assert response.status_code == 201, response.text
    secret = await sql.fetchval("SELECT password FROM ps_auths WHERE id = '1001'")
    assert len(secret) >= 24 and secret in response.text
    ep = await sql.fetchrow("SELECT * FROM ps_endpoints WHERE id = '1001'")
    assert (ep["aors"], ep["auth"], ep["context"], ep["disallow"], ep["allow"]) == (
        "1001",
        "1001",
        f"sb{admin.company_id}-internal",
        "all",
        "ulaw,alaw",
    )
    assert ep["callerid"] == '"Al^3Bce "A"" <1001>'  # ';' stored as ^3B for Realtime
    assert ep["accountcode"] == f"sb{admin.company_id}"
    assert await sql.fetchval("SELECT max_contacts FROM ps_aors WHERE id = '1001'") == 1
    listing = await client.get("/admin/pbx/extensions/")
    assert "1001" in listing.text and secret not in listing.text
    assert "Al;ce &#34;A&#34;" in listing.text  # escaped
    audit = await sql.fetchrow("SELECT action, target, detail FROM pbx_audit")
    assert audit["action"] == "extension.create" and audit["target"] == "1001" and secret not in audit["detail"]


async def test_extension_validation_and_duplicates(client, admin):
    await login(client, admin.email)
    assert (await _ext(client)).status_code == 201
    dup = await _ext(client)
    assert dup.status_code == 400 and "already in use" in dup.text
    other_admin = await make_user(await make_company(), "admin")
    await login(client, other_admin.email)
    assert (await _ext(client)).status_code == 400  # numbers are global to the PBX
    for bad in (
        {"number": "1", "name": "x", "codecs": ["ulaw"]},
        {"number": "12ab", "name": "x", "codecs": ["ulaw"]},
        {"number": "1002", "name": "", "codecs": ["ulaw"]},
        {"number": "1002", "name": "x" * 500, "codecs": ["ulaw"]},
        {"number": "1002", "name": "x", "codecs": []},
        {"number": "1002", "name": "x", "codecs": ["speex"]},
        {"number": "1002", "name": "x", "codecs": ["ulaw", "ulaw"]},
    ):
        response = await post_form(client, "/admin/pbx/extensions/", bad)
        assert response.status_code == 400, bad
    assert await sql.fetchval("SELECT count(*) FROM ps_endpoints") == 1


async def test_edit_regenerate_delete_and_other_company(client, admin):
    await login(client, admin.email)
    await _ext(client)
    ext_id = await sql.fetchval("SELECT id FROM pbx_object WHERE name = '1001'")
    old = await sql.fetchval("SELECT password FROM ps_auths WHERE id = '1001'")
    saved = await post_form(client, f"/admin/pbx/extensions/{ext_id}", {"name": "Alicia", "codecs": ["opus"]})
    assert saved.status_code == 303
    assert await sql.fetchval("SELECT allow FROM ps_endpoints WHERE id = '1001'") == "opus"
    assert await sql.fetchval("SELECT password FROM ps_auths WHERE id = '1001'") == old
    regen = await post_form(
        client, f"/admin/pbx/extensions/{ext_id}", {"name": "Alicia", "codecs": ["opus"], "regenerate_secret": "on"}
    )
    new = await sql.fetchval("SELECT password FROM ps_auths WHERE id = '1001'")
    assert regen.status_code == 200 and new != old and new in regen.text

    intruder = await make_user(await make_company(), "admin")
    await login(client, intruder.email)
    assert (await client.get(f"/admin/pbx/extensions/{ext_id}/edit")).status_code == 404
    assert (
        await post_form(client, f"/admin/pbx/extensions/{ext_id}", {"name": "x", "codecs": ["ulaw"]})
    ).status_code == 404
    assert (await post_form(client, f"/admin/pbx/extensions/{ext_id}/delete")).status_code == 404
    supervisor = await make_user(await make_company(), "supervisor")
    await login(client, supervisor.email)
    assert (await client.get("/admin/pbx/extensions/")).status_code == 403

    await login(client, admin.email)
    no_csrf = await client.post(f"/admin/pbx/extensions/{ext_id}/delete")
    assert no_csrf.status_code == 403
    assert (await post_form(client, f"/admin/pbx/extensions/{ext_id}/delete")).status_code == 303
    for table in ("ps_endpoints", "ps_auths", "ps_aors", "pbx_object"):
        assert await sql.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_trunk_with_registration(client, admin):
    await login(client, admin.email)
    data = {
        "name": "operator1",
        "host": "sip.example.net:5060",
        "username": "acme",
        "password": "s3cret;x",
        "register": "on",
        "codecs": ["alaw"],
    }
    response = await post_form(client, "/admin/pbx/trunks/", data)
    assert response.status_code == 303, response.text
    reg = await sql.fetchrow("SELECT * FROM ps_registrations WHERE id = 'operator1'")
    assert (reg["server_uri"], reg["client_uri"], reg["outbound_auth"], reg["endpoint"]) == (
        "sip:sip.example.net:5060",
        "sip:acme@sip.example.net:5060",
        "operator1",
        "operator1",
    )
    assert await sql.fetchval("SELECT match FROM ps_endpoint_id_ips WHERE id = 'operator1'") == "sip.example.net"
    assert await sql.fetchval("SELECT outbound_auth FROM ps_endpoints WHERE id = 'operator1'") == "operator1"
    page = await client.get("/admin/pbx/trunks/")
    assert "sip.example.net" in page.text and "s3cret" not in page.text
    trunk_id = await sql.fetchval("SELECT id FROM pbx_object WHERE name = 'operator1'")
    edit = await client.get(f"/admin/pbx/trunks/{trunk_id}/edit")
    assert "s3cret" not in edit.text
    # An empty password keeps the current one; unticking registration removes it.
    await post_form(client, f"/admin/pbx/trunks/{trunk_id}", {**data, "password": "", "register": ""})
    assert (
        await sql.fetchval("SELECT password FROM ps_auths WHERE id = 'operator1'") == "s3cret^3Bx"
    )  # stored escaped: Realtime splits values on ;
    assert await sql.fetchval("SELECT count(*) FROM ps_registrations") == 0
    for bad in (
        {**data, "name": "bad name"},
        {**data, "name": "t2", "host": "bad host/x"},
        {**data, "name": "t3", "username": ""},
        {**data, "name": "t4", "password": "x" * 81},
    ):
        assert (await post_form(client, "/admin/pbx/trunks/", bad)).status_code == 400, bad


async def test_queue_members_keep_uniqueid(client, admin):
    await login(client, admin.email)
    await _ext(client, "1001")
    await _ext(client, "1002", "Bob")
    data = {
        "name": "support",
        "strategy": "rrmemory",
        "timeout": "20",
        "member_1001": "on",
        "penalty_1001": "0",
        "member_1002": "on",
        "penalty_1002": "2",
    }
    assert (await post_form(client, "/admin/pbx/queues/", data)).status_code == 303
    assert await sql.fetchval("SELECT strategy::text FROM queues WHERE name = 'support'") == "rrmemory"
    rows = {r["interface"]: r for r in await sql.fetch("SELECT * FROM queue_members")}
    assert set(rows) == {"PJSIP/1001", "PJSIP/1002"} and rows["PJSIP/1002"]["penalty"] == 2
    queue_id = await sql.fetchval("SELECT id FROM pbx_object WHERE kind = 'queue'")
    data2 = {"strategy": "ringall", "member_1002": "on", "penalty_1002": "5"}
    assert (await post_form(client, f"/admin/pbx/queues/{queue_id}", data2)).status_code == 303
    after = await sql.fetch("SELECT * FROM queue_members")
    assert [(r["interface"], r["penalty"], r["uniqueid"]) for r in after] == [
        ("PJSIP/1002", 5, rows["PJSIP/1002"]["uniqueid"])
    ]
    for bad in (
        {**data, "name": "q2", "strategy": "loudest"},
        {**data, "name": "q3", "penalty_1001": "-1"},
        {**data, "name": "q4", "member_9999": "on"},
        {**data, "name": "support"},
    ):
        assert (await post_form(client, "/admin/pbx/queues/", bad)).status_code == 400, bad


async def test_pbx_json_api(client, admin):
    await login(client, admin.email)
    h = {"x-csrftoken": csrf(client)}
    created = await client.post(
        "/api/extensions/", json={"number": "2001", "name": "Zoe", "codecs": ["ulaw"]}, headers=h
    )
    assert created.status_code == 201 and len(created.json()["secret"]) >= 24
    ext_id = created.json()["id"]
    assert [(e["number"], e["name"]) for e in (await client.get("/api/extensions/")).json()] == [("2001", "Zoe")]
    assert (
        await client.put(f"/api/extensions/{ext_id}", json={"name": "Zoé", "codecs": "ulaw,alaw"}, headers=h)
    ).json()["codecs"] == ["ulaw", "alaw"]
    bad = await client.post("/api/extensions/", json={"number": "x"}, headers=h)
    assert bad.status_code == 400 and "number" in bad.json()["error"]["message"]
    q = await client.post(
        "/api/queues/",
        json={"name": "sales", "strategy": "ringall", "members": [{"extension": "2001", "penalty": 1}]},
        headers=h,
    )
    assert q.status_code == 201 and q.json()["members"][0]["interface"] == "PJSIP/2001"
    assert (await client.post("/api/queues/", json={"name": "s2", "members": "2001"}, headers=h)).status_code == 400
    t = await client.post("/api/trunks/", json={"name": "op", "host": "10.0.0.1", "codecs": ["alaw"]}, headers=h)
    assert t.status_code == 201 and t.json()["host"] == "10.0.0.1"
    other = await make_user(await make_company(), "admin")
    await login(client, other.email)
    h2 = {"x-csrftoken": csrf(client)}
    assert (await client.get("/api/extensions/")).json() == []
    assert (await client.delete(f"/api/extensions/{ext_id}", headers=h2)).status_code == 404
    await login(client, admin.email)
    assert (await client.delete(f"/api/extensions/{ext_id}", headers={"x-csrftoken": csrf(client)})).status_code == 204
    assert await sql.fetchval("SELECT count(*) FROM queue_members") == 0


async def test_chan_sip_driver_writes_sippeers(app):
    from app.telephony import pbx

    company = await make_company()
    admin = await make_user(company, "admin")
    obj, secret = await pbx.create_extension(
        admin, {"number": "2003", "name": "Carol", "codecs": ["ulaw"]}, driver="sip", context="internal"
    )
    row = await sql.fetchrow("SELECT * FROM sippeers WHERE name = '2003'")
    assert (row["type"], row["host"], row["secret"], row["context"], row["allow"], row["callerid"]) == (
        "friend",
        "dynamic",
        secret,
        "internal",
        "ulaw",
        '"Carol" <2003>',
    )
    assert await sql.fetchval("SELECT count(*) FROM ps_endpoints") == 0
    await pbx.delete_extension(admin, obj.id)
    assert await sql.fetchval("SELECT count(*) FROM sippeers") == 0


async def test_lists_are_one_query_and_match_each_objects_own_read(app, monkeypatch):
    """The trunk and queue lists (admin pages, /api/trunks, /api/queues) read everything in one
    query and say the same as the single-object reads, for PJSIP and chan_sip trunks."""
    from app.telephony import pbx

    company = await make_company()
    admin = await make_user(company, "admin")
    await pbx.create_extension(admin, {"number": "3001", "name": "Ann", "codecs": ["ulaw"]}, context="sb-test")
    await pbx.create_extension(admin, {"number": "3002", "name": "Ben", "codecs": ["ulaw"]}, context="sb-test")
    await pbx.create_trunk(
        admin,
        {
            "name": "b-reg",
            "host": "sip.example.net:5060",
            "username": "acme",
            "password": "pw",
            "register": "on",
            "codecs": ["alaw"],
        },
    )
    await pbx.create_trunk(admin, {"name": "a-plain", "host": "10.0.0.1", "codecs": ["ulaw", "alaw"]})
    await pbx.create_trunk(
        admin, {"name": "c-sip", "host": "10.0.0.2", "username": "x", "codecs": ["g722"]}, driver="sip"
    )
    await pbx.create_queue(
        admin,
        {
            "name": "support",
            "strategy": "rrmemory",
            "members": [{"extension": "3002", "penalty": 2}, {"extension": "3001", "penalty": 0}],
        },
    )
    await pbx.create_queue(admin, {"name": "empty", "strategy": "ringall"})
    other = await make_user(await make_company(), "admin")
    await pbx.create_trunk(other, {"name": "theirs", "host": "10.9.9.9", "codecs": ["ulaw"]})

    queries = []
    real_fetch = sql.fetch

    async def counted(query, *args):
        queries.append(query)
        return await real_fetch(query, *args)

    monkeypatch.setattr(sql, "fetch", counted)
    trunks = await pbx.list_trunks(company.id)
    assert len(queries) == 1
    queues = await pbx.list_queues(company.id)
    assert len(queries) == 2
    monkeypatch.setattr(sql, "fetch", real_fetch)

    assert [t.name for t in trunks] == ["a-plain", "b-reg", "c-sip"]
    assert trunks == [await pbx.get_trunk(company.id, t.id) for t in trunks]
    assert trunks[1].details == {
        "codecs": ["alaw"],
        "context": "from-trunk",
        "host": "sip.example.net:5060",
        "username": "acme",
        "register": True,
    }
    assert trunks[2].details["host"] == "10.0.0.2" and trunks[2].details["register"] is False
    assert [q.name for q in queues] == ["empty", "support"]
    assert queues == [await pbx.get_queue(company.id, q.id) for q in queues]
    assert queues[0].details["members"] == [] and queues[0].details["strategy"] == "ringall"
    assert [(m["interface"], m["penalty"], m["paused"]) for m in queues[1].details["members"]] == [
        ("PJSIP/3001", 0, False),
        ("PJSIP/3002", 2, False),
    ]
    assert isinstance(queues[1].details["members"][0]["uniqueid"], int)


async def test_audit_page_lists_own_company_changes_only(client, admin):
    await login(client, admin.email)
    await _ext(client, "1001", "<script>x</script>")
    page = await client.get("/admin/pbx/audit")
    assert page.status_code == 200 and "extension.create" in page.text and "<script>x" not in page.text
    other = await make_user(await make_company(), "admin")
    await login(client, other.email)
    assert "extension.create" not in (await client.get("/admin/pbx/audit")).text
    sup = await make_user(await make_company(), "supervisor")
    await login(client, sup.email)
    assert (await client.get("/admin/pbx/audit")).status_code == 403
