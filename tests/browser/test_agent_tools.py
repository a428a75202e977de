"""The agent's everyday tools in the browser, at 1280 px in English and 390 px in French:
a conversation opening at its newest message (composer in view, customer panel behind a button
on a phone), labels by keyboard, a quick reply filled in before sending, a mention alerting a
colleague on another page, reopening, the profile."""

import re

import pytest
from playwright.sync_api import expect

from app.domain import sql
from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser

TEXT = {
    "en": {"mentioned": "mentioned you", "reopen": "Reopen", "saved": "Profile saved."},
    "fr": {
        "mentioned": "vous a mentionné",
        "reopen": "Rouvrir",
        "saved": "Profil enregistré.",
    },
}


@pytest.mark.parametrize("width,language", [(1280, "en"), (390, "fr")])
def test_everyday_tools(new_page, width, language):
    t = TEXT[language]
    company = run(make_company(f"Tools {width}"))
    support = run(make_department(company, "Support", code=f"T{width}"))
    channel_id = run(make_channel(company, department=support))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    anna = run(make_user(company, "agent", name="Anna Agent", departments=[support]))
    bruno = run(make_user(company, "agent", name="Bruno Costa", departments=[support]))
    for user in (anna, bruno):
        run(sql.execute("UPDATE app_user SET language = $2 WHERE id = $1", user.id, language))
    vip = run(
        sql.fetchval(
            "INSERT INTO label (company_id, name, colour) VALUES ($1, 'VIP', '#be123c') RETURNING id",
            company.id,
        )
    )
    run(
        sql.execute(
            "INSERT INTO quick_reply (company_id, shortcut, text) VALUES ($1, 'hello', $2)",
            company.id,
            "Hello {customer_first_name}, {agent_first_name} here.",
        )
    )

    page = new_page(width=width, height=800)
    browser_login(page, anna.email, PASSWORD)
    page.click("#presence-switch button[value=online]")
    expect(page.locator("#offline-prompt")).to_be_hidden()

    customer = new_page()
    browser_login(customer, admin.email, PASSWORD)
    customer.goto(f"/simulator?channel={channel_id}&phone=%2B15550100002&name=Zo%C3%A9%20Martin")
    for n in range(14):  # enough to scroll
        customer.fill("form.sim-compose input[name=text]", f"Message number {n} from Zoé")
        customer.click("form.sim-compose button[type=submit]")
        expect(customer.locator("body")).to_contain_text(f"Message number {n} from Zoé")
    # The simulator (a phone) shows its newest message.
    assert customer.evaluate(
        "(() => { const t = document.querySelector('.thread.sim');"
        " return t.scrollHeight - t.scrollTop - t.clientHeight < 5; })()"
    )

    conv = run(sql.fetchval("SELECT id FROM conversation WHERE company_id = $1", company.id))
    expect(page.locator(f"#inbox-row-{conv}")).to_be_visible(timeout=10_000)
    page.goto(f"/inbox/{conv}")
    expect(page.locator("#composer-text")).to_be_visible()
    expect(page.locator(f"#labels-{conv} .label-add")).to_be_visible()
    at_bottom = (
        "(() => { const t = document.querySelector('.inbox-thread');"
        " return t.scrollHeight - t.scrollTop - t.clientHeight < 5; })()"
    )
    page.wait_for_function(at_bottom)
    box = page.locator("#composer-text").bounding_box()
    assert box and box["y"] + box["height"] <= 800  # the composer is on screen, under the newest message
    if width == 390:
        expect(page.locator(".customer-col")).to_be_hidden()
        page.click("#customer-toggle")
        expect(page.locator(".customer-col")).to_be_visible()
        screenshot(page, f"tools-customer-panel-{width}-{language}")
        page.keyboard.press("Escape")
        expect(page.locator(".customer-col")).to_be_hidden()
        top = page.locator(".topbar").bounding_box()
        assert top and top["height"] < 60  # one row
    screenshot(page, f"tools-conversation-{width}-{language}")

    # Labels by keyboard: "l" focuses the picker.
    page.locator(".inbox-thread").click()
    page.keyboard.press("l")
    expect(page.locator(f"#label-add-{conv}")).to_be_focused()
    page.select_option(f"#label-add-{conv}", str(vip))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(f"#labels-{conv} .label-chip")).to_have_text(re.compile("VIP"))
    expect(page.locator(f"#inbox-row-{conv} .row-labels")).to_contain_text("VIP", timeout=5000)

    # A quick reply is inserted filled in; the agent sees it before sending.
    page.fill("#composer-text", "")
    page.locator("#composer-text").type("/hel")
    expect(page.locator("#qr-suggest")).to_contain_text("Hello Zoé, Anna here.")
    page.keyboard.press("Enter")
    expect(page.locator("#composer-text")).to_have_value("Hello Zoé, Anna here.")
    screenshot(page, f"tools-quick-reply-{width}-{language}")
    page.keyboard.press("Enter")
    expect(page.locator(".inbox-thread")).to_contain_text("Hello Zoé, Anna here.")

    # A mention reaches Bruno on another page.
    colleague = new_page(width=width, height=800)
    browser_login(colleague, bruno.email, PASSWORD)
    colleague.goto("/orders")
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    page.locator("#note-text").type("@Bruno Costa can you check the parcel?")
    page.keyboard.press("Enter")
    expect(page.locator(".inbox-thread .note").last).to_contain_text("@Bruno Costa")
    expect(colleague.locator("#alert-log")).to_contain_text(t["mentioned"], timeout=10_000)
    colleague.goto("/inbox/mentions")
    colleague.locator(".mention-row a").first.click()
    expect(colleague.locator(".mention-open")).to_contain_text("can you check the parcel?")
    screenshot(colleague, f"tools-mentions-{width}-{language}")

    # Resolve, then reopen.
    page.once("dialog", lambda d: d.accept())
    page.click("#action-resolve")
    expect(page.locator("#action-reopen")).to_be_visible(timeout=10_000)
    page.click("#action-reopen")
    expect(page.locator("#action-resolve")).to_be_visible()
    expect(page.locator(".inbox-thread")).to_contain_text(re.compile("Reopened|Rouverte"))

    # The profile, reached from the avatar.
    page.click(".topbar .whoami")
    expect(page).to_have_url(re.compile(r"/profile$"))
    page.check("input[name=notification_sound][value=pop]")
    page.click("#profile-form button[type=submit]")
    expect(page.locator(".flash")).to_have_text(t["saved"])
    expect(page.locator("body")).to_have_attribute("data-sound", "pop")
    screenshot(page, f"tools-profile-{width}-{language}")
