"""The Orders page, the customer panel, order settings, API keys and webhooks admin: roles,
CSRF, bad input, other companies' ids, escaping, secrets shown once."""

import re

from app.domain import sql
from app.domain.api_keys import find_api_key
from app.domain.integrations import create_endpoint
from app.domain.orders import create_order
from tests.api.conftest import make_shop
from tests.factories import make_user
from tests.helpers import csrf, login, post_form

ITEMS = [{"name": "<script>alert(1)</script>", "price": "5.00", "quantity": 1}]


async def test_orders_page_for_staff_with_escaping_and_hand_decisions(client, app):
    shop = await make_shop()
    other = await make_shop("Other")
    order, _ = await create_order(shop.company.id, {"phone": "+33612345678", "name": "<b>Zoé</b>", "items": ITEMS})
    theirs, _ = await create_order(
        other.company.id, {"phone": "+33612345678", "name": "Other customer", "items": ITEMS}
    )
    agent = await make_user(shop.company, "agent")
    assert (await client.get("/orders")).status_code in (302, 303, 307)  # not logged in: to the login page
    await login(client, agent.email)
    page = await client.get("/orders")
    assert page.status_code == 200
    assert "&lt;b&gt;Zoé&lt;/b&gt;" in page.text and "<b>Zoé</b>" not in page.text
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    assert "Other customer" not in page.text and f'id="order-{order["id"]}"' in page.text
    assert (await client.get("/orders?status=bogus&before=x")).status_code == 400
    assert not re.search(r'id="order-\d', (await client.get("/orders?status=confirmed")).text)

    # Deciding by hand needs CSRF, a pending order of one's own company, a known decision.
    r = await client.post(f"/orders/{order['id']}/decision", data={"decision": "confirm"})
    assert r.status_code == 403
    assert (await post_form(client, f"/orders/{theirs['id']}/decision", {"decision": "confirm"})).status_code == 404
    assert (await post_form(client, f"/orders/{order['id']}/decision", {"decision": "maybe"})).status_code == 400
    assert (await post_form(client, "/orders/99999999999/decision", {"decision": "confirm"})).status_code in (400, 404)
    r = await post_form(client, f"/orders/{order['id']}/decision", {"decision": "cancel", "next": "//evil.example"})
    assert r.status_code == 303 and r.headers["location"] == "/orders"
    assert await sql.fetchval("SELECT status FROM shop_order WHERE id = $1", order["id"]) == "cancelled"
    assert await sql.fetchval("SELECT status FROM shop_order WHERE id = $1", theirs["id"]) == "pending"
    audit = await sql.fetchrow("SELECT action, actor_user_id FROM audit_event WHERE action LIKE 'order.%'")
    assert (audit["action"], audit["actor_user_id"]) == ("order.cancelled", agent.id)

    second, _ = await create_order(shop.company.id, {"phone": "+33612345679", "items": ITEMS})
    r = await client.post(
        f"/orders/{second['id']}/decision",
        data={"decision": "confirm"},
        headers={"hx-request": "true", "x-csrftoken": csrf(client)},
    )
    assert (
        r.status_code == 200
        and r.text.startswith(f'<tr id="order-{second["id"]}"')
        and 'data-status="confirmed"' in r.text
    )

    panel = await client.get(f"/orders/customer/{order['contact_id']}")
    assert panel.status_code == 200 and f'data-order-id="{order["id"]}"' in panel.text
    assert (await client.get(f"/orders/customer/{theirs['contact_id']}")).status_code == 404
    assert (await client.get("/orders/customer/99999999999")).status_code in (400, 404)


