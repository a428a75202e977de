"""Admin: the company's settings (name, timezone, default language)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from app.domain.companies import COMPANY_LANGUAGES, get_company, timezones, update_company
from app.domain.errors import ValidationError
from app.domain.phones import COUNTRIES
from app.domain.timezones import timezone_groups, zone_label
from app.i18n import N_, territory_name
from app.web.forms import flash, read_form
from app.web.security import admin_only


def _context(values: dict, errors: dict) -> dict:
    return {
        "values": values,
        "errors": errors,
        "languages": COMPANY_LANGUAGES,
        "timezones": timezones(),
        "countries": sorted(((c, territory_name(c)) for c in COUNTRIES), key=lambda x: x[1]),
        "timezone_groups": timezone_groups(),
        "zone_label": zone_label,
        "offered_zones": {z for _, zones in timezone_groups() for z in zones},
    }


class CompanyController(Controller):
    path = "/admin/company"
    guards = [admin_only]

    @get("/")
    async def edit(self, request: Request) -> Template:
        company = await get_company(request.user.company_id)
        values = {
            "name": company.name,
            "timezone": company.timezone,
            "language": company.language,
            "mfa_required_for_admins": company.mfa_required_for_admins,
            "country": company.country,
        }
        return Template("admin/company/form.html", context=_context(values, {}))

    @post("/", status_code=303)
    async def save(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            await update_company(request.user.company_id, data)
        except ValidationError as exc:
            values = {
                k: str(data.get(k, ""))[:300]
                for k in ("name", "timezone", "language", "mfa_required_for_admins", "country")
            }
            return Template("admin/company/form.html", context=_context(values, exc.errors), status_code=400)
        # Translated when shown: the language may have just changed with this very form.
        flash(request, N_("Company settings saved."))
        return Redirect("/admin/company", status_code=303)
