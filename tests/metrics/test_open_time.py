"""The metrics' indexed business time equals the schedule's own count, interval by interval."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.business_hours import Schedule
from app.domain.metrics import OpenTime


def test_indexed_business_seconds_match_the_schedule_across_dst_lunch_and_holidays():
    schedule = Schedule(
        zone=ZoneInfo("Europe/Paris"),
        weekly={d: ((9 * 60, 12 * 60), (13 * 60, 18 * 60)) for d in range(5)}
        | {5: ((22 * 60, 24 * 60),), 6: ((0, 6 * 60),)},
        holidays=frozenset({date(2026, 3, 27)}),
    )
    lo = datetime(2026, 3, 20, tzinfo=UTC)  # across the spring DST change (29 March)
    hi = lo + timedelta(days=14)
    fast = OpenTime(schedule, lo, hi)
    rng = random.Random(6)
    for _ in range(2000):
        a = lo + timedelta(seconds=rng.randrange(14 * 86400))
        b = a + timedelta(seconds=rng.randrange(3 * 86400))
        assert fast.business_seconds(a, b) == schedule.business_seconds(a, b), (a, b)
    assert fast.business_seconds(hi, lo) == 0
    outside = lo - timedelta(days=3)
    assert fast.business_seconds(outside, lo) == schedule.business_seconds(outside, lo)
