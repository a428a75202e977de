"""The dispatcher's per-process schedule cache: served from memory while the bus is live, and
dropped by any change, made here (at once) or anywhere else (database triggers, plain SQL)."""

from __future__ import annotations

import asyncio

import asyncpg

from app.domain.business_hours import SCHEDULES, set_holidays, set_hours
from app.domain.companies import update_company
from app.realtime.hub import Resync
from tests.factories import make_company


async def _until(check, seconds: float = 3.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_reads_are_cached_while_the_bus_is_live(app):
    company = await make_company()
    first = await SCHEDULES.get(company.id)
    hits = SCHEDULES.hits
    assert await SCHEDULES.get(company.id) is first and SCHEDULES.hits == hits + 1
    SCHEDULES.on_bus(Resync("disconnected"))  # a gap in the bus: nothing served from memory
    assert not SCHEDULES.live
    assert await SCHEDULES.get(company.id) is not first and SCHEDULES.hits == hits + 1
    SCHEDULES.on_bus(Resync("connected"))


async def test_our_own_edits_are_seen_at_once(app):
    company = await make_company()
    assert (await SCHEDULES.get(company.id)).always_open
    await set_hours(company.id, None, {"day0": "09:00-12:00"})
    assert (await SCHEDULES.get(company.id)).weekly == {0: ((9 * 60, 12 * 60),)}
    await set_holidays(company.id, {"holidays": "2026-12-25 Christmas"})
    assert len((await SCHEDULES.get(company.id)).holidays) == 1
    await update_company(company.id, {"name": company.name, "timezone": "Asia/Tokyo", "language": "en"})
    assert str((await SCHEDULES.get(company.id)).zone) == "Asia/Tokyo"


async def test_changes_made_elsewhere_reach_the_cache(app, database_url):
    company = await make_company()
    assert (await SCHEDULES.get(company.id)).always_open
    other = await asyncpg.connect(database_url)  # another process, or plain SQL
    try:
        await other.execute(
            "INSERT INTO business_hours (company_id, department_id, weekday, opens, closes) VALUES ($1, NULL, 1, 480, 1080)",
            company.id,
        )

        async def hours_seen() -> bool:
            return not (await SCHEDULES.get(company.id)).always_open

        assert await _until(hours_seen)
        await other.execute(
            "INSERT INTO holiday (company_id, day, label) VALUES ($1, '2027-01-01', 'New year')", company.id
        )

        async def holiday_seen() -> bool:
            return len((await SCHEDULES.get(company.id)).holidays) == 1

        assert await _until(holiday_seen)
        await other.execute("UPDATE company SET timezone = 'America/Sao_Paulo' WHERE id = $1", company.id)

        async def zone_seen() -> bool:
            return str((await SCHEDULES.get(company.id)).zone) == "America/Sao_Paulo"

        assert await _until(zone_seen)
        await other.execute("DELETE FROM business_hours WHERE company_id = $1", company.id)

        async def removal_seen() -> bool:
            return (await SCHEDULES.get(company.id)).always_open

        assert await _until(removal_seen)
    finally:
        await other.close()
