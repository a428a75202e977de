"""PBX admin against what a real Asterisk reads (issue 17, items 1, 2, 5 and 11).

Seen on a real Asterisk 22.10.1: every edit page answered 500; a ``;`` in a PJSIP password
reached Asterisk cut (res_config_pgsql splits values on ``;``); a deleted extension kept its
``ps_contacts`` row, so a new extension with the same number was "registered" at once; every
company shared the dialplan context ``internal``.
"""

import pytest

from app.domain import sql
from tests.factories import make_company, make_user
from tests.helpers import login, post_form


@pytest.fixture
async def admin(app):
    company = await make_company()
    return await make_user(company, "admin")


async def _ext(client, number="1001", name="Alice"):
    response = await post_form(client, "/admin/pbx/extensions/", {"number": number, "name": name, "codecs": ["ulaw"]})
    assert response.status_code == 201, response.text
    return await sql.fetchval("SELECT id FROM pbx_object WHERE name = $1", number)


async def _register(number: str, endpoint: str | None = None) -> None:
    """What res_pjsip writes on a REGISTER (``res/res_pjsip/location.c``): the contact's id is
    ``<aor>;@<hash>``, stored by Realtime with ``;`` as ``^3B``."""
    await sql.execute(
        """INSERT INTO ps_contacts (id, uri, expiration_time, endpoint, reg_server, prune_on_boot)
           VALUES ($1, $2, 1795318000, $3, '', 'no')""",
        f"{number}^3B@8c5bd2a1b6d35b6f3e8a0e31",
        f"sip:{number}@127.0.0.1:5062",
        endpoint or number,
    )


async def test_every_pbx_edit_page_answers(client, admin):
    await login(client, admin.email)
    ext_id = await _ext(client)
    trunk = {"name": "op1", "host": "sip.example.net", "username": "acme", "password": "pw", "codecs": ["ulaw"]}
    assert (await post_form(client, "/admin/pbx/trunks/", trunk)).status_code == 303
    queue = {"name": "support", "strategy": "ringall", "member_1001": "on"}
    assert (await post_form(client, "/admin/pbx/queues/", queue)).status_code == 303
    trunk_id = await sql.fetchval("SELECT id FROM pbx_object WHERE name = 'op1'")
    queue_id = await sql.fetchval("SELECT id FROM pbx_object WHERE name = 'support'")
    for url in (
        f"/admin/pbx/extensions/{ext_id}/edit",
        f"/admin/pbx/trunks/{trunk_id}/edit",
        f"/admin/pbx/queues/{queue_id}/edit",
    ):
        page = await client.get(url)
        assert page.status_code == 200, (url, page.text[:300])
        assert 'action="' + url.removesuffix("/edit") + '/delete"' in page.text
        assert 'name="_csrf_token" value="' in page.text.split("/delete")[1]


async def test_semicolons_are_escaped_in_every_realtime_value(client, admin):
    await login(client, admin.email)
    trunk = {
        "name": "op1",
        "host": "sip.example.net",
        "username": "acme",
        "password": "trunkpass;1",
        "register": "on",
        "codecs": ["ulaw"],
        "context": "from-trunk",
    }
    assert (await post_form(client, "/admin/pbx/trunks/", trunk)).status_code == 303
    assert await sql.fetchval("SELECT password FROM ps_auths WHERE id = 'op1'") == "trunkpass^3B1"
    # Every text value we wrote, in every Realtime table: none carries a raw ';'.
    for table in ("ps_endpoints", "ps_auths", "ps_aors", "ps_registrations", "ps_endpoint_id_ips"):
        rows = await sql.fetch(f"SELECT row_to_json(t)::text AS j FROM {table} t")  # noqa: S608
        assert rows and all(";" not in r["j"] for r in rows), table
    # The edit form still shows no password, and an update without one keeps it escaped once.
    trunk_id = await sql.fetchval("SELECT id FROM pbx_object WHERE name = 'op1'")
    assert (await post_form(client, f"/admin/pbx/trunks/{trunk_id}", {**trunk, "password": ""})).status_code == 303
    assert await sql.fetchval("SELECT password FROM ps_auths WHERE id = 'op1'") == "trunkpass^3B1"


async def test_deleting_an_extension_removes_its_registrations(client, admin):
    await login(client, admin.email)
    ext_id = await _ext(client)
    await _register("1001")
    await _register("1002")  # someone else's: untouched
    response = await post_form(client, f"/admin/pbx/extensions/{ext_id}/delete", {})
    assert response.status_code == 303
    assert await sql.fetchval("SELECT count(*) FROM ps_contacts WHERE endpoint = '1001'") == 0
    assert await sql.fetchval("SELECT count(*) FROM ps_contacts") == 1
    # Re-created in another company with a new password: not "registered" by the old phone.
    other = await make_user(await make_company(), "admin")
    await login(client, other.email)
    await _ext(client)
    assert await sql.fetchval("SELECT count(*) FROM ps_contacts WHERE endpoint = '1001'") == 0


async def test_a_new_password_drops_the_registered_phone(client, admin):
    await login(client, admin.email)
    ext_id = await _ext(client)
    await _register("1001")
    form = {"name": "Alice", "codecs": ["ulaw"]}
    assert (await post_form(client, f"/admin/pbx/extensions/{ext_id}", form)).status_code == 303
    assert await sql.fetchval("SELECT count(*) FROM ps_contacts") == 1  # same password: stays registered
    response = await post_form(client, f"/admin/pbx/extensions/{ext_id}", {**form, "regenerate_secret": "on"})
    assert response.status_code == 200
    assert await sql.fetchval("SELECT count(*) FROM ps_contacts") == 0


async def test_each_company_dials_in_its_own_context(client, admin):
    await login(client, admin.email)
    await _ext(client)
    other = await make_user(await make_company(), "admin")
    await login(client, other.email)
    await _ext(client, "2001")
    contexts = dict(await sql.fetch("SELECT id, context FROM ps_endpoints ORDER BY id"))
    assert contexts == {"1001": f"sb{admin.company_id}-internal", "2001": f"sb{other.company_id}-internal"}
    # The dialplan page shows the lines to paste into extensions.conf for this company only.
    page = await client.get("/admin/pbx/dialplan")
    assert page.status_code == 200
    assert f"[sb{other.company_id}-internal]" in page.text
    assert "exten =&gt; 2001,1,Dial(PJSIP/2001" in page.text
    assert "1001" not in page.text
