"""The agent workspace in Chromium: a customer writes through the Sandbox, the agent sees it
live in the inbox, answers with a quick reply and an attachment, the customer sees both with
their ticks; the agent transfers to another department, whose agent gets it live while it
leaves the first inbox; the second agent resolves and the closing message reaches the customer."""

import re
import struct
import zlib

import pytest
from playwright.sync_api import expect

from app.domain import sql
from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser


def png(width: int = 48, height: int = 32) -> bytes:
    """A small valid PNG (a blue rectangle)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x25\x63\xeb" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def go_online(page) -> None:
    page.click("#presence-switch button[value=online]")
    expect(page.locator("#presence-switch button[value=online]")).to_have_attribute("aria-pressed", "true")


def test_inbox_round_trip(new_page):
    company = run(make_company("Inbox Co"))
    sales = run(make_department(company, "Sales", code="SAL"))
    support = run(make_department(company, "Support", code="SUP"))
    channel_id = run(make_channel(company, department=sales))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    anna = run(make_user(company, "agent", name="Anna", departments=[sales]))
    bruno = run(make_user(company, "agent", name="Bruno", departments=[support]))
    run(
        sql.execute(
            "INSERT INTO quick_reply (company_id, shortcut, text) VALUES ($1, 'thanks', $2)",
            company.id,
            "Thank you for writing, we are looking into it.",
        )
    )

    desk = new_page()
    browser_login(desk, anna.email, PASSWORD)
    go_online(desk)
    desk.goto("/inbox")
    expect(desk.locator("#nav-inbox")).to_have_attribute("aria-current", "page")
    desk.evaluate("document.querySelector('#main').dataset.mark = 'original'")
    other = new_page()
    browser_login(other, bruno.email, PASSWORD)
    go_online(other)
    other.goto("/inbox")
    other.evaluate("document.querySelector('#main').dataset.mark = 'original'")
    desk.wait_for_timeout(500)  # let both event streams connect

    sim = new_page(width=900)
    browser_login(sim, admin.email, PASSWORD)
    sim.goto(f"/simulator?channel={channel_id}&phone=%2B15550100077&name=Zoe")
    sim.fill(".sim-compose input[name=text]", "Hello, my <b>order</b> is late")
    sim.click(".sim-compose button[type=submit]")
    expect(sim.locator(".thread.sim .msg-in")).to_contain_text("Hello, my <b>order</b> is late")
    sim.evaluate("document.querySelector('#main').dataset.mark = 'sim'")

    # Live in Anna's Mine, with its unread count in the row and in the title; no reload.
    row = desk.locator("#inbox-rows .inbox-row", has_text="Zoe")
    expect(row).to_have_count(1, timeout=10_000)
    expect(row.locator(".unread")).to_have_text("1")
    expect(desk).to_have_title(re.compile(r"^\(1\) "))
    expect(desk.locator("#main[data-mark=original]")).to_have_count(1)
    screenshot(desk, "inbox-new-conversation")

    row.locator(".inbox-row-link").click()
    thread = desk.locator(".inbox-thread")
    expect(thread.locator(".msg-in")).to_contain_text("Hello, my <b>order</b> is late")
    expect(desk).not_to_have_title(re.compile(r"^\(\d+\) "))
    conversation_id = desk.locator("#inbox-pane").get_attribute("data-conversation")
    assert desk.url.endswith(f"/inbox/{conversation_id}")

    # A quick reply through /shortcut, then a file with a caption, each sent with Enter.
    box = desk.locator("#composer-text")
    box.fill("")
    box.type("/than")
    expect(desk.locator("#qr-suggest li")).to_have_count(1)
    box.press("Enter")
    expect(box).to_have_value("Thank you for writing, we are looking into it.")
    expect(desk.locator("#composer-count")).to_have_text(
        f"{len('Thank you for writing, we are looking into it.')} / 4096"
    )
    box.press("Enter")
    expect(thread.locator(".msg-out", has_text="Thank you for writing")).to_have_count(1)
    expect(box).to_have_value("")
    desk.set_input_files(".attach-input", files=[{"name": "form.png", "mimeType": "image/png", "buffer": png()}])
    box.fill("Here is the form")
    box.press("Shift+Enter")
    box.type("line two")
    expect(box).to_have_value("Here is the form\nline two")
    box.press("Enter")
    sent = thread.locator(".msg-out", has_text="line two")
    expect(sent).to_have_count(1)
    expect(sent.locator("img.msg-image")).to_have_count(1)
    expect(thread.locator(".msg-out .msg-author", has_text="Anna").first).to_be_visible()

    # The customer gets both, with ticks; the agent's ticks follow live.
    for text in ("Thank you for writing", "line two"):
        bubble = sim.locator(".thread.sim .msg-out", has_text=text)
        expect(bubble.locator(".ticks")).to_have_attribute("data-status", "delivered", timeout=10_000)
    expect(sim.locator(".thread.sim .msg-out img.msg-image")).to_have_count(1)
    expect(sim.locator("#main[data-mark=sim]")).to_have_count(1)
    expect(sent.locator(".ticks")).to_have_attribute("data-status", "delivered", timeout=10_000)

    # An internal note: shown to staff, never to the customer.
    desk.click(".composer-modes [data-mode=note]")
    desk.fill("#note-text", "Customer asked twice already")
    desk.press("#note-text", "Enter")
    expect(
        thread.locator(".note:not(.is-temp)", has_text="Customer asked twice already").locator(".note-label")
    ).to_contain_text("Anna")
    screenshot(desk, "inbox-conversation")

    # The customer writes again while Anna reads: the row moves up, no unread piles up.
    sim.fill(".sim-compose input[name=text]", "Thanks!")
    sim.click(".sim-compose button[type=submit]")
    expect(sim.locator(".thread.sim .msg-in", has_text="Thanks!")).to_have_count(1)
    expect(thread.locator(".msg-in", has_text="Thanks!")).to_have_count(1, timeout=10_000)
    expect(desk.locator(f"#inbox-row-{conversation_id} .unread")).to_be_hidden()

    # Keyboard: / searches, Esc leaves the field, r replies, n writes a note.
    desk.locator("#inbox-search").focus()
    desk.keyboard.press("Escape")
    desk.keyboard.press("/")
    expect(desk.locator("#inbox-search")).to_be_focused()
    desk.keyboard.press("Escape")
    desk.keyboard.press("r")
    expect(desk.locator("#composer-text")).to_be_focused()
    desk.keyboard.press("Escape")
    desk.keyboard.press("n")
    expect(desk.locator("#note-text")).to_be_focused()
    desk.keyboard.press("Escape")

    # Transfer to Support: it leaves Anna's inbox and reaches Bruno's, live.
    desk.click("#action-transfer")
    desk.select_option(".transfer-form select[name=target]", f"department-{support.id}")
    desk.fill(".transfer-form textarea[name=note]", "Billing, not sales")
    desk.click(".transfer-form button[type=submit]")
    expect(desk.locator("#inbox-pane")).to_contain_text("no longer yours")
    expect(desk.locator(f"#inbox-row-{conversation_id}")).to_have_count(0, timeout=10_000)
    bruno_row = other.locator(f"#inbox-row-{conversation_id}")
    expect(bruno_row).to_have_count(1, timeout=10_000)
    expect(other.locator("#main[data-mark=original]")).to_have_count(1)
    bruno_row.locator(".inbox-row-link").click()
    expect(other.locator(".inbox-thread .sys-event", has_text="Transferred to Support")).to_have_count(1)
    expect(other.locator(".inbox-thread")).to_contain_text("Billing, not sales")

    # Phone width: one pane at a time, the presence switch still there.
    other.set_viewport_size({"width": 390, "height": 800})
    expect(other.locator(".inbox-list")).to_be_hidden()
    expect(other.locator("#presence-switch")).to_be_visible()
    screenshot(other, "inbox-phone-conversation")
    other.click(".inbox-back")
    expect(other.locator(".inbox-list")).to_be_visible()
    screenshot(other, "inbox-phone-list")
    other.set_viewport_size({"width": 1280, "height": 800})
    other.locator(f"#inbox-row-{conversation_id} .inbox-row-link").click()

    # Bruno resolves: the closing message is delivered to the customer.
    other.on("dialog", lambda dialog: dialog.accept())
    other.click("#action-resolve")
    expect(other.locator("#readonly-reason")).to_contain_text("resolved")
    closing = sim.locator(".thread.sim .msg-out", has_text="closed")
    expect(closing.locator(".ticks")).to_have_attribute("data-status", "delivered", timeout=10_000)
    expect(other.locator(f"#inbox-row-{conversation_id}")).to_have_count(0, timeout=10_000)
    screenshot(sim, "inbox-customer-side")
