"""The channel page of a WAHA session that waits for a QR scan: the code is drawn on the page and,
once the phone has scanned it (the fake WAHA on 127.0.0.1 moves SCAN_QR_CODE → WORKING), the page
says so by itself. The wallboard's channel alert comes and goes with it."""

from __future__ import annotations

import json
import threading
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.domain.channels import create_channel
from tests.browser.conftest import browser_login, run, screenshot
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser
FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"


class FakeWaha(ThreadingHTTPServer):
    status = "SCAN_QR_CODE"
    qr = json.loads((FIX / "waha/qr_raw_response_docs.json").read_text())["value"]


class Handler(BaseHTTPRequestHandler):
    server: FakeWaha

    def do_GET(self) -> None:
        if self.path.startswith("/api/sessions/"):
            body = {"name": "default", "status": self.server.status}
        elif self.path.startswith("/api/default/auth/qr"):
            body = {"value": self.server.qr}
        else:
            body = {}
        data = json.dumps(body).encode()
        self.send_response(200 if body else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_waha():
    server = FakeWaha(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_qr_pairing_page_moves_to_working(new_page, fake_waha):
    company = run(make_company("Loja Azul"))
    admin = run(make_user(company, "admin"))
    url = f"http://127.0.0.1:{fake_waha.server_address[1]}"
    channel = run(
        create_channel(
            company.id,
            {
                "name": "Loja WAHA",
                "provider": "waha",
                "cred_base_url": url,
                "cred_session": "default",
                "webhook_secret": "whsec-0123456789abcdef",
            },
        )
    )
    page = new_page()
    browser_login(page, admin.email, PASSWORD)
    page.goto(f"/admin/channels/{channel.id}/edit")
    expect(page.locator("#channel-health [data-state]")).to_have_attribute("data-state", "pairing")
    expect(page.locator("#pairing-qr svg")).to_be_visible()
    screenshot(page, "channel-pairing-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "channel-pairing-390")
    page.set_viewport_size({"width": 1280, "height": 800})
    fake_waha.status = "WORKING"  # the phone scanned the code
    expect(page.locator("#channel-health [data-state]")).to_have_attribute("data-state", "working", timeout=10_000)
    expect(page.locator("#pairing-qr")).to_have_count(0)
    screenshot(page, "channel-working-1280")


async def _busy_then_silent(company) -> int:
    from datetime import datetime, timedelta

    from app.domain import sql

    channel = await create_channel(
        company.id,
        {
            "name": "Loja Whapi",
            "provider": "whapi",
            "cred_token": "t",
            "cred_api_base": "http://127.0.0.1:9",
            "webhook_secret": "whsec-0123456789abcdef",
        },
    )
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone) VALUES ($1, '+5511900000001') RETURNING id", company.id
    )
    conv = await sql.fetchval(
        "INSERT INTO conversation (company_id, channel_id, contact_id, status) "
        "VALUES ($1, $2, $3, 'resolved') RETURNING id",
        company.id,
        channel.id,
        contact,
    )
    now = datetime.now(UTC)
    for i in range(40):  # a message every 15 minutes for ten hours, then six hours of nothing
        await sql.execute(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text,
                                                  provider_message_id, status, created_at)
                             VALUES ($1, $2, $3, 'in', 'customer', 'text', 'oi', $4, 'received', $5)""",
            company.id,
            channel.id,
            conv,
            f"old-{i}",
            now - timedelta(hours=6, minutes=15 * i),
        )
    return channel.id


def test_wallboard_alerts_on_a_silent_channel(new_page):
    company = run(make_company("Loja Calada"))
    sue = run(make_user(company, "supervisor"))
    channel_id = run(_busy_then_silent(company))
    page = new_page()
    browser_login(page, sue.email, PASSWORD)
    page.goto("/supervisor")
    alert = page.locator(f".wb-alert-channel[data-channel='{channel_id}']")
    expect(alert).to_contain_text("Loja Whapi")
    expect(alert).to_contain_text("far longer than usual")
    screenshot(page, "wallboard-silent-channel")


class FakeWhapi(ThreadingHTTPServer):
    text = "QR"  # /health status.text: QR while it waits for a scan, AUTH once paired
    qr = "2@whapi-raw-qr-value,Zm9vYmFy,YmF6cXV4"


class WhapiHandler(BaseHTTPRequestHandler):
    server: FakeWhapi

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/health":
            body: dict = {"status": {"code": 3 if self.server.text == "QR" else 4, "text": self.server.text}}
        elif self.path.split("?")[0] == "/users/login":
            body = {"status": "OK", "rowdata": self.server.qr, "expire": 20}
        else:
            body = {}
        data = json.dumps(body).encode()
        self.send_response(200 if body else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def test_whapi_qr_pairing_page_moves_to_working(new_page):
    server = FakeWhapi(("127.0.0.1", 0), WhapiHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        company = run(make_company("Loja Roxa"))
        admin = run(make_user(company, "admin"))
        channel = run(
            create_channel(
                company.id,
                {
                    "name": "Loja Whapi",
                    "provider": "whapi",
                    "cred_token": "t",
                    "cred_api_base": f"http://127.0.0.1:{server.server_address[1]}",
                    "webhook_secret": "whsec-0123456789abcdef",
                },
            )
        )
        page = new_page()
        browser_login(page, admin.email, PASSWORD)
        page.goto(f"/admin/channels/{channel.id}/edit")
        expect(page.locator("#channel-health [data-state]")).to_have_attribute("data-state", "pairing")
        expect(page.locator("#pairing-qr svg")).to_be_visible()
        server.text = "AUTH"  # the phone scanned the code
        expect(page.locator("#channel-health [data-state]")).to_have_attribute("data-state", "working", timeout=10_000)
        expect(page.locator("#pairing-qr")).to_have_count(0)
    finally:
        server.shutdown()
