"""A message written while a page's event stream is still opening shows on that page, once;
an event delivered twice does not add a second bubble."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.domain import sql
from app.domain.channels import ensure_sandbox_channel, get_channel
from app.domain.events import MessageReceived, emit
from app.domain.messages import receive_webhook
from app.providers.base import InboundMessage, Parsed
from tests.browser.conftest import browser_login, run, screenshot
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser


async def customer_writes(channel, text: str, n: int | str) -> None:
    await receive_webhook(
        channel,
        Parsed(
            messages=[
                InboundMessage(
                    provider_message_id=f"late-{n}", phone="+15550100002", name="Zoé", type="text", text=text
                )
            ]
        ),
    )


async def announce_again(company_id: int, conversation_id: int, message_id: int) -> None:
    async with sql.transaction():
        await emit(MessageReceived(company_id, conversation_id, message_id))


def supervisor_and_conversation(new_page, company_name: str, role: str = "supervisor"):
    """A Sandbox conversation where the customer said hello, and its supervisor's logged-in page."""
    company = run(make_company(company_name))
    supervisor = run(make_user(company, role, name="Sam Supervisor"))
    channel = run(get_channel(company.id, run(ensure_sandbox_channel(company.id)).id))
    run(customer_writes(channel, "Hello", f"{company.id}-hello"))
    conv_id = run(sql.fetchval("SELECT id FROM conversation WHERE company_id = $1", company.id))
    page = new_page()
    browser_login(page, supervisor.email, PASSWORD)
    return company, channel, conv_id, page


def wait_until(page, condition, failure: str) -> None:
    """Let the page run (Playwright calls route handlers meanwhile) until ``condition()``."""
    for _ in range(100):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(failure)


def test_a_message_written_before_the_stream_opens_still_shows_once(new_page):
    company, channel, conv_id, page = supervisor_and_conversation(new_page, "Late Co", "admin")
    parked = []
    # The page's stream is held back (a slow network) while the customer writes again.
    page.route("**/events?*", lambda route: parked.append(route))
    page.goto(f"/simulator?channel={channel.id}&phone=%2B15550100002")  # the customer's phone
    expect(page.locator(".thread .msg-in")).to_have_count(1)
    wait_until(page, lambda: parked, "the page did not open its stream")
    run(customer_writes(channel, "Are you there?", 2))
    page.wait_for_timeout(300)  # delivered to the server's hub before the stream is let through
    parked[0].continue_()
    page.unroute("**/events?*")
    expect(page.locator(".thread .msg-in")).to_have_count(2, timeout=5000)
    expect(page.locator(".thread .msg-in").nth(1)).to_contain_text("Are you there?")

    # The same message announced again (a replay, a reconnect): replaced in place, not added.
    first_id = run(sql.fetchval("SELECT min(id) FROM message WHERE conversation_id = $1", conv_id))
    page.evaluate("document.getElementById('message-%d').dataset.mark = 'old'" % first_id)
    run(announce_again(company.id, conv_id, first_id))
    expect(page.locator(f"#message-{first_id}:not([data-mark])")).to_have_count(1, timeout=5000)
    expect(page.locator(".thread .msg-in")).to_have_count(2)
    run(customer_writes(channel, "Third", 3))
    expect(page.locator(".thread .msg-in")).to_have_count(3, timeout=5000)
    screenshot(page, "conversation-late-stream")


def test_a_message_written_while_a_conversation_opens_in_the_inbox_shows(new_page):
    """The inbox pane's request has been read by the server, the customer writes, then the pane
    arrives: its thread still gets the message (nothing listened to it in between)."""
    company, channel, conv_id, page = supervisor_and_conversation(new_page, "Pane Co")
    page.goto("/inbox")
    row = page.locator(f"#inbox-row-{conv_id} .inbox-row-link")
    expect(row).to_have_count(1)
    page.wait_for_timeout(300)  # the list's stream is open
    held = []
    # The server answers the pane at once; the network hands the answer over only later.
    page.route("**/inbox/*/pane", lambda route: held.append((route, route.fetch())))
    row.click()
    wait_until(page, lambda: held, "the pane was not requested")
    run(customer_writes(channel, "Still there?", 12))
    page.wait_for_timeout(500)  # its bubble reached the page before the pane
    route, response = held[0]
    route.fulfill(response=response)
    page.unroute("**/inbox/*/pane")
    thread = page.locator(f"#thread-{conv_id}")
    expect(thread.locator(".msg-in")).to_have_count(2, timeout=5000)
    expect(thread.locator(".msg-in").nth(1)).to_contain_text("Still there?")
    expect(page.locator(".thread-prelistener")).to_have_count(0)
    run(customer_writes(channel, "And now?", 13))  # the pane's own listener takes over
    expect(thread.locator(".msg-in")).to_have_count(3, timeout=5000)
    screenshot(page, "inbox-pane-opened-late")
