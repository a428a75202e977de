"""The event stream renders a batch of waiting message events with one query."""

from __future__ import annotations

import pytest

from app.domain import sql
from app.domain.events import MessageReceived, MessageStatusChanged
from app.domain.tables import User
from app.web import live
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_user


@pytest.fixture(autouse=True)
def fresh_memos():
    """Memos are keyed by event values, and ids restart with each test's fresh tables."""
    from app.web import inbox

    for memo in (inbox.ROWS._items, inbox.ITEMS._items, live.CACHE._items, live.ROWS._rows):
        memo.clear()


async def _message(company, conversation_id: int, channel_id: int, text: str) -> int:
    return await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', $4, 'received') RETURNING id""",
        company.id,
        channel_id,
        conversation_id,
        text,
    )


async def test_prefetch_fetches_a_batch_once_and_renders_each(app, monkeypatch):
    company = await make_company()
    other = await make_company()
    supervisor = await make_user(company, "supervisor")
    viewer = await User.objects().get(User.id == supervisor.id)
    channel_id = await make_channel(company)
    conv = await make_conversation(company, channel_id)
    ids = [await _message(company, conv, channel_id, f"<b>hello {i}</b>") for i in range(3)]
    foreign_channel = await make_channel(other)
    foreign = await _message(other, await make_conversation(other, foreign_channel), foreign_channel, "not yours")
    events = [MessageReceived(company.id, conv, i) for i in ids] + [MessageReceived(company.id, conv, foreign)]

    calls = []
    real = live.get_messages

    async def counting(company_id, message_ids):
        calls.append((company_id, sorted(message_ids)))
        return await real(company_id, message_ids)

    monkeypatch.setattr(live, "get_messages", counting)
    await live.prefetch(events, viewer)
    assert calls == [(company.id, sorted([*ids, foreign]))]  # one query; company-scoped inside

    async def no_single_reads(*_args):
        raise AssertionError("a prefetched message was read again")

    monkeypatch.setattr(live, "get_message", no_single_reads)
    for i, event in zip(ids, events):
        (sse,) = [m for m in await live.render_event(event, viewer) if m.event == f"message-new-{conv}"]
        assert f"hello {ids.index(i)}" in sse.data and "<b>" not in sse.data  # escaped customer text
    # The other company's message was not returned by the company-scoped query.
    assert events[-1] not in live.ROWS._rows


async def test_a_later_status_event_is_not_served_a_stale_row(app):
    company = await make_company()
    supervisor = await make_user(company, "supervisor")
    viewer = await User.objects().get(User.id == supervisor.id)
    channel_id = await make_channel(company)
    conv = await make_conversation(company, channel_id)
    first = await _message(company, conv, channel_id, "one")
    second = await _message(company, conv, channel_id, "two")
    await live.prefetch([MessageReceived(company.id, conv, first), MessageReceived(company.id, conv, second)], viewer)
    await sql.execute("UPDATE message SET direction = 'out', status = 'read' WHERE id = $1", first)
    rendered = await live.render_event(MessageStatusChanged(company.id, conv, first, "read"), viewer)
    (sse,) = [m for m in rendered if m.event == f"message-status-{conv}"]
    assert "msg-read" in sse.data and "msg-received" not in sse.data


async def test_inbox_rows_and_bubbles_of_a_batch_are_fetched_once(app, monkeypatch):
    from app.web import inbox

    company = await make_company()
    supervisor = await make_user(company, "supervisor")
    viewer = await User.objects().get(User.id == supervisor.id)
    channel_id = await make_channel(company)
    convs = [await make_conversation(company, channel_id) for _ in range(2)]
    events = [
        MessageReceived(company.id, conv, await _message(company, conv, channel_id, f"row {i}"))
        for i, conv in enumerate(convs * 2)
    ]
    calls = []
    real_rows, real_views = inbox.get_inbox_rows, inbox.get_message_views

    async def rows(company_id, ids):
        calls.append(("rows", sorted(set(ids))))
        return await real_rows(company_id, ids)

    async def views(company_id, ids):
        calls.append(("views", len(ids)))
        return await real_views(company_id, ids)

    async def single(*_args):
        raise AssertionError("a prefetched row or bubble was read again")

    monkeypatch.setattr(inbox, "get_inbox_rows", rows)
    monkeypatch.setattr(inbox, "get_message_views", views)
    await live.prefetch(events, viewer)
    assert calls == [("rows", sorted(convs)), ("views", 4)]
    monkeypatch.setattr(inbox, "get_inbox_row", single)
    monkeypatch.setattr(inbox, "get_message_view", single)
    for i, event in enumerate(events):
        rendered = await live.render_event(event, viewer)
        assert any(m.event == "inbox-row" and f'id="inbox-row-{event.conversation_id}"' in m.data for m in rendered)
        assert any(m.event == f"thread-{event.conversation_id}" and f"row {i}" in m.data for m in rendered)
