"""Companies (tenants) and their first admin."""

from __future__ import annotations

from app.domain import sql
from app.domain.errors import NotFound
from app.domain.tables import Company, User
from app.domain.users import create_user
from app.domain.validation import Cleaner


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
    c = Cleaner({"name": name})
    clean_name = c.text("name", max_len=200)
    c.raise_if_errors()
    async with sql.transaction():
        company = Company(name=clean_name, timezone=timezone, language=language)
        await company.save()
    return company


async def create_company_with_admin(company_name: str, admin: dict) -> tuple[Company, User]:
    """Platform-level: a new tenant and its first admin."""
    company = await create_company(company_name)
    user = await create_user(company.id, {**admin, "role": "admin"})
    return company, user
