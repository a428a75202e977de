"""The business-hours form as a day-by-day time picker.

Each weekday has an "open" box and up to ``SLOTS`` intervals of two ``<input type="time">``
(``day3_open``, ``day3_from_0``, ``day3_to_0``, …); a ``mode`` radio says whether the company is
open around the clock (no hours at all) or keeps hours, or whether a department follows the
company's hours. The domain keeps its text format (``09:00-12:00, 14:00-18:00``, validated by
``app.domain.business_hours.parse_intervals``): this module only translates between the two, so
a form posted in the text format (``day0`` … ``day6``, older clients, the tests) still works.

A time input cannot say 24:00: a closing time of 00:00 after an opening later than midnight
means "until midnight" (24:00).
"""

from __future__ import annotations

SLOTS = 3
DEFAULT_DAY = ("09:00", "18:00")  # what a new schedule suggests for Monday to Friday


def _is_on(value: object) -> bool:
    return str(value or "") in ("on", "true", "1")


def picker_to_form(data: dict, *, department: bool) -> dict:
    """The picker's fields as the domain's form (``dayN`` texts, ``use_company``)."""
    if "mode" not in data:
        return data  # the text format
    form: dict = {"_mode": str(data.get("mode"))}
    if data.get("mode") in ("always", "company"):
        for day in range(7):
            form[f"day{day}"] = ""
        if department:
            form["use_company"] = "on"
        return form
    for day in range(7):
        parts = []
        if _is_on(data.get(f"day{day}_open")):
            for slot in range(6):
                start = str(data.get(f"day{day}_from_{slot}", "") or "").strip()[:5]
                end = str(data.get(f"day{day}_to_{slot}", "") or "").strip()[:5]
                if not start and not end:
                    continue
                if end == "00:00" and start and start != "00:00":
                    end = "24:00"
                parts.append(f"{start or '?'}-{end or '?'}")
        form[f"day{day}"] = ", ".join(parts)
    return form


def picker_days(values: dict, *, fresh: bool) -> list[dict]:
    """One row per weekday for the template: open or not, and its slots (from, to). ``values``
    are the domain's texts (``day0`` …); a ``fresh`` schedule (none stored) suggests 09:00–18:00
    on weekdays."""
    days = []
    for day in range(7):
        text = str(values.get(f"day{day}", "") or "")
        slots = []
        for part in [p for p in text.replace(";", ",").split(",") if p.strip()]:
            start, _, end = part.strip().partition("-")
            end = end.strip()
            slots.append((start.strip(), "00:00" if end == "24:00" else end))
        is_open = bool(slots)
        if fresh and not slots and day < 5:
            slots, is_open = [DEFAULT_DAY], True
        while len(slots) < SLOTS:
            slots.append(("", ""))
        days.append({"day": day, "open": is_open, "slots": slots[:6]})
    return days
