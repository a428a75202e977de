"""Two dispatchers at once (a PostgreSQL restart: the old leader's tasks run on while another
process takes the lock, or a sweep beside an event) must not send one automatic text twice.

Found by tests/benchmarks/bench_chaos.py: "conversation 169 got the same automatic text twice
within the window: 'Welcome to Chaos Co! Reply with the numb…'". The repeat check and the insert
were two separate steps: both callers checked before either inserted.
"""

import asyncio

from app.dispatch.assignment import send_auto_message
from app.domain import sql
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department


async def test_concurrent_senders_of_one_automatic_text_send_it_once(app):
    company = await make_company()
    support = await make_department(company, "Support", menu_position=1)
    channel = await make_channel(company, department=support)
    conv = await make_conversation(company, channel)
    results = await asyncio.gather(*(send_auto_message(company.id, conv, "queued", position=1) for _ in range(4)))
    assert len([r for r in results if r is not None]) == 1, results
    texts = await sql.fetch("SELECT text FROM message WHERE conversation_id = $1 AND author = 'bot'", conv)
    assert len(texts) == 1, texts
