"""Companies (tenants): creating one with its first admin (platform level, the CLI), and the
settings its admins edit (name, timezone, default language)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound
from app.domain.phones import COUNTRIES
from app.domain.tables import Company, User
from app.domain.users import create_user
from app.domain.validation import Cleaner
from app.i18n import N_


async def get_company(company_id: int) -> Company:
    company = await Company.objects().where(Company.id == company_id).first()
    if company is None:
        raise NotFound("No such company.")
    return company


async def get_company_locale(company_id: int) -> tuple[str, str]:
    """The company's default interface language and its timezone (read on every page)."""
    row = await sql.fetchrow("SELECT language, timezone FROM company WHERE id = $1", company_id)
    return (row["language"], row["timezone"]) if row else ("", "UTC")


async def find_company(name: str) -> Company | None:
    return await Company.objects().where(Company.name == name).first()


async def create_company(name: str, *, timezone: str = "UTC", language: str = "en") -> Company:
    c = Cleaner({"name": name, "timezone": timezone, "language": language})
    clean_name = c.text("name", max_len=200)
    if timezone not in timezones():
        c.fail("timezone", N_("Choose a timezone from the list, such as Europe/Paris."))
    language = c.choice("language", COMPANY_LANGUAGES, default="en")
    c.raise_if_errors()
    async with sql.transaction():
        company = Company(name=clean_name, timezone=timezone, language=language)
        await company.save()
    return company


async def create_company_with_admin(
    company_name: str, admin: dict, *, timezone: str = "UTC", language: str = "en"
) -> tuple[Company, User]:
    """Platform-level: a new tenant and its first admin, both or neither."""
    async with sql.transaction():
        company = await create_company(company_name, timezone=timezone, language=language)
        user = await create_user(company.id, {**admin, "role": "admin"})
    return company, user


# Settings ---------------------------------------------------------------------------------

# Interface and default customer languages a company may choose.
COMPANY_LANGUAGES = {"en": "English", "fr": "Français", "pt_BR": "Português (Brasil)"}


@lru_cache(maxsize=1)
def timezones() -> tuple[str, ...]:
    """Every IANA timezone name the server knows, sorted (the choices of the settings form)."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def _settings(company: Company) -> dict:
    return {
        "name": company.name,
        "timezone": company.timezone,
        "language": company.language,
        "mfa_required_for_admins": bool(company.mfa_required_for_admins),
        "country": company.country,
    }


async def get_company_country(company_id: int) -> str:
    """The company's country code ('' = none), for reading national phone numbers."""
    return await sql.fetchval("SELECT country FROM company WHERE id = $1", company_id) or ""


async def update_company(company_id: int, data: dict) -> Company:
    """Name, timezone (an IANA name such as Europe/Paris) and default language; audited."""
    company = await get_company(company_id)
    c = Cleaner(data)
    values = {
        "name": c.text("name", max_len=200),
        "timezone": c.text("timezone", max_len=64),
        "language": c.choice("language", COMPANY_LANGUAGES, default="en"),
        # Admins must log in with two-factor (sent to set it up at their next login).
        "mfa_required_for_admins": str(data.get("mfa_required_for_admins") or "") in ("1", "on", "true"),
        "country": c.choice("country", ("",) + COUNTRIES, default=""),
    }
    if values["timezone"] and "timezone" not in c.errors and values["timezone"] not in timezones():
        c.fail("timezone", N_("Choose a timezone from the list, such as Europe/Paris."))
    c.raise_if_errors()
    before = _settings(company)
    async with sql.transaction():
        await sql.execute(
            """UPDATE company SET name = $2, timezone = $3, language = $4, mfa_required_for_admins = $5, country = $6
               WHERE id = $1""",
            company_id,
            values["name"],
            values["timezone"],
            values["language"],
            values["mfa_required_for_admins"],
            values["country"],
        )
        if before != values:
            await record_audit(
                company_id,
                "company.updated",
                target_type="company",
                target_id=company_id,
                target_label=str(values["name"]),
                before=before,
                after=values,
            )
    if before.get("timezone") != values["timezone"]:
        from app.domain.business_hours import SCHEDULES

        SCHEDULES.forget_company(company_id)  # at once here; other processes hear the trigger
    return await get_company(company_id)
