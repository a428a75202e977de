"""Admin: weekly business hours (company, or a department's own) and holidays."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.domain.auto_messages import format_opening
from app.domain.business_hours import (
    WEEKDAYS,
    format_intervals,
    get_hours,
    list_holidays,
    load_schedule,
    set_holidays,
    set_hours,
)
from app.domain.companies import get_company
from app.domain.departments import get_department, list_departments
from app.domain.errors import ValidationError
from app.i18n import N_, current_language
from app.i18n import gettext as _
from app.web.forms import flash, read_form
from app.web.hours_picker import picker_days, picker_to_form
from app.web.security import admin_only

BASE = "/admin/business-hours"


async def _page(
    request: Request,
    department_id: int | None,
    *,
    hours_values: dict | None = None,
    holiday_text: str | None = None,
    errors: dict | None = None,
    status: int = 200,
    mode: str | None = None,
) -> Template:
    company_id = request.user.company_id
    department = await get_department(company_id, department_id) if department_id else None
    company = await get_company(company_id)
    stored = await get_hours(company_id, department_id)
    if hours_values is None:
        hours_values = {f"day{d}": format_intervals(v) for d, v in stored.items()}
    if holiday_text is None:
        holiday_text = "\n".join(
            f"{r['day'].isoformat()} {r['label']}".strip() for r in await list_holidays(company_id)
        )
    schedule = await load_schedule(company_id, department_id)
    now = datetime.now(UTC)
    context = {
        "department": department,
        "departments": await list_departments(company_id),
        "weekdays": WEEKDAYS,
        "values": hours_values,
        "holiday_text": holiday_text,
        "errors": errors or {},
        "own_hours": any(stored.values()),
        "company_has_hours": any((await get_hours(company_id)).values()),
        "open_now": schedule.is_open(now),
        "always_open": schedule.always_open,
        "next_opening": format_opening(schedule.next_opening(now), current_language.get(), company.timezone),
        "timezone": company.timezone,
        "company_name": company.name,
        "action": f"{BASE}/departments/{department_id}" if department_id else BASE,
        "days": picker_days(hours_values, fresh=not any(stored.values()) and not errors),
        "mode": mode or ("hours" if any(stored.values()) else ("company" if department_id else "always")),
    }
    return Template("admin/business_hours/edit.html", context=context, status_code=status)


async def _save_hours(request: Request, department_id: int | None) -> Template | Redirect:
    if department_id:
        await get_department(request.user.company_id, department_id)  # 404 before reading the form
    data = picker_to_form(await read_form(request), department=department_id is not None)
    try:
        if data.get("_mode") == "hours" and not any(data.get(f"day{d}") for d in range(7)):
            # No hours at all would mean open around the clock: say so rather than do it.
            raise ValidationError({"days": N_("Open at least one day, or choose “Open around the clock”.")})
        await set_hours(request.user.company_id, department_id, data)
    except ValidationError as exc:
        values = {f"day{d}": str(data.get(f"day{d}", ""))[:300] for d in range(7)}
        return await _page(
            request, department_id, hours_values=values, errors=exc.errors, status=400, mode=data.get("_mode")
        )
    flash(request, _("Business hours saved."))
    return Redirect(f"{BASE}/departments/{department_id}" if department_id else BASE, status_code=303)


class BusinessHoursController(Controller):
    path = BASE
    guards = [admin_only]

    @get("/")
    async def company(self, request: Request) -> Template:
        return await _page(request, None)

    @post("/", status_code=303)
    async def save_company(self, request: Request) -> Template | Redirect:
        return await _save_hours(request, None)

    @get("/departments/{department_id:int}")
    async def department(self, request: Request, department_id: FromPath[int]) -> Template:
        return await _page(request, department_id)

    @post("/departments/{department_id:int}", status_code=303)
    async def save_department(self, request: Request, department_id: FromPath[int]) -> Template | Redirect:
        return await _save_hours(request, department_id)

    @post("/holidays", status_code=303)
    async def save_holidays(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await set_holidays(request.user.company_id, data)
        except ValidationError as exc:
            return await _page(
                request, None, holiday_text=str(data.get("holidays", ""))[:20_000], errors=exc.errors, status=400
            )
        flash(request, _("Holidays saved."))
        return Redirect(BASE, status_code=303)
