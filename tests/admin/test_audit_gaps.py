"""Sensitive actions leave an audit row with actor, address, target and before -> after; secrets never."""

from app.domain import sql
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_department, make_user
from tests.helpers import login, post_form

META = {
    "name": "Main number",
    "provider": "meta",
    "cred_phone_number_id": "1122334455667",
    "cred_access_token": "EAAG-secret-token-123456",
    "cred_app_secret": "app-secret-abcdef-987654",
    "cred_api_base": "",
}


async def rows(company_id, action):
    return await sql.fetch(
        "SELECT * FROM audit_event WHERE company_id = $1 AND action = $2 ORDER BY id", company_id, action
    )


async def test_channel_credentials_changes_are_audited_without_the_secrets(admin_client):
    cid = admin_client.company.id
    assert (await post_form(admin_client, "/admin/channels", META)).status_code == 303
    channel_id = await sql.fetchval("SELECT id FROM channel WHERE company_id = $1", cid)
    changed = {
        **META,
        "cred_access_token": "EAAG-new-token-999999",
        "cred_app_secret": "",
        "cred_phone_number_id": "999",
    }
    assert (await post_form(admin_client, f"/admin/channels/{channel_id}", changed)).status_code == 303
    [created] = await rows(cid, "channel.created")
    [updated] = await rows(cid, "channel.updated")
    assert updated["actor_user_id"] == admin_client.admin.id and updated["actor_address"] == "203.0.113.7"
    assert '"credential.access_token": "changed"' in updated["after"]
    assert '"credential.phone_number_id": "999"' in updated["after"] and "1122334455667" in updated["before"]
    assert "app_secret" not in updated["after"]  # kept: not a change
    everything = " ".join(str(r[k]) for r in (created, updated) for k in ("before", "after"))
    for secret in ("EAAG-secret-token-123456", "EAAG-new-token-999999", "app-secret-abcdef-987654"):
        assert secret not in everything
    webhook_secret = await sql.fetchval("SELECT webhook_secret FROM channel WHERE id = $1", channel_id)
    assert webhook_secret not in everything
    await post_form(
        admin_client, f"/admin/channels/{channel_id}", {**META, "cred_access_token": "", "cred_app_secret": ""}
    )
    assert len(await rows(cid, "channel.updated")) == 2  # the phone number id went back
    await post_form(
        admin_client, f"/admin/channels/{channel_id}", {**META, "cred_access_token": "", "cred_app_secret": ""}
    )
    assert len(await rows(cid, "channel.updated")) == 2  # nothing changed: nothing recorded


async def test_role_change_transfer_and_resolve_are_audited(admin_client):
    company = admin_client.company
    sales, support = await make_department(company, "Sales"), await make_department(company, "Support")
    agent = await make_user(company, "agent", presence="online", departments=[sales])
    await post_form(
        admin_client,
        f"/admin/users/{agent.id}",
        {
            "name": agent.name,
            "email": agent.email,
            "role": "supervisor",
            "capacity": "5",
            "language": "",
            "department_ids": [str(sales.id)],
        },
    )
    [role] = await rows(company.id, "user.updated")
    assert '"role": "agent"' in role["before"] and '"role": "supervisor"' in role["after"]
    channel = await make_channel(company)
    conv = await make_conversation(company, channel, status="queued", department=sales)
    response = await post_form(
        admin_client, f"/inbox/{conv}/transfer", {"target": f"department-{support.id}", "note": "VIP"}
    )
    assert response.status_code == 303
    [transfer] = await rows(company.id, "conversation.transferred")
    assert transfer["target_id"] == str(conv) and transfer["actor_user_id"] == admin_client.admin.id
    assert f'"department_id": {support.id}' in transfer["after"] and '"note": "VIP"' in transfer["after"]
    assert (await post_form(admin_client, f"/inbox/{conv}/resolve")).status_code == 303
    [resolved] = await rows(company.id, "conversation.resolved")
    assert '"status": "resolved"' in resolved["after"] and '"status": "queued"' in resolved["before"]


async def test_logins_are_audited(client):
    from tests.factories import make_company

    company = await make_company()
    user = await make_user(company, "agent")
    await client.get("/login")
    await post_form(client, "/login", {"email": user.email, "password": "wrong-password-here"})
    await login(client, user.email)
    failed, succeeded = await rows(company.id, "login.failed"), await rows(company.id, "login.succeeded")
    assert len(failed) == 1 and len(succeeded) == 1 and failed[0]["actor_address"] == "203.0.113.7"
