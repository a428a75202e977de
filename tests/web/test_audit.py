"""The audit log: what each audited action writes, the admin page's rules, and immutability."""

from __future__ import annotations

import asyncpg
import pytest

from app.domain import sql
from tests.factories import make_company, make_user
from tests.helpers import login, post_form


async def _events(company_id: int, action: str | None = None) -> list:
    rows = await sql.fetch(
        "SELECT * FROM audit_event WHERE company_id = $1 AND ($2::text IS NULL OR action = $2) ORDER BY id",
        company_id,
        action,
    )
    return list(rows)


@pytest.fixture
async def admin_client(client):
    company = await make_company()
    admin = await make_user(company, "admin", name="Ada Admin")
    await login(client, admin.email)
    client.company, client.admin = company, admin
    return client


async def test_login_success_failure_and_logout_are_recorded(client):
    company = await make_company()
    user = await make_user(company, "agent", name="Alice")
    await client.get("/login")
    bad = await post_form(client, "/login", {"email": user.email, "password": "wrong"})
    assert bad.status_code == 400
    await post_form(client, "/login", {"email": "ghost@example.test", "password": "wrong"})
    await login(client, user.email)
    await post_form(client, "/logout")
    rows = await _events(company.id)
    assert [r["action"] for r in rows] == ["login.failed", "login.succeeded", "logout"]
    failed, ok, out = rows
    assert failed["actor_user_id"] is None and failed["actor_label"] == user.email
    assert failed["target_id"] == str(user.id) and failed["actor_address"]
    assert ok["actor_user_id"] == user.id and out["actor_user_id"] == user.id
    # The unknown e-mail belongs to no company: not in the audit (only in login_failure).
    assert await sql.fetchval("SELECT count(*) FROM audit_event") == 3


async def test_user_create_update_role_change_and_deactivation(admin_client):
    company, admin = admin_client.company, admin_client.admin
    response = await post_form(
        admin_client,
        "/admin/users",
        {
            "name": "Nina",
            "email": "nina@example.test",
            "role": "agent",
            "capacity": "4",
            "password": "a-very-long-password",
        },
    )
    assert response.status_code == 303
    created = (await _events(company.id, "user.created"))[0]
    nina_id = int(created["target_id"])
    assert created["actor_user_id"] == admin.id and '"role": "agent"' in created["after"]
    assert "password" not in created["after"]
    await post_form(
        admin_client,
        f"/admin/users/{nina_id}",
        {
            "name": "Nina",
            "email": "nina@example.test",
            "role": "supervisor",
            "capacity": "4",
        },
    )
    updated = (await _events(company.id, "user.updated"))[0]
    assert updated["before"] == '{"role": "agent"}' and updated["after"] == '{"role": "supervisor"}'
    await post_form(admin_client, f"/admin/users/{nina_id}/deactivate")
    await post_form(admin_client, f"/admin/users/{nina_id}/activate")
    actions = [r["action"] for r in await _events(company.id)]
    assert actions[-2:] == ["user.deactivated", "user.activated"]


async def test_department_create_update_delete(admin_client):
    company = admin_client.company
    await post_form(admin_client, "/admin/departments", {"name": "Sales", "code": "SALES", "colour": "#112233"})
    dep_id = int((await _events(company.id, "department.created"))[0]["target_id"])
    await post_form(
        admin_client, f"/admin/departments/{dep_id}", {"name": "Sales EU", "code": "SALES", "colour": "#112233"}
    )
    updated = (await _events(company.id, "department.updated"))[0]
    assert updated["before"] == '{"name": "Sales"}' and updated["after"] == '{"name": "Sales EU"}'
    await post_form(admin_client, f"/admin/departments/{dep_id}/delete")
    deleted = (await _events(company.id, "department.deleted"))[0]
    assert deleted["target_label"] == "Sales EU" and deleted["after"] is None


async def test_rows_cannot_be_changed_or_deleted(admin_client):
    await post_form(admin_client, "/admin/departments", {"name": "Audit me", "code": "AUD", "colour": "#112233"})
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await sql.execute("UPDATE audit_event SET action = 'x'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await sql.execute("DELETE FROM audit_event")
    assert await sql.fetchval("SELECT count(*) FROM audit_event WHERE action = 'department.created'") == 1


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_admins_see_the_page(client, role):
    company = await make_company()
    user = await make_user(company, role)
    await login(client, user.email)
    assert (await client.get("/admin/audit")).status_code == 403


async def test_anonymous_is_sent_to_login(client):
    response = await client.get("/admin/audit")
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]


async def test_page_shows_own_company_only_and_searches(admin_client):
    other = await make_company()
    stranger = await make_user(other, "admin", name="Stranger")
    await sql.execute(
        "INSERT INTO audit_event (company_id, action, target_label) VALUES ($1, 'user.created', 'Secret Sam')",
        other.id,
    )
    await post_form(admin_client, "/admin/departments", {"name": "Support", "code": "SUP", "colour": "#112233"})
    page = await admin_client.get("/admin/audit")
    assert page.status_code == 200
    assert "department.created" in page.text and "Support" in page.text and "Ada Admin" in page.text
    assert "Secret Sam" not in page.text and stranger.email not in page.text
    found = await admin_client.get("/admin/audit", params={"action": "department"})
    assert "Support" in found.text and "login.succeeded" not in found.text
    found = await admin_client.get("/admin/audit", params={"q": "Support", "actor": "ada"})
    assert "department.created" in found.text
    none = await admin_client.get("/admin/audit", params={"q": "Secret Sam"})
    assert "user.created" not in none.text and "Nothing yet." in none.text
    dated = await admin_client.get("/admin/audit", params={"from": "2000-01-01", "to": "2000-01-02"})
    assert dated.status_code == 200 and "department.created" not in dated.text


async def test_keyset_pagination(admin_client):
    company = admin_client.company
    for n in range(60):
        await sql.execute(
            "INSERT INTO audit_event (company_id, action, target_label) VALUES ($1, 'test.done', $2)",
            company.id,
            f"Row {n:02d}",
        )
    first = await admin_client.get("/admin/audit", params={"action": "test.done"})
    assert "Row 59" in first.text and "Row 09" not in first.text and 'rel="next"' in first.text
    cursor = first.text.split('rel="next" href="/admin/audit?')[1].split('"')[0].replace("&amp;", "&")
    second = await admin_client.get("/admin/audit?" + cursor)
    assert "Row 09" in second.text and "Row 59" not in second.text and 'rel="next"' not in second.text


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"to": "2026-13-01"},
        {"from": "2026-02-02", "to": "2026-02-01"},
        {"q": "x" * 101},
        {"action": "a" * 500},
        {"cursor": "not-a-cursor"},
    ],
)
async def test_bad_input_is_refused(admin_client, params):
    response = await admin_client.get("/admin/audit", params=params)
    assert response.status_code == 400
    assert 'class="field-error"' in response.text


async def test_nav_link_for_admins_only(admin_client):
    assert 'href="/admin"' in (await admin_client.get("/")).text
    assert 'href="/admin/audit"' in (await admin_client.get("/admin")).text
