"""The inbox's share of live events: who gets a row, a bubble, a removal; one query per event."""

import pytest

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.conversations import transfer_conversation
from app.domain.events import ContactChanged, ConversationRouted, MessageReceived, NoteAdded
from app.domain.notes import add_note, update_contact
from app.web import inbox
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user


@pytest.fixture
async def scene(app):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    holder = await make_user(company, presence="online", departments=[sales])
    colleague = await make_user(company, presence="offline", departments=[sales])
    stranger = await make_user(company, presence="offline", departments=[support])
    boss = await make_user(company, "supervisor")
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    message_id = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', 'Where is <my> parcel?', 'received') RETURNING id""",
        company.id,
        channel,
        conv,
    )
    for memo in (inbox.ROWS, inbox.ITEMS, inbox.MEMBERS):
        memo._items.clear()
    return company, support, conv, message_id, holder, colleague, stranger, boss


def names(messages) -> list[str]:
    return [m.event for m in messages]


async def test_rows_and_bubbles_go_to_those_who_may_see(scene):
    company, _, conv, message_id, holder, colleague, stranger, boss = scene
    event = MessageReceived(company.id, conv, message_id)
    assert names(await inbox.render_live(event, holder)) == ["inbox-row", f"thread-{conv}"]
    assert names(await inbox.render_live(event, boss)) == ["inbox-row", f"thread-{conv}"]
    assert await inbox.render_live(event, colleague) == []  # assigned to someone else
    assert await inbox.render_live(event, stranger) == []
    row, bubble = await inbox.render_live(event, holder)
    assert f'id="inbox-row-{conv}"' in row.data and f'data-assigned="{holder.id}"' in row.data
    assert "Where is &lt;my&gt; parcel?" in bubble.data and "<my>" not in bubble.data


async def test_one_query_per_event_whatever_the_number_of_viewers(scene, monkeypatch):
    company, _, conv, message_id, holder, colleague, stranger, boss = scene
    calls = []
    real = inbox.get_inbox_row

    async def counting(*args):
        calls.append(args)
        return await real(*args)

    monkeypatch.setattr(inbox, "get_inbox_row", counting)
    event = MessageReceived(company.id, conv, message_id)
    import asyncio

    await asyncio.gather(*(inbox.render_live(event, viewer) for viewer in [holder, colleague, stranger, boss] * 50))
    assert len(calls) == 1


async def test_transferred_away_and_notes_and_customer_edits(scene):
    company, support, conv, message_id, holder, colleague, stranger, boss = scene
    await transfer_conversation(holder, conv, department_id=support.id, note="billing")
    event = ConversationRouted(company.id, conv, "queued", None, holder.id, support.id)
    gone = [(m.event, m.data) for m in await inbox.render_live(event, holder)]
    assert gone == [("inbox-gone", f"{conv} transferred")]
    assert names(await inbox.render_live(event, stranger)) == ["inbox-row"]  # now waiting in Support
    note_id = await add_note(company.id, conv, boss.id, {"text": "VIP"})
    note = NoteAdded(company.id, conv, note_id)
    assert names(await inbox.render_live(note, stranger)) == ["inbox-row", f"thread-{conv}"]
    assert await inbox.render_live(note, holder) == []
    contact_id = await sql.fetchval("SELECT contact_id FROM conversation WHERE id = $1", conv)
    await update_contact(company.id, contact_id, {"name": "Zoé <Z>"})
    rows = await inbox.render_live(ContactChanged(company.id, contact_id), stranger)
    assert names(rows) == ["inbox-row"] and "Zoé &lt;Z&gt;" in rows[0].data
    assert await inbox.render_live(ContactChanged(company.id, contact_id), holder) == []


async def test_the_agent_who_lost_a_conversation_is_told_why(scene):
    """Issue 18: a reinjection is not worded as a transfer on the losing agent's pane."""
    company, support, conv, message_id, holder, colleague, stranger, boss = scene
    await sql.execute(
        "UPDATE conversation SET status = 'queued', assigned_user_id = NULL, department_id = $2 WHERE id = $1",
        conv,
        support.id,
    )
    for kind in ("reinjected", "redistributed", "reassigned"):
        await sql.execute(
            """INSERT INTO conversation_event (company_id, conversation_id, kind, from_status, to_status, from_user_id)
               VALUES ($1, $2, $3, 'assigned', 'queued', $4)""",
            company.id,
            conv,
            kind,
            holder.id,
        )
        event = ConversationRouted(company.id, conv, "queued", None, holder.id, support.id)
        gone = [(m.event, m.data) for m in await inbox.render_live(event, holder)]
        assert gone == [("inbox-gone", f"{conv} {kind}")]
