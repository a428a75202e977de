"""Voice and chat as one (issue 17), in a browser against a server whose AMI listener talks
to the fake Asterisk: every PBX admin page opens, failed console actions show a toast, and
(further down) an agent on a call gets a screen-pop and no new chat."""

from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import expect

from app.telephony.live import get_status
from tests.browser.conftest import CHROMIUM, browser_login, run, screenshot  # noqa: F401
from tests.conftest import LiveServer
from tests.factories import PASSWORD, make_company, make_user
from tests.telephony.fake_ami import FakeAmiThread, blocks

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fake_ami():
    fake = FakeAmiThread()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def pbx_server(database_url, tmp_path_factory, fake_ami):
    extra = {"AMI_HOST": "127.0.0.1", "AMI_PORT": str(fake_ami.ami.port), "AMI_USERNAME": "console", "AMI_SECRET": "consolepass"}
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        server = LiveServer(database_url, tmp_path_factory.mktemp("voice-live"))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield server
    server.stop()


def _wait_connected(timeout=15):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = run(get_status())
        if status and status["state"] == "connected":
            return
        time.sleep(0.1)
    raise AssertionError(f"AMI listener did not connect: {status}")


def _page(browser, server, width=1280):
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_every_pbx_admin_page_opens(browser, pbx_server):
    company = run(make_company("PBX Pages Co"))
    admin = run(make_user(company, "admin"))
    context, page = _page(browser, pbx_server)
    errors: list[str] = []
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    try:
        browser_login(page, admin.email, PASSWORD)
        page.goto("/admin/pbx/extensions/new")
        page.fill("input[name=number]", "4101")
        page.fill("input[name=name]", "Desk")
        page.click("form.form button[type=submit]")
        page.click("text=Done")
        page.goto("/admin/pbx/trunks/new")
        page.fill("input[name=name]", "op41")
        page.fill("input[name=host]", "sip.example.net")
        page.fill("input[name=username]", "acme")
        page.fill("input[name=password]", "pw;1")
        page.click("form.form button[type=submit]")
        page.goto("/admin/pbx/queues/new")
        page.fill("input[name=name]", "q41")
        page.check("input[name=member_4101]")
        page.click("form.form button[type=submit]")
        for listing, table in (("extensions", "#extensions-table"), ("trunks", "#trunks-table"), ("queues", "#queues-table")):
            page.goto(f"/admin/pbx/{listing}")
            links = page.locator(f"{table} a[href$='/edit']")
            expect(links.first).to_be_visible()
            hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
            for href in hrefs:
                response = page.goto(href)
                assert response.status == 200, href
                expect(page.locator("form.danger-zone button")).to_be_visible()
            page.goto(f"/admin/pbx/{listing}/new")
            expect(page.locator("form.form")).to_be_visible()
        for url in ("/admin/pbx/dialplan", "/admin/pbx/audit", "/operator/history"):
            assert page.goto(url).status == 200, url
        expect(page.locator("#dialplan")).to_have_count(0)  # (on the history page now)
        page.goto("/admin/pbx/dialplan")
        expect(page.locator("#dialplan")).to_contain_text(f"[sb{company.id}-internal]")
        screenshot(page, "pbx-dialplan")
        # Delete from an edit page (the button that answered 500 before).
        page.goto("/admin/pbx/queues")
        page.locator("#queues-table a[href$='/edit']").first.click()
        page.once("dialog", lambda d: d.accept())
        page.click("form.danger-zone button")
        expect(page).to_have_url(re.compile(r"/admin/pbx/queues/?$"))
        expect(page.locator("#queues-table")).not_to_contain_text("q41")
        assert errors == []
    finally:
        context.close()


def test_a_failed_console_action_shows_a_toast(browser, pbx_server, fake_ami):
    from tests.telephony.conftest import own

    company = run(make_company("Toast Co"))
    run(own(company, "extension", "1001"))
    run(own(company, "extension", "1002"))
    supervisor = run(make_user(company, "supervisor"))
    _wait_connected()
    fake_ami.ami.dialplan = set()  # nothing to transfer to
    context, page = _page(browser, pbx_server)
    try:
        browser_login(page, supervisor.email, PASSWORD)
        page.goto("/operator/")
        page.wait_for_timeout(300)
        events = blocks("real_flow_basic_call_1001_to_1002.txt")
        hangup_at = next(i for i, b in enumerate(events) if b.startswith("Event: Hangup\r\n"))
        fake_ami.call(fake_ami.ami.push(*events[:hangup_at]))
        row = page.locator("#calls-table tr.call")
        expect(row).to_have_count(1)
        row.locator("input[name=destination]").fill("999")
        page.once("dialog", lambda d: d.accept())
        row.get_by_role("button", name="Transfer").click()
        expect(page.locator("#toasts")).to_contain_text("No such number in the dialplan")
        screenshot(page, "operator-failed-action-toast")
        fake_ami.call(fake_ami.ami.push(*events[hangup_at:]))
    finally:
        fake_ami.ami.dialplan = None
        context.close()
