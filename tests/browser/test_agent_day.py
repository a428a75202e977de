"""The agent's day in the browser, at 1280 and 390 px, in English and French: login lands on
the inbox, the offline prompt, notifications enabled once, an assignment alerting the agent on
another page (sound, desktop notification quoting the customer, title count), the icons."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser

# Records the notifications the page makes (the browser's own would need a desktop).
RECORD_NOTIFICATIONS = """
window.__notes = [];
window.Notification = function (title, options) { window.__notes.push({ title: title, body: options.body }); };
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
"""


@pytest.mark.parametrize("width,language", [(1280, "en"), (390, "fr")])
def test_login_lands_on_inbox_with_offline_prompt_and_alerts_elsewhere(new_page, width, language):
    company = run(make_company(f"Day Co {width}"))
    support = run(make_department(company, "Support", code=f"S{width}"))
    channel_id = run(make_channel(company, department=support))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    agent = run(make_user(company, "agent", name="Anna Agent", departments=[support]))
    if language == "fr":
        from app.domain import sql

        run(sql.execute("UPDATE app_user SET language = 'fr' WHERE id = $1", agent.id))

    page = new_page(width=width, height=800)
    page.add_init_script(RECORD_NOTIFICATIONS)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    browser_login(page, agent.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/inbox$"))
    prompt = page.locator("#offline-prompt")
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text("hors ligne" if language == "fr" else "offline")
    screenshot(page, f"agent-day-offline-prompt-{width}-{language}")
    prompt.locator("button[value=online]").click()
    expect(page.locator("#presence-switch button[value=online]")).to_have_attribute("aria-pressed", "true")
    expect(prompt).to_be_hidden()
    # Permission already granted: no "Enable notifications" button.
    expect(page.locator("#notify-enable")).to_be_hidden()
    # Capitalised as a sentence, not Title Case (French "En ligne", never "En Ligne").
    online_label = page.locator("#presence-switch button[value=online]").inner_text().strip()
    assert online_label == ("En ligne" if language == "fr" else "Online")

    # The agent leaves the inbox for the team page; a customer writes and is assigned to them.
    page.click("a[href='/']")
    expect(page).to_have_url(re.compile(r"/$"))
    page.evaluate("window.__played = []; window.switchboardPlay = null;")
    customer = new_page()
    browser_login(customer, admin.email, PASSWORD)
    customer.goto(f"/simulator?channel={channel_id}&phone=%2B15550100001&name=Zo%C3%A9%20Martin")
    customer.fill("form.sim-compose input[name=text]", "Bonjour, ma commande 1234 est en retard")
    customer.click("form.sim-compose button[type=submit]")
    expect(page.locator("#alert-log")).to_contain_text("Zoé Martin", timeout=10_000)
    expect(page.locator("#alert-log")).to_contain_text("ma commande 1234 est en retard")
    notes = page.evaluate("window.__notes")
    assert notes and "Zoé Martin" in notes[0]["title"]
    assert notes[0]["body"] == "Bonjour, ma commande 1234 est en retard"  # the customer's words, not the menu
    screenshot(page, f"agent-day-alert-on-team-page-{width}-{language}")
    assert not [u for u in missing if u.endswith("/favicon.ico") or "manifest" in u or "/static/" in u], missing
    # Nav icons come from the sprite.
    expect(page.locator(".mainnav a[href='/inbox'] svg use")).to_have_attribute("href", "#i-inbox")
