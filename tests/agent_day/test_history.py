"""One thread per customer: earlier conversations come in above the open one, a few at a time."""

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login


async def test_earlier_conversations_load_above_the_thread(client):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    agent = await make_user(company, presence="online", departments=[sales])
    stranger = await make_user(company, presence="offline", departments=[support])
    first = await make_conversation(company, channel, status="resolved", department=sales)
    contact = await sql.fetchval("SELECT contact_id FROM conversation WHERE id = $1", first)
    older = [first] + [
        await make_conversation(company, channel, status="resolved", department=sales, contact_id=contact)
        for _ in range(3)
    ]
    someone_else = await make_conversation(company, channel, status="resolved", department=sales)
    current = await make_conversation(company, channel, department=sales, contact_id=contact)
    await queue_conversation(company.id, current, sales.id)
    await login(client, agent.email)

    pane = (await client.get(f"/inbox/{current}/pane")).text
    assert f'hx-get="/inbox/{current}/history"' in pane  # the thread's top (no older messages)
    batch = (await client.get(f"/inbox/{current}/history")).text
    shown = [i for i in older if f'id="history-{current}-{i}"' in batch]
    assert shown == older[1:]  # the three latest, oldest first
    assert batch.index(f"history-{current}-{older[1]}") < batch.index(f"history-{current}-{older[3]}")
    assert f'hx-get="/inbox/{current}/history?before={older[1]}"' in batch and "history-divider" in batch
    assert f"history-{current}-{someone_else}" not in batch
    rest = (await client.get(f"/inbox/{current}/history?before={older[1]}")).text
    assert f'id="history-{current}-{first}"' in rest and "?before=" not in rest and "history-divider" not in rest
    transcript = await client.get(f"/inbox/{current}/past/{first}")
    assert transcript.status_code == 200
    assert (await client.get(f"/inbox/{current}/history?before=x")).status_code == 400

    client.cookies.clear()
    await login(client, stranger.email)
    assert (await client.get(f"/inbox/{current}/history")).status_code == 404
