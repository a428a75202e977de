"""The department form's routing knobs, as an admin sees and uses them (1280 and 390 px)."""

import pytest
from playwright.sync_api import expect

from app.domain import sql
from tests.browser.conftest import browser_login, run, screenshot
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser


def test_an_admin_sets_the_routing_of_a_department(new_page):
    company = run(make_company("Knobs Co"))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    run(make_department(company, "Backup"))
    support = run(make_department(company, "Support"))
    for width, name in ((1280, "department-routing-1280"), (390, "department-routing-390")):
        page = new_page(width)
        browser_login(page, admin.email, PASSWORD)
        page.goto(f"/admin/departments/{support.id}/edit")
        expect(page.locator("#routing-knobs legend")).to_have_text("Routing")
        screenshot(page, name)
    page.select_option("select[name=strategy]", "round_robin")
    page.select_option("select[name=offline_policy]", "keep_answered")
    page.select_option("select[name=overflow_department_id]", label="Backup")
    page.fill("input[name=overflow_after]", "120")
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/admin/departments")
    row = run(sql.fetchrow("SELECT strategy, offline_policy, overflow_after FROM department WHERE id = $1", support.id))
    assert tuple(row) == ("round_robin", "keep_answered", 120)
