"""Admin: quick replies per department or company-wide; searchable, paginated list; roles, CSRF, bad input."""

import re

import pytest

from app.domain import sql
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


@pytest.fixture
async def admin_setup(app):
    company = await make_company()
    sales = await make_department(company, "Sales")
    admin = await make_user(company, "admin")
    return company, sales, admin


async def test_create_edit_delete_and_audit(client, admin_setup):
    company, sales, admin = admin_setup
    await login(client, admin.email)
    assert "/admin/quick-replies" in (await client.get("/admin")).text
    created = await post_form(
        client, "/admin/quick-replies", {"shortcut": "/Hello", "text": "Hello <there>!", "department_id": ""}
    )
    assert created.status_code == 303
    page = await client.get("/admin/quick-replies")
    assert "/hello" in page.text and "Hello &lt;there&gt;!" in page.text and "Whole company" in page.text
    qr_id = int(re.search(r"/admin/quick-replies/(\d+)/edit", page.text).group(1))
    # Same shortcut in a department is allowed; twice in the same place is not.
    assert (
        await post_form(
            client, "/admin/quick-replies", {"shortcut": "hello", "text": "Sales hi", "department_id": str(sales.id)}
        )
    ).status_code == 303
    dup = await post_form(client, "/admin/quick-replies", {"shortcut": "HELLO", "text": "again", "department_id": ""})
    assert dup.status_code == 400 and "already used" in dup.text and 'aria-invalid="true"' in dup.text
    edited = await post_form(
        client, f"/admin/quick-replies/{qr_id}", {"shortcut": "hi", "text": "Hi!", "department_id": ""}
    )
    assert edited.status_code == 303
    assert await sql.fetchval("SELECT shortcut FROM quick_reply WHERE id = $1", qr_id) == "hi"
    assert (await post_form(client, f"/admin/quick-replies/{qr_id}/delete")).status_code == 303
    assert await sql.fetchval("SELECT count(*) FROM quick_reply WHERE id = $1", qr_id) == 0
    actions = [
        r["action"]
        for r in await sql.fetch("SELECT action FROM audit_event WHERE target_type = 'quick_reply' ORDER BY id")
    ]
    assert actions == ["quick_reply.created", "quick_reply.created", "quick_reply.updated", "quick_reply.deleted"]


async def test_list_is_searchable_and_paginated(client, admin_setup):
    company, sales, admin = admin_setup
    await sql.execute(
        "INSERT INTO quick_reply (company_id, shortcut, text) SELECT $1, 'r' || lpad(n::text, 3, '0'), 'Text ' || n FROM generate_series(1, 60) n",
        company.id,
    )
    await sql.execute(
        "INSERT INTO quick_reply (company_id, shortcut, text) VALUES ($1, 'refund', 'Our refund policy')", company.id
    )
    await login(client, admin.email)
    first = await client.get("/admin/quick-replies")
    assert first.text.count('id="quick-reply-') == 25 and "Page 1 of 3" in first.text
    last = await client.get("/admin/quick-replies?page=3")
    assert last.text.count('id="quick-reply-') == 11
    found = await client.get("/admin/quick-replies?q=refund")
    assert found.text.count('id="quick-reply-') == 1
    assert (await client.get("/admin/quick-replies?q=%25_")).text.count('id="quick-reply-') == 0
    for bad in ("page=abc", "page=-3", "page=99999999999999", "q=" + "x" * 200):
        assert (await client.get(f"/admin/quick-replies?{bad}")).status_code == 400, bad


async def test_roles_company_csrf_and_bad_input(client, admin_setup):
    company, sales, admin = admin_setup
    other_company = await make_company()
    foreign_dept = await make_department(other_company, "Elsewhere")
    foreign_id = await sql.fetchval(
        "INSERT INTO quick_reply (company_id, shortcut, text) VALUES ($1, 'secret', 'x') RETURNING id", other_company.id
    )
    for role in ("agent", "supervisor"):
        user = await make_user(company, role)
        await login(client, user.email)
        assert (await client.get("/admin/quick-replies")).status_code == 403
        assert (await post_form(client, "/admin/quick-replies", {"shortcut": "x", "text": "y"})).status_code == 403
    await login(client, admin.email)
    assert (await client.get(f"/admin/quick-replies/{foreign_id}/edit")).status_code == 404
    assert (
        await post_form(client, f"/admin/quick-replies/{foreign_id}", {"shortcut": "x", "text": "y"})
    ).status_code == 404
    assert (await post_form(client, f"/admin/quick-replies/{foreign_id}/delete")).status_code == 404
    assert (await client.get("/admin/quick-replies/99999999999/edit")).status_code == 404
    assert (await client.post("/admin/quick-replies", data={"shortcut": "x", "text": "y"})).status_code == 403
    for data, field in (
        ({"shortcut": "", "text": "y"}, "shortcut"),
        ({"shortcut": "two words", "text": "y"}, "shortcut"),
        ({"shortcut": "x" * 40, "text": "y"}, "shortcut"),
        ({"shortcut": "ok", "text": ""}, "text"),
        ({"shortcut": "ok", "text": "t" * 5000}, "text"),
        ({"shortcut": "ok", "text": "y", "department_id": "abc"}, "department_id"),
        ({"shortcut": "ok", "text": "y", "department_id": str(foreign_dept.id)}, "department_id"),
        ({"shortcut": "ok", "text": "y", "department_id": "99999999999"}, "department_id"),
    ):
        response = await post_form(client, "/admin/quick-replies", data)
        assert response.status_code == 400, data
        assert f'id="{field}-error"' in response.text, data
    assert await sql.fetchval("SELECT count(*) FROM quick_reply WHERE company_id = $1", company.id) == 0
