"""Business hours and holidays: when a company (or one of its departments) is open.

``load_schedule(company_id, department_id=None)`` reads one ``Schedule``: weekly opening
intervals (several per day allowed) in the company's timezone, and company-wide holidays
(closed all day). Metrics use ``Schedule.business_seconds`` to count only open time; the bot
uses ``Schedule.is_open`` and ``Schedule.next_opening`` for the out-of-hours message.

Rules, as the admin page explains them:
- **No hours configured: open 24/7** (holidays still close the whole day). A company that
  never opened the business-hours page is never "closed".
- A department with hours of its own uses them; otherwise the company's.
- Intervals are minutes of the local day, ``closes`` may be 24:00; an overnight shift is two
  intervals (Mon 22:00-24:00 and Tue 00:00-06:00). They never overlap within a day.
- Times are wall-clock times in the company's timezone, so 09:00 stays 09:00 across a DST
  change; ``business_seconds`` counts real elapsed seconds (a 00:00-24:00 day on the spring
  change lasts 23 hours).

What does not live here: who may edit them (``app.web.business_hours``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound
from app.domain.validation import Cleaner
from app.i18n import N_, gettext
from app.realtime.bus_cache import BusCache

DAY = 1440  # minutes
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday"))
MAX_INTERVALS_PER_DAY = 6
MAX_HOLIDAYS = 400
# How far ahead next_opening looks (a year of holidays cannot hide every opening).
LOOKAHEAD_DAYS = 400

Interval = tuple[int, int]  # (opens, closes) in minutes of the local day


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class Schedule:
    """Opening hours of one company (or department) and its holidays; pure, no database."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # weekday (0 = Monday) -> sorted, non-overlapping intervals; empty mapping: open 24/7
    weekly: dict[int, tuple[Interval, ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    @property
    def always_open(self) -> bool:
        """No hours configured: open every hour of every day that is not a holiday."""
        return not self.weekly

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        if day in self.holidays:
            return ()
        if self.always_open:
            return ((0, DAY),)
        return self.weekly.get(day.weekday(), ())

    def _instant(self, day: date, minute: int) -> datetime:
        """The UTC instant of ``minute`` of local ``day`` (24:00 is the next day's 00:00).
        A wall time skipped by a DST change maps forward, as zoneinfo does (fold=0)."""
        if minute >= DAY:
            day, minute = day + timedelta(days=1), minute - DAY
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def open_periods(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open periods (UTC start, UTC end) overlapping [start, end), clipped to it."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date() + timedelta(days=1)
        while day <= last:
            for opens, closes in self.intervals_on(day):
                a, b = self._instant(day, opens), self._instant(day, closes)
                a, b = max(a, start), min(b, end)
                if a < b:
                    yield a, b
            day += timedelta(days=1)

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of open time between two instants (0 when ``end`` is not after ``start``)."""
        return sum((b - a).total_seconds() for a, b in self.open_periods(start, end))

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        local = at.astimezone(self.zone)
        day = local.date()
        # An interval of the day before may end after midnight only at 24:00: today's intervals suffice.
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return any(opens * 60 <= seconds < closes * 60 for opens, closes in self.intervals_on(day))

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else the next instant the schedule opens (None: not within a year)."""
        at = _utc(at)
        if self.is_open(at):
            return at
        day = at.astimezone(self.zone).date()
        for offset in range(LOOKAHEAD_DAYS):
            current = day + timedelta(days=offset)
            for opens, _closes in self.intervals_on(current):
                instant = self._instant(current, opens)
                if instant > at and not self._continues(current, opens):
                    return instant
        return None

    def _continues(self, day: date, opens: int) -> bool:
        """An interval at 00:00 that only continues yesterday's 24:00 is not an opening."""
        if opens != 0:
            return False
        return any(closes == DAY for _, closes in self.intervals_on(day - timedelta(days=1)))


async def load_schedule(company_id: int, department_id: int | None = None) -> Schedule:
    """The schedule that applies to a company, or to one of its departments (its own hours if
    it has any, else the company's). Holidays are the company's."""
    # One round trip: the dispatcher reads a schedule for every customer message that waits.
    row = await sql.fetchone(
        """WITH own AS (SELECT weekday, opens, closes FROM business_hours WHERE company_id = $1 AND department_id = $2)
           SELECT (SELECT timezone FROM company WHERE id = $1) AS timezone,
                  ARRAY(SELECT ROW(weekday, opens, closes) FROM own
                        UNION ALL
                        SELECT ROW(weekday, opens, closes) FROM business_hours
                        WHERE company_id = $1 AND department_id IS NULL AND NOT EXISTS (SELECT 1 FROM own)) AS hours,
                  ARRAY(SELECT day FROM holiday WHERE company_id = $1) AS holidays""",
        company_id,
        department_id,
    )
    zone_name, rows = row["timezone"], row["hours"]
    weekly: dict[int, list[Interval]] = {}
    for weekday, opens, closes in rows:
        weekly.setdefault(weekday, []).append((opens, closes))
    return Schedule(
        zone=_zone(zone_name or "UTC"),
        weekly={d: tuple(sorted(v)) for d, v in weekly.items()},
        holidays=frozenset(row["holidays"]),
    )


class ScheduleCache(BusCache[tuple[int, "int | None"], Schedule]):
    """Per-process cache of ``load_schedule`` for the dispatcher, which checks the hours for
    every customer message still waiting (the out-of-hours notice), and for the wallboard's
    snapshots (``app.web.supervisor.schedules_of``). Database triggers
    (migration 0015) send ``ScheduleChanged`` for any write to business hours, holidays or a
    company's timezone (app.realtime.bus_cache)."""

    def stale_keys(self, event: object) -> list[tuple[int, int | None]] | None:
        from app.domain.events import ScheduleChanged

        if not isinstance(event, ScheduleChanged):
            return []
        if not event.company_id:
            return None  # a table was truncated
        return [key for key in self._items if key[0] == event.company_id]

    def forget_company(self, company_id: int) -> None:
        """This process changed the company's schedule: drop it now."""
        self.forget([key for key in self._items if key[0] == company_id])

    async def get(self, company_id: int, department_id: int | None = None) -> Schedule:  # type: ignore[override]
        return await super().get((company_id, department_id), lambda: load_schedule(company_id, department_id))  # type: ignore[return-value]


SCHEDULES = ScheduleCache()


# Editing ---------------------------------------------------------------------------------

_TIME = re.compile(r"^([01]?\d|2[0-4])[:h.]([0-5]\d)$")
_INTERVAL = re.compile(r"^\s*(\S+)\s*[-–]\s*(\S+)\s*$")


def format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def format_intervals(intervals: Iterable[Interval]) -> str:
    return ", ".join(f"{format_minute(a)}-{format_minute(b)}" for a, b in intervals)


def _minute(text: str) -> int | None:
    m = _TIME.match(text.strip())
    if not m:
        return None
    value = int(m.group(1)) * 60 + int(m.group(2))
    return value if value <= DAY else None


def parse_intervals(text: str) -> tuple[list[Interval], str | None]:
    """``"09:00-12:00, 14:00-18:00"`` -> intervals, or an error message (an N_ string)."""
    text = text.strip()
    if not text:
        return [], None
    if len(text) > 200:
        return [], N_("Too long: a day has at most six intervals.")
    intervals: list[Interval] = []
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        m = _INTERVAL.match(part)
        opens, closes = (_minute(m.group(1)), _minute(m.group(2))) if m else (None, None)
        if opens is None or closes is None:
            return [], N_("Write hours as 09:00-12:00, 14:00-18:00.")
        if opens >= DAY:
            return [], N_("An interval cannot start at 24:00.")
        if closes <= opens:
            return [], N_("Each interval must end after it starts (write a night shift as two days).")
        intervals.append((opens, closes))
    intervals.sort()
    if len(intervals) > MAX_INTERVALS_PER_DAY:
        return [], N_("Too long: a day has at most six intervals.")
    for (_, first_closes), (second_opens, _) in zip(intervals, intervals[1:]):
        if second_opens < first_closes:
            return [], N_("Intervals overlap.")
    return intervals, None


def parse_holidays(text: str) -> tuple[list[tuple[date, str]], str | None]:
    """One holiday per line, ``YYYY-MM-DD label``."""
    result: dict[date, str] = {}
    lines = [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]
    if len(lines) > MAX_HOLIDAYS:
        return [], N_("At most 400 holidays.")
    for number, line in enumerate(lines, 1):
        day_text, _, label = line.partition(" ")
        try:
            day = date.fromisoformat(day_text.strip())
        except ValueError:
            return [], gettext("Line %(line)d: start with a date as YYYY-MM-DD.") % {"line": number}
        if not 2000 <= day.year <= 2200:
            return [], gettext("Line %(line)d: start with a date as YYYY-MM-DD.") % {"line": number}
        if day in result:
            return [], gettext("Line %(line)d: this date is already listed.") % {"line": number}
        label = label.strip()
        if len(label) > 120:
            return [], gettext("Line %(line)d: use at most 120 characters for the name.") % {"line": number}
        result[day] = label
    return sorted(result.items()), None


async def _department(company_id: int, department_id: int | None) -> str:
    if department_id is None:
        return ""
    name = await sql.fetchval(
        "SELECT name FROM department WHERE company_id = $1 AND id = $2", company_id, department_id
    )
    if name is None:
        raise NotFound(N_("No such department."))
    return str(name)


async def get_hours(company_id: int, department_id: int | None = None) -> dict[int, list[Interval]]:
    """The hours stored for the company (None) or exactly this department (no fallback)."""
    await _department(company_id, department_id)
    rows = await sql.fetch(
        """SELECT weekday, opens, closes FROM business_hours
           WHERE company_id = $1 AND department_id IS NOT DISTINCT FROM $2 ORDER BY weekday, opens""",
        company_id,
        department_id,
    )
    hours: dict[int, list[Interval]] = {d: [] for d in range(7)}
    for r in rows:
        hours[r["weekday"]].append((r["opens"], r["closes"]))
    return hours


async def list_holidays(company_id: int) -> list:
    return await sql.fetch("SELECT day, label FROM holiday WHERE company_id = $1 ORDER BY day", company_id)


def _snapshot(hours: dict[int, list[Interval]]) -> dict:
    return {str(WEEKDAYS[d]).lower(): format_intervals(v) for d, v in sorted(hours.items())}


async def set_hours(company_id: int, department_id: int | None, data: dict) -> dict[int, list[Interval]]:
    """Replace the weekly hours from a form (``day0`` … ``day6``). For a department,
    ``use_company`` (or every day empty) removes its own hours: it follows the company's."""
    name = await _department(company_id, department_id)
    c = Cleaner(data)
    hours: dict[int, list[Interval]] = {}
    for day in range(7):
        raw = c.text(f"day{day}", max_len=200, required=False)
        intervals, error = parse_intervals(raw)
        if error:
            c.fail(f"day{day}", error)
        hours[day] = intervals
    if department_id is not None and str(data.get("use_company", "")) in ("on", "true", "1"):
        hours = {d: [] for d in range(7)}
    c.raise_if_errors()
    before = await get_hours(company_id, department_id)
    async with sql.transaction():
        await sql.execute(
            "DELETE FROM business_hours WHERE company_id = $1 AND department_id IS NOT DISTINCT FROM $2",
            company_id,
            department_id,
        )
        rows = [(company_id, department_id, d, a, b) for d, v in hours.items() for a, b in v]
        for row in rows:
            await sql.execute(
                "INSERT INTO business_hours (company_id, department_id, weekday, opens, closes) VALUES ($1, $2, $3, $4, $5)",
                *row,
            )
        await record_audit(
            company_id,
            "business_hours.updated",
            target_type="department" if department_id else "company",
            target_id=department_id or company_id,
            target_label=name,
            before=_snapshot(before),
            after=_snapshot(hours),
        )
    SCHEDULES.forget_company(company_id)  # at once here; other processes hear the trigger
    return hours


async def set_holidays(company_id: int, data: dict) -> list[tuple[date, str]]:
    """Replace the holidays from a form's ``holidays`` text (one ``YYYY-MM-DD label`` a line)."""
    c = Cleaner(data)
    raw = c.text("holidays", max_len=20_000, required=False)
    holidays, error = parse_holidays(raw) if "holidays" not in c.errors else ([], None)
    if error:
        c.fail("holidays", error)
    c.raise_if_errors()
    before = {r["day"].isoformat(): r["label"] for r in await list_holidays(company_id)}
    async with sql.transaction():
        await sql.execute("DELETE FROM holiday WHERE company_id = $1", company_id)
        for day, label in holidays:
            await sql.execute(
                "INSERT INTO holiday (company_id, day, label) VALUES ($1, $2, $3)", company_id, day, label
            )
        after = {d.isoformat(): label for d, label in holidays}
        if before != after:
            await record_audit(
                company_id,
                "holidays.updated",
                target_type="company",
                target_id=company_id,
                before={"holidays": before},
                after={"holidays": after},
            )
    SCHEDULES.forget_company(company_id)
    return holidays
