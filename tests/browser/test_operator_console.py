"""A call from the (fake) Asterisk appears on /operator with a running timer, disappears on
hangup, and the operator hangs up a call with a click."""

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
from tests.telephony.conftest import own
from tests.telephony.fake_ami import FakeAmiThread, blocks

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fake_ami():
    fake = FakeAmiThread()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def pbx_server(database_url, tmp_path_factory, fake_ami):
    """A server process whose AMI listener talks to the fake Asterisk."""
    extra = {
        "AMI_HOST": "127.0.0.1",
        "AMI_PORT": str(fake_ami.ami.port),
        "AMI_USERNAME": "console",
        "AMI_SECRET": "consolepass",
    }
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        server = LiveServer(database_url, tmp_path_factory.mktemp("pbx-live"))
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
    while time.monotonic() < deadline:
        status = run(get_status())
        if status and status["state"] == "connected":
            return
        time.sleep(0.1)
    raise AssertionError(f"AMI listener did not connect: {status}")


def test_live_call_timer_hangup_and_click_to_hang_up(browser, pbx_server, fake_ami):
    company = run(make_company("Phones Co"))
    run(own(company, "extension", "1001"))
    run(own(company, "extension", "1002"))
    supervisor = run(make_user(company, "supervisor", name="Sam Supervisor"))
    _wait_connected()

    context = browser.new_context(base_url=pbx_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_login(page, supervisor.email, PASSWORD)
        page.goto("/operator/")
        expect(page.locator("#operator-calls")).to_contain_text("No calls right now.")
        page.wait_for_timeout(300)  # let the event stream open

        events = blocks("real_flow_basic_call_1001_to_1002.txt")
        hangup_at = next(i for i, b in enumerate(events) if b.startswith("Event: Hangup"))
        fake_ami.call(fake_ami.ami.push(*events[:hangup_at]))

        row = page.locator("#calls-table tr.call")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Alice")
        expect(row).to_contain_text("Bob")
        expect(row.locator(".call-state")).to_have_text("Up")
        expect(page.locator("#stat-active-calls")).to_have_text("1")
        timer = row.locator("time.timer")
        first = timer.inner_text()
        expect(timer).not_to_have_text(first, timeout=3000)  # it runs
        assert re.fullmatch(r"\d+:\d\d", timer.inner_text())
        screenshot(page, "operator-console-live-call")

        fake_ami.call(fake_ami.ami.push(*events[hangup_at:]))
        expect(page.locator("#calls-table tr.call")).to_have_count(0)
        expect(page.locator("#stat-active-calls")).to_have_text("0")

        # The call comes back; this time the operator hangs it up by clicking.
        fake_ami.ami.after_action["hangup"] = events[hangup_at:]
        fake_ami.call(fake_ami.ami.push(*events[:hangup_at]))
        expect(row).to_have_count(1)
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Hang up").click()
        expect(page.locator("#toasts")).to_contain_text("Channel Hungup")
        expect(page.locator("#calls-table tr.call")).to_have_count(0)
        sent = fake_ami.ami.actions_named("Hangup")
        assert sent and sent[-1]["Channel"] == "PJSIP/1001-00000000"
        screenshot(page, "operator-console-after-hangup")
    finally:
        context.close()
