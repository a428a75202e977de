"""Admin pages for departments."""

import pytest

from app.domain.tables import Department, UserDepartment
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form

VALID = {"name": "Billing", "code": "bill", "colour": "#AA3300", "response_timeout": "120", "menu_position": "3"}


@pytest.fixture
async def admin_client(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    client.company = company
    return client


async def test_create_list_edit_delete(admin_client):
    response = await post_form(admin_client, "/admin/departments", VALID)
    assert response.status_code == 303
    dep = await Department.objects().where(Department.name == "Billing").first()
    assert (dep.code, dep.colour, dep.response_timeout, dep.menu_position) == ("BILL", "#aa3300", 120, 3)
    assert "Billing" in (await admin_client.get("/admin/departments")).text

    edit = await post_form(admin_client, f"/admin/departments/{dep.id}", {**VALID, "name": "Invoices"})
    assert edit.status_code == 303
    assert (await Department.objects().where(Department.id == dep.id).first()).name == "Invoices"

    agent = await make_user(admin_client.company, departments=[dep])
    delete = await post_form(admin_client, f"/admin/departments/{dep.id}/delete")
    assert delete.status_code == 303
    assert await Department.count().where(Department.id == dep.id) == 0
    assert await UserDepartment.count().where(UserDepartment.user_id == agent.id) == 0


async def test_validation_errors(admin_client):
    bad = {"name": "", "code": "no spaces!", "colour": "red", "response_timeout": "5", "menu_position": "x"}
    response = await post_form(admin_client, "/admin/departments", bad)
    assert response.status_code == 400
    for message in (
        "This field is required.",
        "Use letters, digits, - and _ only.",
        "Use a colour such as",
        "Enter a number from 10 to 86400.",
        "Enter a whole number.",
    ):
        assert message in response.text
    assert await Department.count() == 0


async def test_duplicate_code_and_name(admin_client):
    await post_form(admin_client, "/admin/departments", VALID)
    same_code = await post_form(admin_client, "/admin/departments", {**VALID, "name": "Other"})
    assert same_code.status_code == 400 and "Another department already uses this code." in same_code.text
    same_name = await post_form(admin_client, "/admin/departments", {**VALID, "code": "OTHER", "name": "billing"})
    assert same_name.status_code == 400 and "Another department already uses this name." in same_name.text
    # the same code in another company is fine
    await make_department(await make_company(), code="BILL")


async def test_other_company_department_is_404(admin_client):
    foreign = await make_department(await make_company(), name="Foreign")
    assert (await admin_client.get(f"/admin/departments/{foreign.id}/edit")).status_code == 404
    assert (await post_form(admin_client, f"/admin/departments/{foreign.id}", VALID)).status_code == 404
    assert (await post_form(admin_client, f"/admin/departments/{foreign.id}/delete")).status_code == 404
    assert await Department.count().where(Department.id == foreign.id) == 1


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_roles(client, role):
    company = await make_company()
    user = await make_user(company, role)
    dep = await make_department(company)
    await login(client, user.email)
    assert (await client.get("/admin/departments")).status_code == 403
    assert (await post_form(client, "/admin/departments", VALID)).status_code == 403
    assert (await post_form(client, f"/admin/departments/{dep.id}/delete")).status_code == 403


async def test_csrf_required(admin_client):
    response = await admin_client.post("/admin/departments", data=VALID)
    assert response.status_code == 403
