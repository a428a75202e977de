"""Business hours as a day-by-day time picker; open around the clock is a choice of its own."""

import re

from app.domain.business_hours import get_hours, load_schedule
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


async def _admin(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    return company


async def test_a_company_open_around_the_clock_is_shown_so_not_closed(client):
    await _admin(client)
    page = (await client.get("/admin/business-hours")).text
    assert re.search(r'name="mode" value="always" checked', page)
    # The picker suggests weekdays 09:00-18:00 for when hours are chosen.
    assert 'name="day0_open" checked' in page and 'name="day0_from_0" value="09:00"' in page
    assert 'name="day6_open" checked' not in page


async def test_picker_saves_days_and_midnight(client):
    company = await _admin(client)
    form = {
        "mode": "hours",
        "day0_open": "on",
        "day0_from_0": "09:00",
        "day0_to_0": "12:00",
        "day0_from_1": "14:00",
        "day0_to_1": "18:00",
        "day4_open": "on",
        "day4_from_0": "22:00",
        "day4_to_0": "00:00",
        "day5_from_0": "10:00",
        "day5_to_0": "11:00",
    }  # Saturday not ticked: closed
    response = await post_form(client, "/admin/business-hours", form)
    assert response.status_code == 303
    assert (await load_schedule(company.id)).weekly == {
        0: ((540, 720), (840, 1080)),
        4: ((1320, 1440),),
    }
    page = (await client.get("/admin/business-hours")).text
    assert 'name="mode" value="hours" checked' in page
    assert 'name="day4_to_0" value="00:00"' in page and 'name="day5_open" checked' not in page

    # Back to 24/7: every interval goes.
    assert (await post_form(client, "/admin/business-hours", {**form, "mode": "always"})).status_code == 303
    assert not any((await get_hours(company.id)).values())


async def test_picker_refuses_no_day_open_and_bad_intervals(client):
    company = await _admin(client)
    response = await post_form(client, "/admin/business-hours", {"mode": "hours"})
    assert response.status_code == 400 and 'id="days-error"' in response.text
    response = await post_form(
        client,
        "/admin/business-hours",
        {
            "mode": "hours",
            "day2_open": "on",
            "day2_from_0": "18:00",
            "day2_to_0": "09:00",
        },
    )
    assert response.status_code == 400 and 'id="day2-error"' in response.text
    assert 'name="day2_from_0" value="18:00"' in response.text  # kept for correction
    assert not any((await get_hours(company.id)).values())


async def test_a_department_follows_the_company_or_keeps_its_own(client):
    company = await _admin(client)
    sales = await make_department(company, "Sales")
    url = f"/admin/business-hours/departments/{sales.id}"
    page = (await client.get(url)).text
    assert 'name="mode" value="company" checked' in page and 'value="always"' not in page
    saved = await post_form(
        client,
        url,
        {
            "mode": "hours",
            "day1_open": "on",
            "day1_from_0": "08:00",
            "day1_to_0": "16:00",
        },
    )
    assert saved.status_code == 303
    assert (await get_hours(company.id, sales.id))[1] == [(480, 960)]
    assert (await post_form(client, url, {"mode": "company"})).status_code == 303
    assert not any((await get_hours(company.id, sales.id)).values())
