"""A customer writes in the Sandbox simulator; the message appears live in the inbox's conversation;
the reply appears live in the simulator with its ticks."""

import re

import pytest
from playwright.sync_api import expect

from app.domain.channels import ensure_sandbox_channel
from tests.browser.conftest import browser_login, run, screenshot
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser


def test_simulator_round_trip(new_page):
    company = run(make_company("Sandbox Co"))
    channel = run(ensure_sandbox_channel(company.id))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    supervisor = run(make_user(company, "supervisor", name="Sam Supervisor"))

    sim = new_page(width=900)
    browser_login(sim, admin.email, PASSWORD)
    sim.goto(f"/simulator?channel={channel.id}&phone=%2B15550100001&name=Zoe")
    sim.fill(".sim-compose input[name=text]", "Hello, I need help")
    sim.click(".sim-compose button[type=submit]")
    expect(sim.locator(".thread.sim .msg-in")).to_contain_text("Hello, I need help")

    desk = new_page()
    browser_login(desk, supervisor.email, PASSWORD)
    desk.goto("/conversations")  # the old list: the inbox's "All" tab
    desk.click(".inbox-row-link:has-text('Zoe')")
    expect(desk.locator(".inbox-thread .msg-in")).to_have_count(1)
    desk.evaluate("document.querySelector('#main').dataset.mark = 'original'")
    desk.wait_for_timeout(500)  # let the event stream connect

    sim.fill(".sim-compose input[name=text]", "Second <b>message</b>")
    sim.click(".sim-compose button[type=submit]")
    # Live on the conversation page, escaped, with no reload.
    expect(desk.locator(".inbox-thread .msg-in").nth(1)).to_contain_text("Second <b>message</b>", timeout=5000)
    expect(desk.locator("#main[data-mark=original]")).to_have_count(1)

    sim.evaluate("document.querySelector('#main').dataset.mark = 'sim'")
    sim.wait_for_timeout(500)
    desk.fill("#composer-text", "We are on it!")
    desk.click("#composer-send")
    reply = sim.locator(".thread.sim .msg-out")
    expect(reply).to_contain_text("We are on it!", timeout=5000)
    # The sender worker "delivers" through the Sandbox: two ticks, live.
    expect(reply.locator(".ticks")).to_have_attribute("data-status", "delivered", timeout=5000)
    expect(sim.locator("#main[data-mark=sim]")).to_have_count(1)
    expect(desk.locator(".inbox-thread .msg-out .ticks")).to_have_attribute("data-status", "delivered", timeout=5000)
    expect(desk.locator("#composer-text")).to_have_value("")

    sim.click("text=Mark replies as read")
    expect(sim.locator(".thread.sim .msg-out .ticks")).to_have_class(re.compile("ticks-read"))
    expect(desk.locator(".inbox-thread .msg-out .ticks")).to_have_attribute("data-status", "read", timeout=5000)
    screenshot(sim, "sandbox-simulator")
    screenshot(desk, "conversation-live")
