"""Quick replies' variables: their values for a conversation, to whoever may see it."""

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.reply_variables import fill
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login


async def test_values_for_a_conversation(client):
    company = await make_company("Padaria Central")
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    agent = await make_user(company, name="Bruno Costa", presence="online", departments=[sales])
    stranger = await make_user(company, presence="offline", departments=[support])
    conv = await make_conversation(company, channel)
    contact = await sql.fetchval("SELECT contact_id FROM conversation WHERE id = $1", conv)
    await sql.execute("UPDATE contact SET name = 'Zoé Martin' WHERE id = $1", contact)
    await sql.execute(
        """INSERT INTO shop_order (company_id, contact_id, external_id, items, currency)
           VALUES ($1, $2, 'A-1001', '[{"name": "Pão", "price": "2.50", "quantity": 3}]', 'EUR')""",
        company.id,
        contact,
    )
    await queue_conversation(company.id, conv, sales.id)
    await login(client, agent.email)
    values = (await client.get(f"/inbox/{conv}/reply-variables")).json()
    assert values["customer_name"] == "Zoé Martin" and values["customer_first_name"] == "Zoé"
    assert values["agent_name"] == "Bruno Costa" and values["agent_first_name"] == "Bruno"
    assert values["company"] == "Padaria Central" and values["department"] == "Sales"
    assert values["order_number"] == "A-1001" and values["order_total"] == "7.50 EUR"
    text = "Olá {customer_first_name}, o pedido {order_number} ({order_total}) — {agent_first_name}, {unknown}"
    assert fill(text, values) == "Olá Zoé, o pedido A-1001 (7.50 EUR) — Bruno, {unknown}"
    client.cookies.clear()
    await login(client, stranger.email)
    assert (await client.get(f"/inbox/{conv}/reply-variables")).status_code == 404
