"""Reopening a resolved conversation: the person reopening holds it; one open thread per customer."""

from app.domain import sql
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


async def test_an_agent_reopens_a_conversation_they_resolved(client):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    agent = await make_user(company, presence="online", departments=[sales])
    outsider = await make_user(company, presence="online", departments=[support])
    conv = await make_conversation(company, channel, status="resolved", department=sales)
    await sql.execute(
        "UPDATE conversation SET assigned_user_id = $2, resolved_at = now() WHERE id = $1",
        conv,
        agent.id,
    )

    await login(client, outsider.email)
    assert (await post_form(client, f"/inbox/{conv}/reopen")).status_code == 404
    client.cookies.clear()
    await login(client, agent.email)
    pane = await client.get(f"/inbox/{conv}/pane")
    assert 'id="action-reopen"' in pane.text
    response = await post_form(client, f"/inbox/{conv}/reopen")
    assert response.status_code == 303 and response.headers["location"] == f"/inbox/{conv}"
    row = await sql.fetchrow(
        "SELECT status, assigned_user_id, resolved_at FROM conversation WHERE id = $1",
        conv,
    )
    assert (row["status"], row["assigned_user_id"], row["resolved_at"]) == (
        "assigned",
        agent.id,
        None,
    )
    kinds = [r["kind"] for r in await sql.fetch("SELECT kind FROM conversation_event WHERE conversation_id = $1", conv)]
    assert kinds == ["reopened"]
    assert await sql.fetchval("SELECT count(*) FROM audit_event WHERE action = 'conversation.reopened'") == 1
    pane = await client.get(f"/inbox/{conv}/pane")
    assert 'id="action-reopen"' not in pane.text and "Reopened by" in pane.text


async def test_no_reopening_while_the_customer_has_an_open_conversation(client):
    company = await make_company()
    sales = await make_department(company, "Sales")
    channel = await make_channel(company, department=sales)
    boss = await make_user(company, "supervisor")
    old = await make_conversation(company, channel, status="resolved", department=sales)
    contact = await sql.fetchval("SELECT contact_id FROM conversation WHERE id = $1", old)
    await make_conversation(company, channel, status="queued", department=sales, contact_id=contact)
    await login(client, boss.email)
    response = await post_form(client, f"/inbox/{old}/reopen")
    assert response.status_code in (400, 409)
    assert await sql.fetchval("SELECT status FROM conversation WHERE id = $1", old) == "resolved"
