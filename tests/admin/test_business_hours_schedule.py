"""Schedule: open time between two instants, across midnight, weekends, holidays and DST."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.business_hours import Schedule, parse_holidays, parse_intervals

PARIS = ZoneInfo("Europe/Paris")
# Monday to Friday 09:00-12:00 and 14:00-18:00 (7 h a day), closed at weekends.
OFFICE = {d: ((540, 720), (840, 1080)) for d in range(5)}


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_no_hours_means_open_all_the_time_except_holidays():
    s = Schedule(zone=PARIS, holidays=frozenset({date(2026, 12, 25)}))
    assert s.always_open and s.is_open(paris(2026, 12, 24, 3, 0))
    assert not s.is_open(paris(2026, 12, 25, 12, 0))
    # 24 December 18:00 -> 26 December 06:00 Paris: 6 h + 6 h, the 25th excluded
    assert s.business_seconds(paris(2026, 12, 24, 18), paris(2026, 12, 26, 6)) == 12 * 3600


def test_within_one_day_and_across_the_lunch_break():
    s = Schedule(zone=PARIS, weekly=OFFICE)
    # Tuesday 11:00 -> 15:00: 1 h before lunch + 1 h after
    assert s.business_seconds(paris(2026, 11, 17, 11), paris(2026, 11, 17, 15)) == 2 * 3600
    assert s.is_open(paris(2026, 11, 17, 9, 0)) and not s.is_open(paris(2026, 11, 17, 12, 0))
    assert not s.is_open(paris(2026, 11, 17, 8, 59, 59))
    assert s.business_seconds(paris(2026, 11, 17, 15), paris(2026, 11, 17, 11)) == 0


def test_across_midnight_and_the_weekend():
    s = Schedule(zone=PARIS, weekly=OFFICE)
    # Friday 17:00 -> Monday 10:00: 1 h on Friday, nothing at the weekend, 1 h on Monday
    assert s.business_seconds(paris(2026, 11, 20, 17), paris(2026, 11, 23, 10)) == 2 * 3600
    assert not s.is_open(paris(2026, 11, 21, 10))
    assert s.next_opening(paris(2026, 11, 20, 19)) == paris(2026, 11, 23, 9)


def test_an_overnight_shift_is_two_intervals():
    s = Schedule(zone=PARIS, weekly={0: ((1320, 1440),), 1: ((0, 360),)})  # Mon 22:00 -> Tue 06:00
    assert s.business_seconds(paris(2026, 11, 16, 21), paris(2026, 11, 17, 7)) == 8 * 3600
    assert s.is_open(paris(2026, 11, 16, 23, 59)) and s.is_open(paris(2026, 11, 17, 0, 0))
    assert s.next_opening(paris(2026, 11, 16, 12)) == paris(2026, 11, 16, 22)


def test_holidays_are_closed_all_day():
    s = Schedule(zone=PARIS, weekly=OFFICE, holidays=frozenset({date(2026, 12, 25)}))  # a Friday
    assert not s.is_open(paris(2026, 12, 25, 10))
    # Thursday 17:00 -> Monday 10:00: 1 h Thursday, Friday off, 1 h Monday
    assert s.business_seconds(paris(2026, 12, 24, 17), paris(2026, 12, 28, 10)) == 2 * 3600
    assert s.next_opening(paris(2026, 12, 24, 19)) == paris(2026, 12, 28, 9)


def test_dst_changes_count_real_seconds_and_keep_wall_clock_hours():
    always = Schedule(zone=PARIS)
    # Spring forward, Sunday 29 March 2026: the day lasts 23 hours; autumn, 25 October: 25 hours.
    assert always.business_seconds(paris(2026, 3, 29), paris(2026, 3, 30)) == 23 * 3600
    assert always.business_seconds(paris(2026, 10, 25), paris(2026, 10, 26)) == 25 * 3600
    night = Schedule(zone=PARIS, weekly={6: ((0, 240),)})  # Sunday 00:00-04:00 local
    assert night.business_seconds(paris(2026, 3, 29), paris(2026, 3, 30)) == 3 * 3600
    assert night.business_seconds(paris(2026, 10, 25), paris(2026, 10, 26)) == 5 * 3600
    # 09:00 stays 09:00 local on both sides of the change (UTC 08:00 in winter, 07:00 in summer)
    s = Schedule(zone=PARIS, weekly=OFFICE)
    assert s.is_open(datetime(2026, 3, 27, 8, 0, tzinfo=UTC))
    assert s.is_open(datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    assert not s.is_open(datetime(2026, 3, 30, 6, 59, tzinfo=UTC))
    # Friday 17:00 -> Monday 10:00 across the change: still 2 open hours
    assert s.business_seconds(paris(2026, 3, 27, 17), paris(2026, 3, 30, 10)) == 2 * 3600


def test_utc_instants_and_other_zones():
    s = Schedule(zone=ZoneInfo("America/Sao_Paulo"), weekly=OFFICE)  # UTC-3, no DST
    start = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)  # 09:00 in São Paulo
    assert s.is_open(start) and not s.is_open(start - timedelta(seconds=1))
    assert s.business_seconds(start, start + timedelta(days=7)) == 5 * 7 * 3600


@pytest.mark.parametrize(
    "text,error",
    [
        ("09:00-12:00, 14:00-18:00", None),
        ("9h00-12h00", None),
        ("", None),
        ("00:00-24:00", None),
        ("12:00-09:00", "end after"),
        ("09:00-12:00, 11:00-13:00", "overlap"),
        ("nine to five", "Write hours"),
        ("25:00-26:00", "Write hours"),
        ("24:00-24:00", "cannot start"),
        ("09:00-10:00," * 7, "six intervals"),
    ],
)
def test_parse_intervals(text, error):
    intervals, problem = parse_intervals(text)
    if error is None:
        assert problem is None
    else:
        assert problem and error in problem and intervals == []


def test_parse_holidays():
    days, error = parse_holidays("2026-12-25 Christmas\n\n2026-01-01")
    assert error is None and days == [(date(2026, 1, 1), ""), (date(2026, 12, 25), "Christmas")]
    assert "Line 2" in parse_holidays("2026-12-25 a\n25/12/2026 b")[1]
    assert "already" in parse_holidays("2026-12-25 a\n2026-12-25 b")[1]
