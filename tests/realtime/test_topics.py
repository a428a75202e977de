"""A page's stream gets only the live fragments of the features it shows (``?topics=``)."""

from __future__ import annotations

import re

import pytest

from app.domain.events import MessageReceived, PresenceChanged
from app.domain.tables import User
from app.web import live
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_user
from tests.realtime.test_batch_render import _message, fresh_memos  # noqa: F401 - fixture


def test_topics_are_parsed_strictly():
    assert live.parse_topics(None) is None  # no parameter: everything (API clients)
    assert live.parse_topics("") == frozenset()
    assert live.parse_topics("inbox,home") == {"inbox", "home"}
    assert live.parse_topics("inbox,<script>,../etc") == {"inbox"}
    assert live.parse_topics("inbox," * 10_000) == {"inbox"}  # long values are cut, not a 500


async def test_each_page_gets_its_own_fragments(app):
    company = await make_company()
    supervisor = await make_user(company, "supervisor")
    viewer = await User.objects().get(User.id == supervisor.id)
    channel_id = await make_channel(company)
    conv = await make_conversation(company, channel_id)
    event = MessageReceived(company.id, conv, await _message(company, conv, channel_id, "hello"))

    def names(messages):
        return {m.event for m in messages}

    everything = names(await live.render_event(event, viewer))
    assert {f"message-new-{conv}", "inbox-row", f"thread-{conv}"} <= everything
    inbox = names(await live.render_event(event, viewer, frozenset({"inbox"})))
    assert "inbox-row" in inbox and f"message-new-{conv}" not in inbox
    page = names(await live.render_event(event, viewer, frozenset({"conversation"})))
    assert f"message-new-{conv}" in page and "inbox-row" not in page
    assert await live.render_event(event, viewer, frozenset()) == []
    assert await live.render_event(event, viewer, frozenset({"operator"})) == []
    # Presence is shown on every page, whatever it asked for.
    presence = PresenceChanged(company.id, supervisor.id, "online")
    assert f"presence-{supervisor.id}" in names(await live.render_event(presence, viewer, frozenset()))


@pytest.mark.parametrize(
    "path,topic",
    [
        ("/", "home"),
        ("/inbox", "inbox"),
        ("/supervisor", "wallboard"),
        ("/orders", "orders"),
        ("/admin/users", "users"),
        ("/simulator", "conversation"),
    ],
)
async def test_pages_name_their_topics(client, path, topic):
    from tests.helpers import login

    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    page = await client.get(path)
    assert page.status_code == 200
    # The topics, then when the page began (the stream replays what happened since: app.realtime.hub).
    assert re.search(rf'sse-connect="/events\?topics={topic}&since=\d{{10}}\.\d{{3}}"', page.text)
    assert topic in live.TOPICS
