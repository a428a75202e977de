"""An admin adopts an extension configured in Asterisk before Switchboard, from the PBX pages."""

import pytest
from playwright.sync_api import expect

from app.domain import sql
from tests.browser.conftest import browser_login, run, screenshot
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser


def test_admin_adopts_a_legacy_extension(new_page):
    company = run(make_company("Legacy PBX Co"))
    admin = run(make_user(company, "admin"))
    run(
        sql.execute("""INSERT INTO ps_endpoints (id, aors, auth, context, disallow, allow, callerid)
                       VALUES ('2301', '2301', '2301', 'internal', 'all', 'ulaw', '"Standard accueil" <2301>')""")
    )
    for width in (390, 1280):
        page = new_page(width=width)
        browser_login(page, admin.email, PASSWORD)
        page.goto("/admin/pbx/extensions")
        page.click("nav.tabs >> text=Adopt")
        row = page.locator("#adopt-extension tr", has_text="2301")
        expect(row).to_contain_text("Standard accueil")
        screenshot(page, f"pbx-adopt-{width}")
    row.locator("button", has_text="Adopt").click()
    expect(page.locator("#extensions-table")).to_contain_text("2301")
    expect(page.locator("#extensions-table")).to_contain_text("Standard accueil")
    assert run(sql.fetchval("SELECT accountcode FROM ps_endpoints WHERE id = '2301'")) == f"sb{company.id}"
