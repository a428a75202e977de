"""An admin creates an extension in the browser, sees its SIP password once, and puts it in a queue."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_login, run, screenshot
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser


def test_admin_creates_extension_and_queue(new_page):
    company = run(make_company("PBX Co"))
    admin = run(make_user(company, "admin"))
    page = new_page()
    browser_login(page, admin.email, PASSWORD)
    page.click("nav.mainnav >> text=Admin")
    page.click("main >> text=PBX")
    expect(page).to_have_url(re.compile(r"/admin/pbx/extensions"))
    page.click("text=New extension")
    page.fill("input[name=number]", "1001")
    page.fill("input[name=name]", "Alice <Desk>")
    page.check("input[name=codecs][value=g722]")
    page.click("form.form button[type=submit]")
    secret = page.locator("#sip-secret")
    expect(secret).to_have_text(re.compile(r"^[A-Za-z0-9_-]{24}$"))
    password = secret.inner_text()
    screenshot(page, "pbx-extension-secret-once")
    page.click("text=Done")
    row = page.locator("#extensions-table tr", has_text="1001")
    expect(row).to_contain_text("Alice <Desk>")
    expect(row).to_contain_text("ulaw, alaw, g722")
    expect(page.locator("body")).not_to_contain_text(password)  # shown once, never listed

    page.goto("/admin/pbx/queues/new")
    page.fill("input[name=name]", "support")
    page.select_option("select[name=strategy]", "leastrecent")
    page.check("input[name=member_1001]")
    page.fill("input[name=penalty_1001]", "3")
    page.click("form.form button[type=submit]")
    expect(page.locator("#queues-table")).to_contain_text("1001 (3)")
    screenshot(page, "pbx-queues")