async def test_order_settings_admin_only(client, app):
    shop = await make_shop()
    sup = await make_user(shop.company, "supervisor")
    admin = await make_user(shop.company, "admin")
    await login(client, sup.email)
    assert (await client.get("/admin/orders")).status_code == 403
    assert (await post_form(client, "/admin/orders", {"confirm_words": "x"})).status_code == 403
    client.cookies.clear()
    await login(client, admin.email)
    page = await client.get("/admin/orders")
    assert page.status_code == 200 and "je confirme" in page.text
    r = await post_form(client, "/admin/orders", {"confirm_words": "oui\nvalidé", "cancel_words": "Oui"})
    assert r.status_code == 400 and "field-error" in r.text
    r = await post_form(
        client, "/admin/orders", {"confirm_words": "oui\nvalidé", "cancel_words": "non", "request_text": "Hi {name}"}
    )
    assert r.status_code == 303
    assert (
        await sql.fetchval("SELECT confirm_words FROM order_settings WHERE company_id = $1", shop.company.id)
        == "oui\nvalidé"
    )


async def test_api_keys_admin_shows_the_key_once_and_revokes(client, app):
    shop = await make_shop()
    other = await make_shop("Other")
    admin = await make_user(shop.company, "admin")
    sup = await make_user(shop.company, "supervisor")
    await login(client, sup.email)
    assert (await client.get("/admin/api-keys")).status_code == 403
    client.cookies.clear()
    await login(client, admin.email)
    r = await client.post("/admin/api-keys", data={"name": "Shop", "scope_orders": "1"})
    assert r.status_code == 403  # no CSRF token
    r = await post_form(client, "/admin/api-keys", {"name": "", "rate_limit": "abc"})
    assert r.status_code == 400 and r.text.count("field-error") == 3
    r = await post_form(
        client,
        "/admin/api-keys",
        {"name": "Boutique <i>en ligne</i>", "scope_orders": "1", "scope_read": "1", "rate_limit": "30"},
    )
    assert r.status_code == 201
    key = re.search(r'id="api-key-secret">([^<]+)<', r.text).group(1)
    found = await find_api_key(key)
    assert found is not None and found.scopes == ("read", "orders") and found.rate_limit == 30
    assert "&lt;i&gt;en ligne" in r.text
    listing = await client.get("/admin/api-keys")
    assert key not in listing.text and f"sbk_{found.prefix}_" in listing.text
    assert (await client.get("/admin/api-keys?page=zz")).status_code == 400
    their_key = await sql.fetchval("SELECT id FROM api_key WHERE company_id = $1 LIMIT 1", other.company.id)
    assert (await post_form(client, f"/admin/api-keys/{their_key}/revoke")).status_code == 404
    assert (await post_form(client, f"/admin/api-keys/{found.id}/revoke")).status_code == 303
    assert await find_api_key(key) is None
    assert await sql.fetchval("SELECT revoked_at IS NULL FROM api_key WHERE id = $1", their_key)
    # Pages of 25.
    for n in range(26):
        await post_form(client, "/admin/api-keys", {"name": f"k{n}", "scope_read": "1"})
    assert "Page 1 of 2" in (await client.get("/admin/api-keys")).text
    assert 'id="api-key-' in (await client.get("/admin/api-keys?page=2")).text


