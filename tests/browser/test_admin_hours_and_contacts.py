"""An admin edits business hours (an overlap is refused, then saved), company settings, and
merges two duplicate contacts in the browser."""

import re

import pytest
from playwright.sync_api import expect

from app.domain import sql
from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser


async def _contacts(company):
    channel = await make_channel(company)
    other = await make_channel(company)
    keep = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+5511987654321', 'Maria Silva') RETURNING id",
        company.id,
    )
    dup = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name, language) VALUES ($1, NULL, 'Maria Silva', 'pt_BR') RETURNING id",
        company.id,
    )
    await sql.execute(
        "INSERT INTO contact_alias (company_id, contact_id, alias) VALUES ($1, $2, '5511987@lid')", company.id, dup
    )
    await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33612345678', 'Jean <b>Dupont</b>') RETURNING id",
        company.id,
    )
    await make_conversation(company, channel, contact_id=keep, status="resolved")
    await make_conversation(company, other, contact_id=dup)
    return keep, dup


def test_admin_edits_hours_and_merges_contacts(new_page):
    company = run(make_company("Padaria Central"))
    admin = run(make_user(company, "admin"))
    keep, dup = run(_contacts(company))
    page = new_page()
    browser_login(page, admin.email, PASSWORD)

    page.click("nav.mainnav >> text=Admin")
    page.click("main >> text=Business hours")
    expect(page).to_have_url(re.compile(r"/admin/business-hours$"))
    expect(page.locator("#open-state")).to_have_text("Open now")  # nothing configured: open 24/7
    # Open around the clock: the days are not listed as closed (issue 18).
    expect(page.locator("input[name=mode][value=always]")).to_be_checked()
    expect(page.locator(".hours-days")).to_be_hidden()
    page.check("input[name=mode][value=hours]")
    expect(page.locator(".hours-days")).to_be_visible()
    # Monday: two overlapping intervals; Tuesday 09:00-18:00 as suggested; the rest of the week closed.
    page.fill("input[name=day0_from_0]", "09:00")
    page.fill("input[name=day0_to_0]", "12:00")
    page.fill("input[name=day0_from_1]", "11:00")
    page.fill("input[name=day0_to_1]", "13:00")
    for day in (2, 3, 4):
        page.uncheck(f"input[name=day{day}_open]")
    expect(page.locator("#hours-day2 .hours-closed")).to_be_visible()
    screenshot(page, "admin-business-hours-picker")
    page.click("#hours-form button[type=submit]")
    expect(page.locator("#day0-error")).to_have_text("Intervals overlap.")
    expect(page.locator("input[name=day1_to_0]")).to_have_value("18:00")  # kept while fixing
    page.fill("input[name=day0_from_1]", "14:00")
    page.fill("input[name=day0_to_1]", "18:00")
    page.click("#hours-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Business hours saved.")
    expect(page.locator("input[name=day0_from_1]")).to_have_value("14:00")
    page.fill("textarea[name=holidays]", "2026-12-25 Natal\n2027-01-01 Ano Novo")
    page.click("#holidays-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Holidays saved.")
    screenshot(page, "admin-business-hours")
    assert run(sql.fetchval("SELECT count(*) FROM business_hours WHERE company_id = $1", company.id)) == 3

    page.goto("/admin/company")
    page.select_option("select[name=timezone]", "America/Sao_Paulo")
    page.select_option("select[name=language]", "pt_BR")
    page.click("form.form button[type=submit]")
    expect(page.locator("select[name=timezone]")).to_have_value("America/Sao_Paulo")
    screenshot(page, "admin-company-settings")  # now in Portuguese

    page.goto("/admin/contacts")
    expect(page.locator("#contacts-table")).to_contain_text("Jean <b>Dupont</b>")  # shown as text
    screenshot(page, "admin-contacts-list")
    page.click(f"#contact-{keep} >> text=Mesclar")
    expect(page.locator(f"#duplicate-{dup}")).to_be_visible()  # same name: offered first
    screenshot(page, "admin-contacts-merge")
    page.click(f"#duplicate-{dup} a")
    expect(page.locator("#merge-confirm")).to_contain_text("não pode ser desfeito")
    screenshot(page, "admin-contacts-merge-confirm")
    page.click("#merge-confirm button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/admin/contacts/{keep}/edit$"))
    expect(page.locator("#contact-facts")).to_contain_text("5511987@lid")
    expect(page.locator("select[name=language]")).to_have_value("pt_BR")
    screenshot(page, "admin-contact-edit")
    assert run(sql.fetchval("SELECT count(*) FROM conversation WHERE contact_id = $1", keep)) == 2
    assert run(sql.fetchval("SELECT count(*) FROM contact WHERE id = $1", dup)) == 0

    page.goto("/admin/auto-messages?language=fr")
    expect(page.locator("#auto-out_of_hours textarea")).to_have_value(re.compile(r"^Merci pour votre message"))
    screenshot(page, "admin-auto-messages-fr")
