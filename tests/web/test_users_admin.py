"""Admin pages for users: roles, company scoping, validation, lock-out protection."""

import pytest

from app.domain.tables import User, UserDepartment
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form

NEW_USER = {
    "name": "Nina Agent",
    "email": "nina@example.test",
    "role": "agent",
    "capacity": "4",
    "language": "fr",
    "password": "a-very-long-password",
}


@pytest.fixture
async def admin_client(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    client.company, client.admin = company, admin
    return client


async def test_list_shows_only_own_company(admin_client):
    other = await make_company()
    await make_user(other, name="Stranger Danger")
    mine = await make_user(admin_client.company, name="Colleague Carl")
    page = await admin_client.get("/admin/users")
    assert page.status_code == 200
    assert "Colleague Carl" in page.text and "Stranger Danger" not in page.text
    assert f'id="user-{mine.id}"' in page.text


async def test_search_and_pagination(admin_client):
    for n in range(55):
        await make_user(admin_client.company, name=f"Bulk {n:02d}")
    first = await admin_client.get("/admin/users")
    assert "Page 1 of 2" in first.text
    found = await admin_client.get("/admin/users", params={"q": "Bulk 07"})
    assert "Bulk 07" in found.text and "Bulk 08" not in found.text
    bad = await admin_client.get("/admin/users", params={"page": "zero"})
    assert bad.status_code == 400


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_non_admins_cannot_reach_user_admin(client, role):
    company = await make_company()
    user = await make_user(company, role)
    await login(client, user.email)
    assert (await client.get("/admin/users")).status_code == 403
    response = await post_form(client, "/admin/users", NEW_USER)
    assert response.status_code == 403
    assert await User.count().where(User.email == NEW_USER["email"]) == 0


async def test_create_user_with_departments(admin_client):
    dep = await make_department(admin_client.company)
    response = await post_form(admin_client, "/admin/users", {**NEW_USER, "department_ids": [str(dep.id)]})
    assert response.status_code == 303
    user = await User.objects().where(User.email == "nina@example.test").first()
    assert (user.company_id, user.role, user.capacity, user.language) == (admin_client.company.id, "agent", 4, "fr")
    assert user.password_hash.startswith("$argon2id$")
    assert await UserDepartment.count().where(UserDepartment.user_id == user.id) == 1
    listing = await admin_client.get("/admin/users")
    assert "Nina Agent can now log in." in listing.text


async def test_create_user_bad_input_rerenders_with_field_errors(admin_client):
    response = await post_form(
        admin_client,
        "/admin/users",
        {"name": "", "email": "not-an-email", "role": "overlord", "capacity": "-3", "password": "short"},
    )
    assert response.status_code == 400
    text = response.text
    for message in (
        "This field is required.",
        "Enter a valid e-mail address.",
        "Choose one of the options.",
        "Enter a number from 0 to 100.",
        "Use at least 12 characters.",
    ):
        assert message in text
    assert 'value="not-an-email"' in text  # what was typed is kept
    assert "short" not in text  # never echo a password
    assert await User.count() == 1


async def test_duplicate_email_is_a_field_error(admin_client):
    await post_form(admin_client, "/admin/users", NEW_USER)
    again = await post_form(admin_client, "/admin/users", {**NEW_USER, "email": "NINA@example.test"})
    assert again.status_code == 400 and "already exists" in again.text


async def test_other_company_department_cannot_be_assigned(admin_client):
    foreign = await make_department(await make_company())
    response = await post_form(admin_client, "/admin/users", {**NEW_USER, "department_ids": [str(foreign.id)]})
    assert response.status_code == 400 and "Choose from the list." in response.text


async def test_other_company_user_is_404_everywhere(admin_client):
    stranger = await make_user(await make_company(), name="Stranger")
    assert (await admin_client.get(f"/admin/users/{stranger.id}/edit")).status_code == 404
    assert (await post_form(admin_client, f"/admin/users/{stranger.id}", {**NEW_USER})).status_code == 404
    assert (await post_form(admin_client, f"/admin/users/{stranger.id}/deactivate")).status_code == 404
    unchanged = await User.objects().where(User.id == stranger.id).first()
    assert unchanged.active and unchanged.name == "Stranger"


async def test_edit_user_keeps_password_when_empty(admin_client):
    agent = await make_user(admin_client.company)
    old_hash = agent.password_hash
    data = {**NEW_USER, "email": agent.email, "password": "", "name": "Renamed", "role": "supervisor"}
    response = await post_form(admin_client, f"/admin/users/{agent.id}", data)
    assert response.status_code == 303
    saved = await User.objects().where(User.id == agent.id).first()
    assert (saved.name, saved.role, saved.password_hash) == ("Renamed", "supervisor", old_hash)


async def test_admin_cannot_lock_themselves_out(admin_client):
    me = admin_client.admin
    demote = await post_form(
        admin_client, f"/admin/users/{me.id}", {**NEW_USER, "email": me.email, "role": "agent", "password": ""}
    )
    assert demote.status_code == 400 and "own role" in demote.text
    deactivate = await post_form(admin_client, f"/admin/users/{me.id}/deactivate")
    assert deactivate.status_code == 403
    assert (await User.objects().where(User.id == me.id).first()).active


async def test_reactivate(admin_client):
    agent = await make_user(admin_client.company, active=False)
    response = await post_form(admin_client, f"/admin/users/{agent.id}/activate")
    assert response.status_code == 303
    assert (await User.objects().where(User.id == agent.id).first()).active


async def test_customer_controlled_text_is_escaped(admin_client):
    await make_user(admin_client.company, name="<script>alert(1)</script>")
    page = await admin_client.get("/admin/users")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_missing_csrf_on_admin_form_is_refused(admin_client):
    response = await admin_client.post("/admin/users", data=NEW_USER)
    assert response.status_code == 403
    assert await User.count().where(User.email == NEW_USER["email"]) == 0


async def test_oversized_form_is_413_not_500(admin_client):
    response = await post_form(admin_client, "/admin/users", {**NEW_USER, "name": "x" * 1_200_000})
    assert response.status_code == 413


async def test_unknown_and_malformed_ids(admin_client):
    assert (await admin_client.get("/admin/users/999999/edit")).status_code == 404
    assert (await admin_client.get("/admin/users/abc/edit")).status_code == 404
    assert (await post_form(admin_client, "/admin/users/99999999999999999999/deactivate")).status_code in (400, 404)
