"""The supervisor's wallboard in a browser: it follows a customer writing through the Sandbox
and an agent answering, live (no reload), and the metrics page shows the same day."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.domain import sql
from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser


def test_wallboard_follows_customers_and_agents_live(new_page):
    company = run(make_company("Wallboard Co"))
    support = run(make_department(company, "Support", code="SUP"))
    run(make_department(company, "Sales", code="SAL"))
    channel_id = run(make_channel(company, department=support))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    sue = run(make_user(company, "supervisor", name="Sue Supervisor"))
    anna = run(make_user(company, "agent", name="Anna Agent", departments=[support], capacity=3))
    run(make_user(company, "agent", name="Bruno Agent", departments=[support], capacity=3))

    desk = new_page()
    browser_login(desk, anna.email, PASSWORD)
    desk.click("#presence-switch button[value=online]")
    expect(desk.locator("#presence-switch button[value=online]")).to_have_attribute("aria-pressed", "true")

    board = new_page()
    browser_login(board, sue.email, PASSWORD)
    board.goto("/supervisor")
    expect(board.locator("nav a[href='/supervisor']")).to_have_attribute("aria-current", "page")
    expect(board.locator(f"#wb-agent-{anna.id}")).to_contain_text("0 / 3")
    expect(board.locator(f"#wb-agent-{anna.id}")).to_contain_text(re.compile("online", re.I))
    expect(board.locator("#wb-first-responses")).to_have_text("0")
    board.evaluate("document.querySelector('#main').dataset.mark = 'original'")

    # A customer writes: the conversation goes to Anna, the board shows it without a reload.
    customer = new_page()
    browser_login(customer, admin.email, PASSWORD)
    customer.goto(f"/simulator?channel={channel_id}&phone=%2B15550107777&name=Carmen%20Customer")
    customer.fill("form.sim-compose input[name=text]", "Hello, my order is late")
    customer.click("form.sim-compose button[type=submit]")
    expect(board.locator(f"#wb-agent-{anna.id}")).to_contain_text("1 / 3", timeout=10_000)
    expect(board.locator(f"#wb-agent-{anna.id} .wb-convos")).to_contain_text("Carmen Customer")
    expect(board.locator("#wb-count-assigned")).to_have_text("1")
    expect(board.locator("#wb-chart-messages rect.bar-customer")).to_have_count(1)
    expect(board.locator("#main[data-mark=original]")).to_have_count(1)  # live, not reloaded

    # Anna answers: first response, time since her last reply.
    conversation_id = run(sql.fetchval("SELECT id FROM conversation WHERE company_id = $1", company.id))
    desk.goto(f"/conversations/{conversation_id}")  # an old link: the inbox opens it
    desk.fill("#composer-text", "Sorry! Let me check.")
    desk.click("#composer-send")
    expect(board.locator("#wb-first-responses")).to_have_text("1", timeout=10_000)
    expect(board.locator(f"#wb-agent-{anna.id} .wb-since")).to_have_text(re.compile(r"^\d+ s$"))
    expect(board.locator("#wb-chart-messages rect.bar-agent")).to_have_count(1)
    expect(board.locator("#wb-frt-target")).to_contain_text("100%")
    expect(board.locator("#main[data-mark=original]")).to_have_count(1)
    screenshot(board, "wallboard-live")

    wide = new_page(1600, 1000)
    browser_login(wide, sue.email, PASSWORD)
    wide.goto("/supervisor")
    screenshot(wide, "wallboard-1600")

    board.goto("/metrics?group=agent")
    expect(board.locator("#metrics-table")).to_contain_text("Anna Agent")
    expect(board.locator("#metrics-table tbody tr")).to_have_count(1)
    screenshot(board, "metrics-per-agent")
    with board.expect_download() as download:
        board.click("#metrics-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("from,to,group,")
    assert "Anna Agent" in text
