"""Typing indicators in Chromium, both ways through the Sandbox: the customer types in the
simulator and the agent's inbox says so under the thread; the agent types and the simulator
(the customer's phone) shows "typing…"; each disappears when its writer stops or sends."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser


def test_typing_both_ways(new_page):
    company = run(make_company("Typing Co"))
    sales = run(make_department(company, "Sales", code="SAL"))
    channel_id = run(make_channel(company, department=sales))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    anna = run(make_user(company, "agent", name="Anna", departments=[sales]))

    desk = new_page()
    browser_login(desk, anna.email, PASSWORD)
    desk.click("#presence-switch button[value=online]")
    expect(desk.locator("#presence-switch button[value=online]")).to_have_attribute("aria-pressed", "true")
    desk.goto("/inbox")

    sim = new_page(width=900)
    browser_login(sim, admin.email, PASSWORD)
    sim.goto(f"/simulator?channel={channel_id}&phone=%2B15550100088&name=Zo%C3%A9")
    sim.fill(".sim-compose input[name=text]", "Hello")
    sim.click(".sim-compose button[type=submit]")
    expect(sim.locator(".thread.sim .msg-in")).to_contain_text("Hello")

    row = desk.locator("#inbox-rows .inbox-row", has_text="Zoé")
    expect(row).to_have_count(1, timeout=10_000)
    row.locator(".inbox-row-link").click()
    expect(desk.locator(".inbox-thread .msg-in")).to_contain_text("Hello")
    hint = desk.locator("#typing-hint")
    expect(hint).to_have_text("")
    desk.wait_for_timeout(500)  # let the pane's listener join the stream

    # The customer types: the agent sees it, live, announced politely.
    sim.locator(".sim-compose input[name=text]").press_sequentially("I have a question", delay=15)
    expect(hint).to_have_text("Zoé is typing…", timeout=5000)
    expect(hint).to_have_attribute("aria-live", "polite")
    screenshot(desk, "inbox-customer-typing")
    # They clear what they wrote: the hint goes.
    sim.fill(".sim-compose input[name=text]", "")
    expect(hint).to_have_text("", timeout=5000)

    # The agent types: the customer's phone shows "typing…".
    sim_typing = sim.locator("#sim-typing")
    expect(sim_typing).to_have_text("")
    desk.locator("#composer-text").press_sequentially("Let me check that for you", delay=15)
    expect(sim_typing).to_have_text("typing…", timeout=5000)
    screenshot(sim, "simulator-agent-typing")
    # The agent sends: the indicator stops and the reply arrives.
    desk.locator("#composer-text").press("Enter")
    expect(sim.locator(".thread.sim .msg-by-agent")).to_contain_text("Let me check that for you", timeout=5000)
    expect(sim_typing).to_have_text("", timeout=5000)

    # The customer types again, then sends: the message replaces the hint.
    sim.locator(".sim-compose input[name=text]").press_sequentially("Thanks", delay=15)
    expect(hint).to_have_text("Zoé is typing…", timeout=5000)
    sim.click(".sim-compose button[type=submit]")
    expect(desk.locator(".inbox-thread .msg-in").last).to_contain_text("Thanks", timeout=5000)
    expect(hint).to_have_text("")
