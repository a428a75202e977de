"""End to end: the shop creates an order by API → the Sandbox customer receives the request →
replies "Oui, je confirme" → the order is confirmed, the shop's webhook receiver gets exactly
one signed call, and the Orders page updated live (no reload)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from app.domain import sql
from app.domain.api_keys import create_api_key
from app.domain.channels import ensure_sandbox_channel
from app.domain.integrations import create_endpoint, verify
from tests.browser.conftest import browser_login, run, screenshot
from tests.conftest import free_port
from tests.factories import PASSWORD, make_company, make_user

pytestmark = pytest.mark.browser


class Receiver:
    """The integrator's webhook endpoint: a real HTTP server recording what it is sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/switchboard"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_order_confirmed_on_whatsapp_end_to_end(new_page, live_server, receiver):
    company = run(make_company("Boutique Lumière"))
    run(sql.execute("UPDATE company SET language = 'fr' WHERE id = $1", company.id))
    channel = run(ensure_sandbox_channel(company.id))
    admin = run(make_user(company, "admin", name="Ada Admin", email="ada@lumiere.test"))
    supervisor = run(make_user(company, "supervisor", name="Sam Superviseur"))
    _, key = run(create_api_key(company.id, {"name": "Shop", "scopes": ["orders"]}, user_id=None))
    endpoint = run(create_endpoint(company.id, {"url": receiver.url, "events": ["order.confirmed"]}))

    desk = new_page()
    browser_login(desk, supervisor.email, PASSWORD)
    desk.goto("/orders")
    expect(desk.locator("#orders-empty")).to_be_visible()
    desk.evaluate("document.querySelector('#main').dataset.mark = 'original'")
    desk.wait_for_timeout(500)  # let the event stream connect

    r = httpx.post(
        f"{live_server.url}/api/v1/orders",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "phone": "+33612345678",
            "name": "Zoé Martin",
            "external_id": "CMD-2042",
            "items": [{"name": "Lampe <Opaline>", "price": 39.9, "quantity": 2}, {"name": "Ampoule", "price": 4.5}],
        },
    )
    assert r.status_code == 201, r.text
    order = r.json()
    row = desk.locator(f"#order-{order['id']}")
    expect(row).to_contain_text("CMD-2042", timeout=5000)
    expect(row).to_contain_text("Lampe <Opaline>")
    expect(row.locator(".order-status")).to_have_attribute("data-status", "pending")
    expect(desk.locator("#orders-pending")).to_have_text("1")

    sim = new_page(width=900)
    browser_login(sim, admin.email, PASSWORD)
    sim.goto(f"/simulator?channel={channel.id}&phone=%2B33612345678&name=Zo%C3%A9")
    request = sim.locator(".thread.sim .msg-out").first
    expect(request).to_contain_text("merci de confirmer votre commande CMD-2042")
    expect(request).to_contain_text("84.30 EUR")
    sim.fill(".sim-compose input[name=text]", "Oui, je confirme")
    sim.click(".sim-compose button[type=submit]")

    expect(row.locator(".order-status")).to_have_attribute("data-status", "confirmed", timeout=8000)
    expect(row).to_contain_text("Oui, je confirme")
    expect(desk.locator("#orders-confirmed")).to_have_text("1")
    expect(desk.locator("#main[data-mark=original]")).to_have_count(1)  # live, not reloaded
    # The simulator's form reloads its page: the thanks may have left before its stream reconnected.
    sim.reload()
    expect(sim.locator(".thread.sim .msg-out").last).to_contain_text(
        "votre commande CMD-2042 est confirmée", timeout=5000
    )

    deadline = time.monotonic() + 10
    while not receiver.calls and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # a second call, if any, would arrive now
    assert len(receiver.calls) == 1
    headers, body = receiver.calls[0]
    assert verify(endpoint.secret, body, headers["x-switchboard-signature"])
    assert headers["x-switchboard-event"] == "order.confirmed"
    payload = httpx.Response(200, content=body).json()
    assert payload["data"]["id"] == order["id"] and payload["data"]["status"] == "confirmed"
    assert payload["data"]["reply_text"] == "Oui, je confirme"
    screenshot(desk, "orders-page")
    screenshot(sim, "orders-simulator")

    desk = sim  # the admin
    for path, name in (
        ("/admin/api-keys", "admin-api-keys"),
        ("/admin/webhooks", "admin-webhooks"),
        ("/admin/webhooks/deliveries", "admin-webhook-deliveries"),
        ("/admin/orders", "admin-order-settings"),
    ):
        desk.goto(path)
        expect(desk.locator("h1")).to_be_visible()
        screenshot(desk, name)
    expect(desk.locator("#main")).to_contain_text("je confirme")
    desk.goto("/admin/webhooks/deliveries")
    expect(desk.locator("tr[data-status=delivered]")).to_have_count(1)
