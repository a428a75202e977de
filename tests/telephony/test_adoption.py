"""Adopting Asterisk rows configured before Switchboard, from the PBX admin pages: the object
becomes the company's, its account code is set, and its earlier calls join the call history."""

from datetime import datetime

from app.domain import sql
from tests.factories import make_company, make_user
from tests.helpers import login, post_form


async def _legacy_pbx() -> None:
    await sql.execute("""INSERT INTO ps_endpoints (id, aors, auth, context, disallow, allow, callerid)
                         VALUES ('2101', '2101', '2101', 'internal', 'all', 'ulaw', '"Réception" <2101>')""")
    await sql.execute(
        "INSERT INTO ps_endpoints (id, context, disallow, allow) VALUES ('carrier', 'from-trunk', 'all', 'alaw')"
    )
    await sql.execute(
        "INSERT INTO sippeers (name, type, host, callerid) VALUES ('2102', 'friend', 'dynamic', '\"Old\" <2102>')"
    )
    await sql.execute("INSERT INTO queues (name, strategy) VALUES ('legacy-sales', 'ringall')")
    for n, (channel, dst) in enumerate(
        [
            ("PJSIP/2101-00000001", "0612345678"),
            ("PJSIP/carrier-0000002", "2101"),
            ("PJSIP/2199-00000003", "0699999999"),
        ]
    ):
        await sql.execute(
            """INSERT INTO cdr (accountcode, src, dst, clid, channel, dstchannel, start, duration, billsec, disposition,
                                uniqueid)
               VALUES ('', '2101', $2, '', $1, $5, $3, 10, 5, 'ANSWERED', $4)""",
            channel,
            dst,
            datetime(2025, 6, 1, 9, n),
            f"legacy.{n}",
            "PJSIP/2101-00000009" if dst == "2101" else "",
        )


async def test_admin_adopts_legacy_objects_with_their_history(client, app):
    company = await make_company()
    admin = await make_user(company, "admin")
    await _legacy_pbx()
    await login(client, admin.email)
    page = await client.get("/admin/pbx/adopt")
    assert page.status_code == 200
    for name in ("2101", "carrier", "2102", "legacy-sales"):
        assert name in page.text
    assert "Réception" in page.text
    adopted = await post_form(client, "/admin/pbx/adopt", {"kind": "extension", "name": "2101"})
    assert adopted.status_code == 303
    assert await sql.fetchval("SELECT accountcode FROM ps_endpoints WHERE id = '2101'") == f"sb{company.id}"
    row = await sql.fetchrow("SELECT company_id, label FROM pbx_object WHERE name = '2101'")
    assert (row["company_id"], row["label"]) == (company.id, "Réception")
    # Its two earlier calls (made and received) are in the company's history now, not the other one.
    history = await client.get("/operator/history")
    assert history.text.count('<tr><td><time datetime="2025-') == 2
    assert await sql.fetchval("SELECT accountcode FROM cdr WHERE uniqueid = 'legacy.2'") == ""
    assert "2101" not in (await client.get("/admin/pbx/adopt")).text.split("adopt-extension")[1].split("</table>")[0]
    assert (await post_form(client, "/admin/pbx/adopt", {"kind": "queue", "name": "legacy-sales"})).status_code == 303
    assert (await post_form(client, "/admin/pbx/adopt", {"kind": "trunk", "name": "carrier"})).status_code == 303
    assert await sql.fetchval("SELECT count(*) FROM pbx_audit WHERE action LIKE '%.adopt'") == 3

    # Another company cannot adopt what is taken; agents and supervisors cannot adopt at all.
    rival = await make_user(await make_company(), "admin")
    await login(client, rival.email)
    assert (await post_form(client, "/admin/pbx/adopt", {"kind": "extension", "name": "2101"})).status_code == 404
    assert (await post_form(client, "/admin/pbx/adopt", {"kind": "nonsense", "name": "2102"})).status_code == 400
    supervisor = await make_user(company, "supervisor")
    await login(client, supervisor.email)
    assert (await client.get("/admin/pbx/adopt")).status_code == 403
    assert (await post_form(client, "/admin/pbx/adopt", {"kind": "extension", "name": "2102"})).status_code == 403
