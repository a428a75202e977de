"""The dispatcher's per-message read: concurrent reads share one query (issue 21) and each
caller still gets its own message's row, scoped to its company."""

import asyncio

from app.dispatch.reads import message_context
from app.domain import sql
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company


async def _message(company, channel, conv, text):
    return await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', $4, 'received') RETURNING id""",
        company.id,
        channel,
        conv,
        text,
    )


async def test_concurrent_reads_each_get_their_own_row(app):
    one, two = await make_company(), await make_company()
    keys = []
    for company in (one, two):
        channel = await make_channel(company)
        for n in range(3):
            conv = await make_conversation(company, channel, status="queued" if n else "bot")
            keys.append((company, conv, await _message(company, channel, conv, f"{company.id}:{n}")))
    rows = await asyncio.gather(*(message_context(c.id, conv, m) for c, conv, m in keys))
    assert [r["text"] for r in rows] == [f"{c.id}:{n}" for c in (one, two) for n in range(3)]
    assert [r["status"] for r in rows] == ["bot", "queued", "queued"] * 2
    # Another company's id, or a message of another conversation: nothing, even in a batch.
    (c1, conv1, _), (c2, conv2, m2) = keys[0], keys[3]
    wrong = await asyncio.gather(
        message_context(c1.id, conv2, m2), message_context(c2.id, conv1, m2), message_context(c2.id, conv2, m2)
    )
    assert wrong[0] is None and wrong[1] is None and wrong[2]["text"] == f"{c2.id}:0"
