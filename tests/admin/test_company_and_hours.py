"""Company settings and business hours pages: roles, validation, audit, department hours."""

import pytest

from app.domain import sql
from app.domain.business_hours import load_schedule
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


async def audit_rows(company_id, action):
    return await sql.fetch(
        "SELECT * FROM audit_event WHERE company_id = $1 AND action = $2 ORDER BY id", company_id, action
    )


async def test_company_settings_are_saved_and_audited(admin_client):
    page = await admin_client.get("/admin/company")
    assert page.status_code == 200 and 'value="Europe/Paris"' in page.text
    response = await post_form(
        admin_client, "/admin/company", {"name": "Dupont & Fils", "timezone": "America/Sao_Paulo", "language": "pt_BR"}
    )
    assert response.status_code == 303
    row = await sql.fetchrow("SELECT name, timezone, language FROM company WHERE id = $1", admin_client.company.id)
    assert tuple(row) == ("Dupont & Fils", "America/Sao_Paulo", "pt_BR")
    [audit] = await audit_rows(admin_client.company.id, "company.updated")
    assert audit["actor_user_id"] == admin_client.admin.id and audit["actor_address"] == "203.0.113.7"
    assert "America/Sao_Paulo" in audit["after"] and "UTC" in audit["before"]
    # the admin's interface follows the company's new language (the user chose none)
    assert 'lang="pt-BR"' in (await admin_client.get("/admin/company")).text


@pytest.mark.parametrize(
    "data,field",
    [
        ({"name": "", "timezone": "UTC", "language": "en"}, "name"),
        ({"name": "x" * 201, "timezone": "UTC", "language": "en"}, "name"),
        ({"name": "A", "timezone": "Mars/Olympus", "language": "en"}, "timezone"),
        ({"name": "A", "timezone": "../../etc/passwd", "language": "en"}, "timezone"),
        ({"name": "A", "timezone": "UTC", "language": "de"}, "language"),
        ({"name": "A\x00B", "timezone": "Europe/Paris" * 20, "language": "fr"}, "timezone"),
    ],
)
async def test_company_settings_bad_input_rerenders_the_form(admin_client, data, field):
    response = await post_form(admin_client, "/admin/company", data)
    assert response.status_code == 400 and f'id="{field}-error"' in response.text
    assert await sql.fetchval("SELECT timezone FROM company WHERE id = $1", admin_client.company.id) == "UTC"


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_admins_reach_company_and_hours(client, role):
    company = await make_company()
    user = await make_user(company, role)
    await login(client, user.email)
    for url in ("/admin/company", "/admin/business-hours"):
        assert (await client.get(url)).status_code == 403
        assert (
            await post_form(client, url, {"name": "Hacked", "timezone": "UTC", "language": "en", "day0": "09:00-10:00"})
        ).status_code == 403
    assert (await post_form(client, "/admin/business-hours/holidays", {"holidays": "2026-12-25 X"})).status_code == 403
    assert await sql.fetchval("SELECT name FROM company WHERE id = $1", company.id) != "Hacked"
    assert await sql.fetchval("SELECT count(*) FROM business_hours") == 0
    assert await sql.fetchval("SELECT count(*) FROM holiday") == 0


async def test_missing_csrf_is_refused(admin_client):
    for url, data in (
        ("/admin/company", {"name": "X", "timezone": "UTC", "language": "en"}),
        ("/admin/business-hours", {"day0": "09:00-10:00"}),
        ("/admin/business-hours/holidays", {"holidays": "2026-12-25"}),
    ):
        assert (await admin_client.post(url, data=data)).status_code == 403
    assert await sql.fetchval("SELECT count(*) FROM business_hours") == 0


