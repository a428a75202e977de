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
    extra = {
        "AMI_HOST": "127.0.0.1",
        "AMI_PORT": str(fake_ami.ami.port),
        "AMI_USERNAME": "console",
        "AMI_SECRET": "consolepass",
    }
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
        for listing, table in (
            ("extensions", "#extensions-table"),
            ("trunks", "#trunks-table"),
            ("queues", "#queues-table"),
        ):
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


def test_queue_call_pops_the_caller_holds_chats_and_drains_at_hang_up(browser, pbx_server, fake_ami):
    """The issue's proof: a queue call rings an agent linked to an extension -> the screen-pop
    shows the right contact on their inbox and no new chat reaches them during the call;
    hang-up -> the waiting chat goes to them at once; going offline pauses their queue members."""
    from app.dispatch.assignment import queue_conversation
    from app.domain import sql
    from app.domain.phone import get_phone, link_extension
    from app.telephony import pbx
    from tests.dispatch.factories import make_channel, make_conversation
    from tests.factories import make_department
    from tests.telephony.test_agent_phone import hangup_events, ringing_events
    from tests.telephony.test_console_calls import CALLER, first, retag

    company = run(make_company("Voice Co"))
    admin = run(make_user(company, "admin"))
    dep = run(make_department(company, "Sales"))
    agent = run(make_user(company, "agent", name="Bob Agent", presence="online", capacity=2, departments=[dep]))
    run(
        pbx.create_extension(
            admin, {"number": "1002", "name": "Bob", "codecs": ["ulaw"]}, context=f"sb{company.id}-internal"
        )
    )
    ext = run(sql.fetchval("SELECT id FROM pbx_object WHERE name = '1002'"))
    run(link_extension(admin, agent.id, ext))  # as the user form does
    contact = run(
        sql.fetchval(
            "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33612345678', 'Alice Martin') RETURNING id",
            company.id,
        )
    )
    channel = run(make_channel(company, department=dep))
    _wait_connected()
    free = retag(first("real_event_DeviceStateChange.txt", Device="PJSIP/1001"), Device="PJSIP/1002")
    fake_ami.call(fake_ami.ami.push(free))
    context, page = _page(browser, pbx_server)
    try:
        browser_login(page, agent.email, PASSWORD)
        page.goto("/inbox")
        page.wait_for_timeout(500)  # the event stream opens
        _wait_phone(agent, "idle")
        events = [
            retag(b, CallerIDNum="0612345678") if CALLER in b and "CallerIDNum: 1001" in b else b
            for b in ringing_events()
        ]
        fake_ami.call(fake_ami.ami.push(*events))
        pop = page.locator("#screen-pop")
        expect(pop).to_contain_text("Alice Martin")
        expect(page.locator("#my-phone")).to_contain_text("Phone ringing")
        screenshot(page, "voice-screen-pop-1280")
        page.set_viewport_size({"width": 390, "height": 800})
        expect(pop).to_be_visible()
        screenshot(page, "voice-screen-pop-390")
        page.set_viewport_size({"width": 1280, "height": 900})

        # A customer writes while the phone rings: the chat waits, it does not go to Bob.
        waiting = run(make_conversation(company, channel, status="bot", department=dep, contact_id=contact))
        run(queue_conversation(company.id, waiting, dep.id))
        page.wait_for_timeout(700)
        assert run(sql.fetchval("SELECT status FROM conversation WHERE id = $1", waiting)) == "queued"

        fake_ami.call(fake_ami.ami.push(*hangup_events()))
        expect(pop).not_to_contain_text("Alice Martin")
        deadline = time.monotonic() + 10
        while run(sql.fetchval("SELECT assigned_user_id FROM conversation WHERE id = $1", waiting)) != agent.id:
            assert time.monotonic() < deadline, "the queued chat did not reach the agent after the call"
            time.sleep(0.05)
        expect(page.locator("#count-mine")).to_have_text("1")

        page.locator("#presence-switch button[data-presence=offline]").click()
        deadline = time.monotonic() + 10
        while not [
            a
            for a in fake_ami.ami.actions_named("QueuePause")
            if a.get("Interface") == "PJSIP/1002" and a.get("Paused") == "true"
        ]:
            assert time.monotonic() < deadline, "going offline sent no QueuePause"
            time.sleep(0.05)
        assert run(get_phone(company.id, agent.id)) is not None
    finally:
        context.close()


def _wait_phone(agent, state, timeout=10):
    from app.domain.phone import get_phone

    deadline = time.monotonic() + timeout
    phone = None
    while time.monotonic() < deadline:
        phone = run(get_phone(agent.company_id, agent.id))
        if phone and phone["state"] == state:
            return phone
        time.sleep(0.05)
    raise AssertionError(f"phone not {state}: {phone}")


def test_voice_settings_wallboard_and_call_metrics_pages(browser, pbx_server, fake_ami):
    """The screens this issue adds or changes, at 1280 and 390 px."""
    from app.domain import sql
    from tests.factories import make_department

    company = run(make_company("Voice Admin Co"))
    admin = run(make_user(company, "admin"))
    dep = run(make_department(company, "Sales"))
    agent = run(make_user(company, "agent", name="Bea Agent", presence="online", departments=[dep]))
    ext = run(
        sql.fetchval(
            "INSERT INTO pbx_object (company_id, kind, name, label) VALUES ($1, 'extension', '4301', 'Bea') RETURNING id",
            company.id,
        )
    )
    run(sql.execute("INSERT INTO pbx_object (company_id, kind, name) VALUES ($1, 'queue', 'q43')", company.id))
    context, page = _page(browser, pbx_server)
    try:
        browser_login(page, admin.email, PASSWORD)
        page.goto(f"/admin/users/{agent.id}/edit")
        page.select_option("select[name=extension_id]", str(ext))
        page.click("form.form button[type=submit]")
        assert run(sql.fetchval("SELECT extension_id FROM agent_extension WHERE user_id = $1", agent.id)) == ext
        # The phone is paused from the phone itself (QueueMemberPause, a real capture re-addressed).
        from tests.telephony.fake_ami import blocks as ami_blocks
        from tests.telephony.test_console_calls import retag

        _wait_connected()
        pause = retag(
            ami_blocks("real_event_QueueMemberPause.txt")[0],
            Queue="q43",
            Interface="PJSIP/4301",
            StateInterface="PJSIP/4301",
            MemberName="Bea",
        )
        fake_ami.call(fake_ami.ami.push(pause))
        deadline = time.monotonic() + 10
        while not (run(sql.fetchval("SELECT paused FROM agent_phone WHERE user_id = $1", agent.id))):
            assert time.monotonic() < deadline, "the pause did not reach the agent's phone state"
            time.sleep(0.05)
        page.goto("/admin/pbx/voice")
        page.check("input[name=during_call][value=fewer]")
        page.fill("input[name=capacity_cut]", "2")
        page.click("form.form button[type=submit]")
        expect(page.locator("input[name=during_call][value=fewer]")).to_be_checked()
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto("/admin/pbx/voice")
            screenshot(page, f"voice-settings-{width}")
            page.goto("/supervisor")
            expect(page.locator("#wb-call-queue-q43")).to_be_visible()
            expect(page.locator(f"#wb-agent-{agent.id} .wb-phone")).to_contain_text("lunch")
            screenshot(page, f"voice-wallboard-{width}")
            page.goto("/metrics/calls")
            expect(page.locator("#call-metrics")).to_contain_text("Bea Agent")
            screenshot(page, f"voice-call-metrics-{width}")
    finally:
        context.close()
