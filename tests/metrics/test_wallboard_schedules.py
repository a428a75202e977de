"""The wallboard reads business hours through the bus-invalidated schedule cache: a change of
hours, made here or by another process, shows on the next snapshot (no minute of stale hours)."""

from __future__ import annotations

import asyncpg

from app.domain.business_hours import SCHEDULES, set_hours
from app.web.supervisor import schedules_of
from tests.factories import make_company, make_department
from tests.helpers import until


async def test_new_business_hours_reach_the_wallboard_at_once(app):
    company = await make_company()
    sales = await make_department(company, "Sales")
    schedule, own = await schedules_of(company.id)
    assert schedule.always_open and own == {}
    await set_hours(company.id, None, {"day0": "09:00-12:00"})
    await set_hours(company.id, sales.id, {"day1": "10:00-11:00"})
    schedule, own = await schedules_of(company.id)
    assert schedule.weekly == {0: ((9 * 60, 12 * 60),)}
    assert own[sales.id].weekly == {1: ((10 * 60, 11 * 60),)}


async def test_hours_changed_by_another_process_reach_the_wallboard(app, database_url):
    company = await make_company()
    assert (await schedules_of(company.id))[0].always_open
    hits = SCHEDULES.hits
    assert (await schedules_of(company.id))[0].always_open and SCHEDULES.hits > hits  # served from memory
    other = await asyncpg.connect(database_url)
    try:
        await other.execute(
            "INSERT INTO business_hours (company_id, weekday, opens, closes) VALUES ($1, 2, 480, 1080)", company.id
        )
    finally:
        await other.close()

    async def seen() -> bool:
        return (await schedules_of(company.id))[0].weekly == {2: ((480, 1080),)}

    await until(seen)
