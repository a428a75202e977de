"""/account/security in a browser: turning on two-factor login (the QR code is inline SVG, the
page works under the CSP), then logging in with a code."""

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_login, run, screenshot
from tests.browser.test_csp import check, watched
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser


def test_turn_on_two_factor_and_log_in_with_it(new_page):
    company = run(make_company("Secure Co"))
    user = run(make_user(company, "supervisor", name="Sam Secure"))
    page, problems = watched(new_page)
    browser_login(page, user.email, PASSWORD)
    page.goto("/account/security")
    page.click("text=Set up two-factor login")
    expect(page.locator(".mfa-qr svg")).to_be_visible()
    secret = re.search(r"[A-Z2-7]{16,}", page.locator("#two-factor code").inner_text()).group(0)
    screenshot(page, "account-security-setup")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("text=Turn on two-factor login")
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    check(page, problems, "/account/security")
    screenshot(page, "account-security-codes")
    narrow = new_page(width=390, height=844)
    narrow.goto("/login")
    narrow.fill("input[name=email]", user.email)
    narrow.fill("input[name=password]", PASSWORD)
    narrow.click("button[type=submit]")
    narrow.wait_for_url(re.compile("/login/mfa"))
    screenshot(narrow, "login-second-step-390")
    narrow.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
    narrow.click("button[type=submit]")
    narrow.wait_for_url(lambda url: "/login" not in url)
    narrow.goto("/account/security")
    expect(narrow.locator("#sessions tbody tr")).to_have_count(2)
    screenshot(narrow, "account-security-390")
