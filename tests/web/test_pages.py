"""Health, error pages and the JSON error shape."""

from tests.factories import make_company, make_user
from tests.helpers import login


async def test_health_reports_database_bus_and_version(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["bus"] == "connected" and body["version"]
    assert response.headers["x-request-id"]


async def test_request_id_is_kept_when_sane(client):
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    weird = await client.get("/health", headers={"X-Request-ID": "x" * 500})
    assert weird.headers["x-request-id"] != "x" * 500


async def test_html_404_and_api_json_404(client):
    company = await make_company()
    user = await make_user(company)
    await login(client, user.email)
    page = await client.get("/no/such/page")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "Not found" in page.text
    api = await client.get("/api/no-such-thing")
    assert api.status_code in (401, 404)
    assert api.headers["content-type"].startswith("application/json")
    assert api.json()["error"]["status"] == api.status_code


async def test_403_page_is_html(client):
    company = await make_company()
    agent = await make_user(company, "agent")
    await login(client, agent.email)
    page = await client.get("/admin/departments")
    assert page.status_code == 403 and "Not allowed" in page.text


async def test_method_not_allowed_is_not_a_500(client):
    response = await client.put("/login")
    assert response.status_code in (403, 405)


async def test_navigation_depends_on_role(client):
    company = await make_company()
    agent = await make_user(company, "agent")
    await login(client, agent.email)
    page = await client.get("/")
    assert 'href="/admin/users"' not in page.text
    assert 'id="presence-switch"' in page.text


async def test_static_assets_are_pinned_htmx_2(client):
    htmx = await client.get("/static/vendor/htmx-2.0.11.min.js")
    assert htmx.status_code == 200 and 'version:"2.0.11"' in htmx.text
    sse = await client.get("/static/vendor/htmx-ext-sse-2.2.4.min.js")
    assert sse.status_code == 200


async def test_admin_index_links_every_admin_screen_and_is_admin_only(client):
    from app.web.admin_index import ADMIN_LINKS

    company = await make_company()
    supervisor = await make_user(company, "supervisor")
    await login(client, supervisor.email)
    assert (await client.get("/admin")).status_code == 403
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    page = await client.get("/admin")
    assert page.status_code == 200
    for link in ADMIN_LINKS:
        assert f'href="{link.href}"' in page.text
        linked = await client.get(link.href)
        assert linked.status_code == 200, link.href
