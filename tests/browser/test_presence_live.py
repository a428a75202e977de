"""An admin creates an agent; the agent logs in elsewhere and goes online; the admin sees it live."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_login, run, screenshot
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser


def test_admin_sees_new_agent_presence_change_live(new_page):
    company = run(make_company("Live Co"))
    run(make_department(company, "Support", code="SUP"))
    admin = run(make_user(company, "admin", name="Ada Admin"))

    admin_page = new_page()
    browser_login(admin_page, admin.email, PASSWORD)
    admin_page.goto("/admin/users/new")
    admin_page.fill("input[name=name]", "Agnes <b>Agent</b>")
    admin_page.fill("input[name=email]", "agnes@example.test")
    admin_page.select_option("select[name=role]", "agent")
    admin_page.fill("input[name=capacity]", "3")
    admin_page.fill("input[name=password]", "a-long-password-1")
    admin_page.check("input[name=department_ids]")
    admin_page.click("form.form button[type=submit]")
    expect(admin_page).to_have_url(re.compile(r"/admin/users$"))
    row = admin_page.locator("tr", has_text="agnes@example.test")
    expect(row).to_contain_text("Agnes <b>Agent</b>")  # escaped, shown as typed
    expect(row.locator(".presence")).to_have_class(re.compile("presence-offline"))

    # Mark the admin's page: a reload (or a resync of #main) would drop the mark, so the
    # checks below prove the change came over SSE into this very page.
    admin_page.evaluate("document.querySelector('#main').dataset.mark = 'original'")
    expect(admin_page.locator("#live-status")).to_be_hidden()

    agent_page = new_page()
    browser_login(agent_page, "agnes@example.test", "a-long-password-1")
    # The agent's switch is in the top bar; going online is one click.
    agent_page.click("#presence-switch button[value=online]")
    expect(agent_page.locator("#presence-switch button[value=online]")).to_have_attribute("aria-pressed", "true")

    # The admin's page was not reloaded: the badge changed over SSE.
    expect(row.locator(".presence")).to_have_class(re.compile("presence-online"), timeout=5000)
    expect(admin_page.locator("#main[data-mark=original]")).to_have_count(1)
    expect(admin_page.locator("#live-status")).to_be_hidden()
    screenshot(admin_page, "admin-users-live-presence")

    agent_page.click("#presence-switch button[value=busy]")
    expect(row.locator(".presence")).to_have_class(re.compile("presence-busy"), timeout=5000)
    screenshot(agent_page, "agent-home")
