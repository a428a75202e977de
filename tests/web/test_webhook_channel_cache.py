"""Webhooks' per-process channel cache: a change made anywhere (another process, plain SQL)
reaches it through the database trigger and the bus; a gap in the bus turns it off."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from app.domain.channels import WEBHOOK_CHANNELS, set_channel_active
from app.realtime.hub import Resync
from tests.web.test_webhooks import FIX, channels, meta_headers, post_meta, settings  # noqa: F401 - fixtures


def _message(i: int) -> bytes:
    data = json.loads((FIX / "meta/webhook_message_text.json").read_text())
    data["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.cache{i}"
    return json.dumps(data).encode()


async def _until(client, channel, status: int, start: int, reason: str = "") -> str:
    """Post fresh messages until one gets ``status`` with ``reason`` in its answer (2 s at
    most); the last status and answer seen."""
    got = ""
    for i in range(start, start + 40):
        response = await post_meta(client, channel, "", _message(i))
        got = f"{response.status_code} {response.text}"
        if response.status_code == status and reason in response.text:
            return str(status)
        await asyncio.sleep(0.05)
    return got


async def test_repeated_webhooks_use_the_cache(client, channels):
    meta = channels["meta"]
    assert (await post_meta(client, meta, "", _message(1))).status_code == 200
    hits = WEBHOOK_CHANNELS.hits
    assert (await post_meta(client, meta, "", _message(2))).status_code == 200
    assert WEBHOOK_CHANNELS.hits == hits + 1


async def test_a_change_by_another_process_reaches_the_cache(client, channels, database_url):
    meta = channels["meta"]
    assert (await post_meta(client, meta, "", _message(1))).status_code == 200
    other = await asyncpg.connect(database_url)  # another process's write, not through our code
    try:
        await other.execute("UPDATE channel SET active = false WHERE id = $1", meta.id)
        assert await _until(client, meta, 403, 10, "disabled") == "403"
        await other.execute(
            'UPDATE channel SET active = true, credentials = credentials || \'{"app_secret": "rotated"}\' WHERE id = $1',
            meta.id,
        )
        assert await _until(client, meta, 403, 100, "signature") == "403"  # the old app secret no longer signs
        body = _message(200)
        good = await client.post(f"/webhooks/meta/{meta.id}", content=body, headers=meta_headers(body, "rotated"))
        assert good.status_code == 200
        await other.execute("DELETE FROM message WHERE channel_id = $1", meta.id)
        await other.execute("DELETE FROM conversation WHERE channel_id = $1", meta.id)
        await other.execute("DELETE FROM channel WHERE id = $1", meta.id)
        assert await _until(client, meta, 404, 300) == "404"
    finally:
        await other.close()


async def test_our_own_change_applies_at_once(client, channels):
    meta = channels["meta"]
    assert (await post_meta(client, meta, "", _message(1))).status_code == 200
    await set_channel_active(channels["company"].id, meta.id, False)
    assert (await post_meta(client, meta, "", _message(2))).status_code == 403


async def test_a_gap_in_the_bus_turns_the_cache_off(client, channels):
    meta = channels["meta"]
    assert (await post_meta(client, meta, "", _message(1))).status_code == 200
    WEBHOOK_CHANNELS.on_bus(Resync("disconnected"))
    try:
        hits = WEBHOOK_CHANNELS.hits
        for i in range(2, 5):
            assert (await post_meta(client, meta, "", _message(i))).status_code == 200
        assert WEBHOOK_CHANNELS.hits == hits  # every webhook read the channel from the database
    finally:
        WEBHOOK_CHANNELS.on_bus(Resync("connected"))
