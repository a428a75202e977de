"""The Content-Security-Policy leaves every screen working (issue 16): the simulator, the
inbox (a conversation answered from its composer), the operator console and the wallboard load
with no CSP violation and no htmx eval error."""

import pytest
from playwright.sync_api import expect

from app.domain.channels import ensure_sandbox_channel
from tests.browser.conftest import browser_login, run, screenshot
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});
"""


def watched(new_page, width=1280):
    page = new_page(width=width)
    page.add_init_script(WATCH)
    problems = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and ("Content Security Policy" in m.text or "eval" in m.text.lower())
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page, problems


def check(page, problems, where):
    violations = page.evaluate("window.__violations || []")
    assert not violations and not problems, (where, violations, problems)


def test_screens_work_under_the_csp(new_page):
    company = run(make_company("CSP Co"))
    channel = run(ensure_sandbox_channel(company.id))
    admin = run(make_user(company, "admin", name="Ada Admin"))

    sim, sim_problems = watched(new_page, 900)
    browser_login(sim, admin.email, PASSWORD)
    response = sim.goto(f"/simulator?channel={channel.id}&phone=%2B15550100001&name=Zoe")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    sim.fill(".sim-compose input[name=text]", "Hello under CSP")
    sim.click(".sim-compose button[type=submit]")
    expect(sim.locator(".thread.sim .msg-in")).to_contain_text("Hello under CSP")
    check(sim, sim_problems, "simulator")

    desk, problems = watched(new_page)
    browser_login(desk, admin.email, PASSWORD)
    desk.goto("/conversations")  # the inbox's "All" tab
    desk.click(".inbox-row-link:has-text('Zoe')")
    expect(desk.locator(".inbox-thread .msg-in")).to_have_count(1)
    desk.wait_for_timeout(300)
    desk.fill("#composer-text", "Answer under CSP")
    desk.click("#composer-send")
    expect(desk.locator(".inbox-thread .msg-out")).to_contain_text("Answer under CSP", timeout=5000)
    # The composer empties itself after a successful send.
    expect(desk.locator("#composer-text")).to_have_value("")
    check(desk, problems, "conversation")

    for path, ready in (
        ("/inbox", "#inbox-rows"),
        ("/operator", "#main"),
        ("/supervisor", "#main"),
        ("/", "#main"),
        ("/admin/users", "#main"),
    ):
        desk.goto(path)
        expect(desk.locator(ready).first).to_be_visible()
        desk.wait_for_timeout(400)  # the event stream connects, htmx processes the page
        check(desk, problems, path)
    desk.goto("/inbox")
    desk.locator("#inbox-rows a, #inbox-rows [hx-get]").first.click()
    desk.wait_for_timeout(500)
    check(desk, problems, "inbox pane")
    screenshot(desk, "csp-inbox")
