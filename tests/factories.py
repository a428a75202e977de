"""Small factories with domain defaults. They write through the domain's own actions where
one exists, and directly (with a password hash computed once) where hashing would only
slow the tests down."""

from __future__ import annotations

import itertools
from functools import lru_cache

from app.domain import sql
from app.domain.companies import create_company
from app.domain.departments import create_department
from app.domain.passwords import hash_password_sync
from app.domain.tables import Company, Department, User

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password_sync(PASSWORD)


async def make_company(name: str | None = None) -> Company:
    return await create_company(name or f"Company {next(_seq)}")


async def make_user(
    company: Company,
    role: str = "agent",
    *,
    name: str | None = None,
    email: str | None = None,
    presence: str = "offline",
    active: bool = True,
    capacity: int = 5,
    departments: list[Department] = (),
) -> User:
    n = next(_seq)
    user_id = await sql.fetchval(
        """INSERT INTO app_user (company_id, email, name, password_hash, role, presence, active, capacity)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        company.id,
        (email or f"{role}{n}@example.test").lower(),
        name or f"{role.title()} {n}",
        password_hash(),
        role,
        presence,
        active,
        capacity,
    )
    for dep in departments:
        await sql.execute(
            "INSERT INTO user_department (company_id, user_id, department_id) VALUES ($1, $2, $3)",
            company.id,
            user_id,
            dep.id,
        )
    return await User.objects().where(User.id == user_id).first()


async def make_department(company: Company, name: str | None = None, **values: object) -> Department:
    n = next(_seq)
    data = {"name": name or f"Department {n}", "code": f"D{n}", "colour": "#2563eb", **values}
    return await create_department(company.id, data)
