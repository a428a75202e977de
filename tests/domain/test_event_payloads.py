"""Every event payload round-trips through ``decode()``.

``decode()`` drops a payload it cannot read (``None``): that is right for an event of a newer
version, and silent for a field renamed on one side only. So: every event class survives
``encode()`` → ``decode()``, and every payload written elsewhere (the database triggers of
migrations 0013 and 0015, the ingest statements of ``app.domain.messages`` that build their
JSON in SQL) decodes into the event it means.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable

import asyncpg
import pytest

from app.domain import sql
from app.domain.channels import get_channel
from app.domain.events import CHANNEL, EVENT_TYPES, ChannelChanged, Event, ScheduleChanged, decode
from app.domain.messages import attach_provider_id, queue_message, receive_webhook
from app.providers.base import InboundMessage, Parsed, StatusUpdate
from tests.api.conftest import make_shop
from tests.factories import make_company

SAMPLES = {"int": 7, "str": "typing", "bool": True, "int | None": 3, "float": 1765170000.25}


def all_event_classes(cls: type = Event) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *all_event_classes(sub)]
    return found


def sample(cls: type) -> Event:
    values = {}
    for f in dataclasses.fields(cls):
        assert f.type in SAMPLES, f"{cls.__name__}.{f.name}: add a sample value for {f.type!r} to SAMPLES"
        values[f.name] = SAMPLES[f.type]
    return cls(**values)


@pytest.mark.nodb
def test_every_event_class_is_registered_under_its_own_name():
    classes = all_event_classes()
    assert len(classes) >= 15
    assert sorted(EVENT_TYPES.values(), key=lambda c: c.name) == sorted(classes, key=lambda c: c.name)
    assert len({c.name for c in classes}) == len(classes)


@pytest.mark.nodb
@pytest.mark.parametrize("cls", all_event_classes(), ids=lambda c: c.name)
def test_every_event_round_trips_through_decode(cls):
    event = sample(cls)
    assert decode(event.encode()) == event
    # With its optional fields left out too (a payload written by hand may omit them).
    required = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert decode(json.dumps({"name": cls.name, **required})) == cls(**required)


@pytest.mark.nodb
def test_decode_drops_what_it_cannot_read():
    assert decode("not json") is None
    assert decode(json.dumps({"name": "no-such-event", "company_id": 1})) is None
    assert decode(json.dumps({"name": "channel-changed", "company_id": 1, "channel": 2})) is None


class Notifications:
    """Every payload NOTIFY sends on the bus channel, read on a connection of our own."""

    def __init__(self) -> None:
        self.payloads: list[str] = []
        self.arrived = asyncio.Event()

    def on_notify(self, conn, pid, channel, payload) -> None:  # noqa: ANN001
        self.payloads.append(payload)
        self.arrived.set()

    async def wait_for(self, done: Callable[[list[Event]], bool], timeout: float = 10) -> list[Event]:
        """The decoded events once ``done`` holds for them (a failed decode stays in as None)."""

        async def until() -> None:
            while not done(self.events()):
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(until(), timeout)
        return self.events()

    def events(self) -> list:
        return [decode(p) for p in self.payloads]

    def undecoded(self) -> list[str]:
        return [p for p in self.payloads if decode(p) is None]


@pytest.fixture
async def bus(database_url):
    notifications = Notifications()
    conn = await asyncpg.connect(database_url)
    await conn.add_listener(CHANNEL, notifications.on_notify)
    yield notifications
    await conn.close()


async def test_the_triggers_payloads_decode(app, bus):
    company = await make_company()
    channel_id = await sql.fetchval(
        "INSERT INTO channel (company_id, name, provider, webhook_secret) VALUES ($1, 'C', 'sandbox', 's') RETURNING id",
        company.id,
    )
    statements = [
        # migration 0013: channel-changed
        ("UPDATE channel SET name = 'D' WHERE id = $1", channel_id),
        ("DELETE FROM channel WHERE id = $1", channel_id),
        ("TRUNCATE channel CASCADE",),
        # migration 0015: schedule-changed
        ("INSERT INTO business_hours (company_id, weekday, opens, closes) VALUES ($1, 1, 540, 1080)", company.id),
        ("UPDATE business_hours SET closes = 1020 WHERE company_id = $1", company.id),
        ("DELETE FROM business_hours WHERE company_id = $1", company.id),
        ("TRUNCATE business_hours",),
        ("INSERT INTO holiday (company_id, day) VALUES ($1, '2026-12-25')", company.id),
        ("UPDATE holiday SET label = 'Noël' WHERE company_id = $1", company.id),
        ("DELETE FROM holiday WHERE company_id = $1", company.id),
        ("TRUNCATE holiday",),
        ("UPDATE company SET timezone = 'Europe/Paris' WHERE id = $1", company.id),
    ]
    for statement, *args in statements:
        await sql.execute(statement, *args)
    expected = [
        ChannelChanged(company.id, channel_id),
        ChannelChanged(company.id, channel_id),
        ChannelChanged(0, 0),
        *[ScheduleChanged(company.id)] * 3,
        ScheduleChanged(0),
        *[ScheduleChanged(company.id)] * 3,
        ScheduleChanged(0),
        ScheduleChanged(company.id),
    ]
    events = await bus.wait_for(lambda events: len(events) >= len(expected))
    assert bus.undecoded() == []
    assert events == expected


async def test_the_ingest_statements_payloads_decode(app, bus):
    shop = await make_shop()
    channel = await get_channel(shop.company.id, shop.channel_id)
    # One message alone (the one-statement path), then two at once and an @lid alias (the other path).
    await receive_webhook(
        channel,
        Parsed(
            messages=[InboundMessage(provider_message_id="in-1", phone="+33611111111", type="text", text="Bonjour")]
        ),
    )
    await receive_webhook(
        channel,
        Parsed(
            messages=[
                InboundMessage(provider_message_id="in-2", phone="+33622222222", type="text", text="Hello"),
                InboundMessage(provider_message_id="in-3", phone=None, alias="1532@lid", type="text", text="Olá"),
            ]
        ),
    )
    conv_id = await sql.fetchval("SELECT conversation_id FROM message WHERE provider_message_id = 'in-1'")
    sent = await queue_message(shop.company.id, conv_id, {"text": "Hi"}, user_id=shop.agent.id)
    await attach_provider_id(channel, sent, "out-1", "sent")
    # A status alone, two statuses at once, and one that arrives before its message (kept pending).
    await receive_webhook(channel, Parsed(statuses=[StatusUpdate("out-1", "delivered")]))
    await receive_webhook(channel, Parsed(statuses=[StatusUpdate("out-1", "read"), StatusUpdate("out-2", "read")]))
    early = await queue_message(shop.company.id, conv_id, {"text": "Again"}, user_id=shop.agent.id)
    await attach_provider_id(channel, early, "out-2", "sent")

    def names(events: list) -> list[str]:
        return [e.name for e in events if e is not None]

    events = await bus.wait_for(
        lambda events: (
            names(events).count("message-received") >= 3 and names(events).count("message-status-changed") >= 4
        )
    )
    assert bus.undecoded() == []
    assert names(events).count("conversation-opened") == 3
    statuses = [(e.message_id, e.status) for e in events if e is not None and e.name == "message-status-changed"]
    assert (sent, "delivered") in statuses and (sent, "read") in statuses and (early, "read") in statuses
