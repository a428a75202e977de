"""Backfill in the browser (issue 15): a WAHA session lost three messages during an outage. The
agent has the conversation open in the inbox; an admin clicks "Fetch missed messages" on the channel
page; the three appear live in the agent's thread, each once, where they were written (before the
message that came by webhook after the outage), marked recovered. A second click adds nothing.

The WAHA server is a fake on 127.0.0.1 (the pairing test's) that also lists the chat's messages in
WAHA's documented shape (``GET /api/{session}/chats/{chatId}/messages``, newest first)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from app.domain import sql
from app.domain.channels import create_channel
from tests.browser.conftest import browser_login, run, screenshot
from tests.browser.test_channel_pairing import FakeWaha, Handler
from tests.factories import PASSWORD, make_company, make_user
from tests.web.test_backfill import waha_item
from tests.web.test_webhooks import SECRET, waha_headers

pytestmark = pytest.mark.browser


class HistoryHandler(Handler):
    server: FakeWaha

    def do_GET(self) -> None:
        if "/chats/" in self.path and self.path.split("?")[0].endswith("/messages"):
            self.server.history_reads += 1  # type: ignore[attr-defined]
            data = json.dumps(self.server.history).encode()  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()


@pytest.fixture
def fake_waha():
    server = FakeWaha(("127.0.0.1", 0), HistoryHandler)
    server.status = "WORKING"
    server.history = []  # type: ignore[attr-defined]
    server.history_reads = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


async def _conversation(company, channel, agent) -> int:
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+5511988887777', 'Rita') RETURNING id", company.id
    )
    conv = await sql.fetchval(
        """INSERT INTO conversation (company_id, channel_id, contact_id, status, assigned_user_id)
           VALUES ($1, $2, $3, 'assigned', $4) RETURNING id""",
        company.id,
        channel.id,
        contact,
        agent.id,
    )
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text,
                                provider_message_id, status, created_at)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', 'before the outage', 'false_old_1', 'received', $4)""",
        company.id,
        channel.id,
        conv,
        datetime.now(UTC) - timedelta(minutes=10),
    )
    return conv


def test_fetch_missed_messages_appear_live_once_in_order(new_page, fake_waha, live_server):
    company = run(make_company("Loja Verde"))
    admin = run(make_user(company, "admin"))
    agent = run(make_user(company, "agent", name="Ana"))
    channel = run(
        create_channel(
            company.id,
            {
                "name": "Loja WAHA",
                "provider": "waha",
                "cred_base_url": f"http://127.0.0.1:{fake_waha.server_address[1]}",
                "cred_session": "default",
                "webhook_secret": SECRET,
            },
        )
    )
    conv = run(_conversation(company, channel, agent))
    now = int(time.time())
    # WAHA lists newest first. The last one came by webhook once the session was back; the three
    # before it (one written from the business phone) were missed.
    fake_waha.history = [
        waha_item(4, now, "are you there?"),
        waha_item(3, now - 180, "missed three"),
        waha_item(2, now - 240, "missed two, from the phone", from_me=True),
        waha_item(1, now - 300, "missed one"),
    ]
    body = json.dumps(
        {"event": "message", "session": "default", "engine": "NOWEB", "payload": fake_waha.history[0]}
    ).encode()
    r = httpx.post(f"{live_server.url}/webhooks/waha/{channel.id}", content=body, headers=waha_headers(body))
    assert r.status_code == 200

    desk = new_page()
    desk.add_init_script(
        "document.addEventListener('htmx:sseOpen', function () { document.documentElement.dataset.sseOpen = '1'; })"
    )
    browser_login(desk, agent.email, PASSWORD)
    desk.goto(f"/inbox/{conv}")
    thread = desk.locator(f"#thread-{conv}")
    bubbles = thread.locator("li.msg .msg-text")
    expect(bubbles).to_have_text(["before the outage", "are you there?"])
    expect(desk.locator("html")).to_have_attribute("data-sse-open", "1")  # the agent's event stream is connected

    admin_page = new_page()
    browser_login(admin_page, admin.email, PASSWORD)
    admin_page.goto(f"/admin/channels/{channel.id}/edit")
    admin_page.click("#channel-health button:has-text('Fetch missed messages')")
    expect(admin_page.locator("body")).to_contain_text("3 missed messages recovered.")

    expected = ["before the outage", "missed one", "missed two, from the phone", "missed three", "are you there?"]
    expect(bubbles).to_have_text(expected, timeout=10_000)
    recovered = thread.locator("li.msg.msg-recovered .msg-text")
    expect(recovered).to_have_text(["missed one", "missed two, from the phone", "missed three"])
    expect(thread.locator("li.msg-recovered").first).to_contain_text("recovered")
    expect(thread.locator("li.msg-out.msg-recovered")).to_have_count(1)
    screenshot(desk, "backfill-inbox-1280")
    desk.set_viewport_size({"width": 390, "height": 844})
    screenshot(desk, "backfill-inbox-390")
    desk.set_viewport_size({"width": 1280, "height": 800})

    reads = fake_waha.history_reads
    admin_page.click("#channel-health button:has-text('Fetch missed messages')")
    expect(admin_page.locator("body")).to_contain_text("0 missed messages recovered.")
    assert fake_waha.history_reads > reads  # the provider was asked again: nothing new to store
    desk.reload()
    expect(bubbles).to_have_text(expected)
    assert run(sql.fetchval("SELECT count(*) FROM message WHERE conversation_id = $1", conv)) == 5