async def test_webhooks_admin_and_delivery_log(client, app):
    shop = await make_shop()
    other = await make_shop("Other")
    admin = await make_user(shop.company, "admin")
    theirs = await create_endpoint(other.company.id, {"url": "https://other.example/h", "events": ["order.created"]})
    await login(client, admin.email)
    assert (await client.get("/admin/webhooks")).status_code == 200
    r = await post_form(client, "/admin/webhooks", {"url": "javascript:alert(1)", "event_order.created": "1"})
    assert r.status_code == 400 and "http://" in r.text
    r = await post_form(client, "/admin/webhooks", {"url": "https://shop.example/hooks"})
    assert r.status_code == 400
    r = await post_form(
        client,
        "/admin/webhooks",
        {"url": "https://shop.example/hooks", "event_order.created": "1", "event_order.confirmed": "1"},
    )
    assert r.status_code == 201
    secret = re.search(r'id="webhook-secret">([^<]+)<', r.text).group(1)
    assert secret.startswith("whsec_") and secret not in (await client.get("/admin/webhooks")).text
    mine = await sql.fetchval("SELECT id FROM webhook_endpoint WHERE company_id = $1", shop.company.id)
    assert (await post_form(client, f"/admin/webhooks/{theirs.id}/active", {"active": "0"})).status_code == 404
    assert (await post_form(client, f"/admin/webhooks/{theirs.id}/delete")).status_code == 404
    assert (await post_form(client, f"/admin/webhooks/{mine}/active", {"active": "0"})).status_code == 303
    assert not await sql.fetchval("SELECT active FROM webhook_endpoint WHERE id = $1", mine)
    await sql.execute("UPDATE webhook_endpoint SET active = true WHERE id = $1", mine)

    await create_order(
        shop.company.id, {"phone": "+33612345678", "name": "<b>Zoé</b>", "items": [{"name": "A", "price": 1}]}
    )
    await create_order(other.company.id, {"phone": "+33612345678", "items": [{"name": "A", "price": 1}]})
    log = await client.get("/admin/webhooks/deliveries")
    assert log.status_code == 200 and log.text.count('id="delivery-') == 1 and "<b>Zoé" not in log.text
    assert (await client.get("/admin/webhooks/deliveries?status=failed")).text.count('id="delivery-') == 0
    assert (await client.get("/admin/webhooks/deliveries?before=zz")).status_code == 400
    delivery = await sql.fetchval("SELECT id FROM webhook_delivery WHERE company_id = $1", shop.company.id)
    theirs_d = await sql.fetchval("SELECT id FROM webhook_delivery WHERE company_id = $1", other.company.id)
    await sql.execute("UPDATE webhook_delivery SET status = 'failed', attempts = 12")
    assert (await post_form(client, f"/admin/webhooks/deliveries/{theirs_d}/replay")).status_code == 404
    assert (await post_form(client, f"/admin/webhooks/deliveries/{delivery}/replay")).status_code == 303
    assert await sql.fetchval("SELECT status FROM webhook_delivery WHERE id = $1", delivery) == "pending"
    assert await sql.fetchval("SELECT status FROM webhook_delivery WHERE id = $1", theirs_d) == "failed"
    assert (await post_form(client, f"/admin/webhooks/{mine}/delete")).status_code == 303
    assert await sql.fetchval("SELECT count(*) FROM webhook_endpoint WHERE company_id = $1", shop.company.id) == 0


async def test_admin_index_and_nav_link_the_pages(client, app):
    shop = await make_shop()
    admin = await make_user(shop.company, "admin")
    await login(client, admin.email)
    index = (await client.get("/admin")).text
    for href in ("/admin/api-keys", "/admin/webhooks", "/admin/orders"):
        assert f'href="{href}"' in index
    assert 'id="nav-orders"' in index
    assert csrf(client)


async def test_live_fragments_for_the_orders_page_and_the_customer_panel(app):
    from app.domain.events import OrderChanged
    from app.web.orders import render_live
    from app.web.templating import render_fragment

    shop = await make_shop()
    viewer = await make_user(shop.company, "agent")
    order, _ = await create_order(shop.company.id, {"phone": "+33612345678", "name": "<i>Zoé</i>", "items": ITEMS})
    new = await render_live(OrderChanged(shop.company.id, order["id"], order["contact_id"], created=True), viewer)
    assert [m.event for m in new] == ["order-new", "order-counts", f"order-contact-{order['contact_id']}"]
    assert new[0].data.startswith(f'<tr id="order-{order["id"]}" sse-swap="order-{order["id"]}"')
    assert "&lt;i&gt;Zoé" in new[0].data and "csrf" not in new[0].data
    assert 'id="orders-pending">1<' in new[1].data
    changed = await render_live(OrderChanged(shop.company.id, order["id"], order["contact_id"]), viewer)
    assert changed[0].event == f"order-{order['id']}"
    panel = render_fragment("orders/_customer_orders.html", contact_id=order["contact_id"])
    assert f'hx-get="/orders/customer/{order["contact_id"]}"' in panel
    assert f"sse:order-contact-{order['contact_id']}" in panel