async def test_company_hours_and_holidays(admin_client):
    cid = admin_client.company.id
    page = await admin_client.get("/admin/business-hours")
    assert page.status_code == 200 and "Open now" in page.text  # nothing configured: open 24/7
    saved = await post_form(
        admin_client, "/admin/business-hours", {"day0": "09:00-12:00, 14:00-18:00", "day4": "9h00-12h00"}
    )
    assert saved.status_code == 303
    schedule = await load_schedule(cid)
    assert schedule.weekly == {0: ((540, 720), (840, 1080)), 4: ((540, 720),)}
    page = await admin_client.get("/admin/business-hours")
    # Shown in the day-by-day picker (issue 18): Monday's two intervals, Friday's one.
    assert 'name="day0_from_1" value="14:00"' in page.text and 'name="day4_to_0" value="12:00"' in page.text
    [audit] = await audit_rows(cid, "business_hours.updated")
    assert "14:00-18:00" in audit["after"]
    holidays = await post_form(
        admin_client, "/admin/business-hours/holidays", {"holidays": "2026-12-25 Christmas\n2027-01-01 New year"}
    )
    assert holidays.status_code == 303
    assert len((await load_schedule(cid)).holidays) == 2
    assert "2026-12-25 Christmas" in (await admin_client.get("/admin/business-hours")).text
    assert len(await audit_rows(cid, "holidays.updated")) == 1


@pytest.mark.parametrize(
    "data,field",
    [
        ({"day0": "18:00-09:00"}, "day0"),
        ({"day1": "09:00-12:00, 11:00-13:00"}, "day1"),
        ({"day2": "<script>alert(1)</script>"}, "day2"),
        ({"day3": "09:00-10:00," * 40}, "day3"),
        ({"day6": "24:00-24:00"}, "day6"),
    ],
)
async def test_bad_hours_are_refused_with_the_field_marked(admin_client, data, field):
    response = await post_form(admin_client, "/admin/business-hours", {"day5": "10:00-11:00", **data})
    assert response.status_code == 400 and f'id="{field}-error"' in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert 'name="day5_from_0" value="10:00"' in response.text  # the other days are kept in the form
    assert await sql.fetchval("SELECT count(*) FROM business_hours") == 0


@pytest.mark.parametrize(
    "text",
    ["25/12/2026 Christmas", "2026-12-25 a\n2026-12-25 b", "2026-02-30", "2026-12-25 " + "x" * 121, "x" * 20_001],
)
async def test_bad_holidays_are_refused(admin_client, text):
    response = await post_form(admin_client, "/admin/business-hours/holidays", {"holidays": text})
    assert response.status_code == 400 and 'id="holidays-error"' in response.text
    assert await sql.fetchval("SELECT count(*) FROM holiday") == 0


async def test_department_hours_override_then_follow_the_company(admin_client):
    cid = admin_client.company.id
    dep = await make_department(admin_client.company, "Night desk")
    await post_form(admin_client, "/admin/business-hours", {"day0": "09:00-17:00"})
    page = await admin_client.get(f"/admin/business-hours/departments/{dep.id}")
    assert page.status_code == 200 and "follows the company" in page.text
    await post_form(
        admin_client, f"/admin/business-hours/departments/{dep.id}", {"day0": "22:00-24:00", "day1": "00:00-06:00"}
    )
    assert (await load_schedule(cid, dep.id)).weekly == {0: ((1320, 1440),), 1: ((0, 360),)}
    assert (await load_schedule(cid)).weekly == {0: ((540, 1020),)}
    await post_form(
        admin_client, f"/admin/business-hours/departments/{dep.id}", {"day0": "22:00-24:00", "use_company": "on"}
    )
    assert (await load_schedule(cid, dep.id)).weekly == {0: ((540, 1020),)}
    other = await make_company()
    foreign = await make_department(other, "Theirs")
    assert (await admin_client.get(f"/admin/business-hours/departments/{foreign.id}")).status_code == 404
    assert (
        await post_form(admin_client, f"/admin/business-hours/departments/{foreign.id}", {"day0": "09:00-10:00"})
    ).status_code == 404
    assert await sql.fetchval("SELECT count(*) FROM business_hours WHERE department_id = $1", foreign.id) == 0


async def test_repeated_fields_take_the_last_value_and_never_fail(admin_client):
    response = await post_form(
        admin_client, "/admin/business-hours", {"day0": ["09:00-10:00", "11:00-12:00"], "day9": "junk"}
    )
    assert response.status_code == 303
    assert (await load_schedule(admin_client.company.id)).weekly == {0: ((660, 720),)}
    response = await post_form(
        admin_client, "/admin/company", {"name": ["A", "B"], "timezone": ["UTC", "Mars/X"], "language": "en"}
    )
    assert response.status_code == 400 and 'id="timezone-error"' in response.text
