"""Denied access to another company's id is a security event (issue 16): still a plain 404 (the
row's existence is not revealed), audited with the request id and address."""

from __future__ import annotations

from app.domain import sql
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_user
from tests.helpers import login


async def test_probing_another_companys_ids_is_audited(client, app):
    mine, theirs = await make_company(), await make_company()
    admin = await make_user(mine, "admin")
    their_conv = await make_conversation(theirs, await make_channel(theirs))
    their_user = await make_user(theirs, "agent")
    await login(client, admin.email)
    for path in (f"/inbox/{their_conv}", f"/admin/users/{their_user.id}/edit"):
        r = await client.get(path, headers={"x-request-id": "probe-7"})
        assert r.status_code == 404
    assert (await client.get("/inbox/99999999")).status_code == 404  # nobody's: not an event
    rows = await sql.fetch(
        "SELECT company_id, action, target_type, target_id, request_id, actor_address "
        "FROM audit_event WHERE action = 'security.foreign_id' ORDER BY id"
    )
    assert [(r["company_id"], r["target_type"], r["target_id"]) for r in rows] == [
        (mine.id, "conversation", str(their_conv)),
        (mine.id, "app_user", str(their_user.id)),
    ]
    assert all(r["request_id"] == "probe-7" and r["actor_address"] == "203.0.113.7" for r in rows)
    assert await sql.fetchval("SELECT count(*) FROM audit_event WHERE company_id = $1", theirs.id) == 0
