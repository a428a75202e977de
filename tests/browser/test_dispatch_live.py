"""Dispatch in the browser: four customers write through the Sandbox, two online agents get
two each, live; one agent goes offline and their unanswered conversation moves to the other."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser


def test_conversations_split_between_agents_and_follow_presence(new_page):
    company = run(make_company("Dispatch Co"))
    support = run(make_department(company, "Support", code="SUP"))
    channel_id = run(make_channel(company, department=support))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    anna = run(make_user(company, "agent", name="Anna", departments=[support], capacity=5))
    bruno = run(make_user(company, "agent", name="Bruno", departments=[support], capacity=5))

    pages = {}
    for agent in (anna, bruno):
        page = new_page()
        browser_login(page, agent.email, PASSWORD)
        page.goto("/")  # the team page's "my work" cards (a login lands on the inbox)
        page.click("#presence-switch button[value=online]")
        expect(page.locator("#presence-switch button[value=online]")).to_have_attribute("aria-pressed", "true")
        page.evaluate("document.querySelector('#main').dataset.mark = 'original'")
        pages[agent.id] = page

    customer = new_page()
    browser_login(customer, admin.email, PASSWORD)
    for n in range(4):
        customer.goto(f"/simulator?channel={channel_id}&phone=%2B1555010000{n}&name=Customer%20{n}")
        customer.fill("form.sim-compose input[name=text]", f"Hello from customer {n}")
        customer.click("form.sim-compose button[type=submit]")
        expect(customer.locator("body")).to_contain_text(f"Hello from customer {n}")

    for page in pages.values():
        expect(page.locator("#my-conversations .convo")).to_have_count(2, timeout=10_000)
        expect(page.locator("#main[data-mark=original]")).to_have_count(1)  # live, not reloaded
    screenshot(pages[anna.id], "dispatch-agent-home")

    # Anna goes offline with two unanswered conversations: they move to Bruno.
    pages[anna.id].click("#presence-switch button[value=offline]")
    expect(pages[bruno.id].locator("#my-conversations .convo")).to_have_count(4, timeout=10_000)
    expect(pages[anna.id].locator("#my-conversations .convo")).to_have_count(0, timeout=10_000)
    expect(pages[bruno.id].locator("#my-conversations")).to_contain_text(re.compile("Customer [0-3]"))
    screenshot(pages[bruno.id], "dispatch-after-offline")
