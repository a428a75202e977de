"""Small factories with domain defaults, shared by every test folder: companies, users,
departments, channels and conversations in a given state.

They write through the domain's own actions where one exists, and directly (with a password
hash computed once) where hashing would only slow the tests down, or where a test needs a
state no action produces in one step (a conversation already queued)."""

from __future__ import annotations

import itertools
import secrets
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


# Conversations ready for dispatch: a channel, contacts, conversations in a given state.


async def make_channel(company, *, department=None) -> int:
    return await sql.fetchval(
        """INSERT INTO channel (company_id, name, provider, webhook_secret, default_department_id)
           VALUES ($1, $2, 'sandbox', $3, $4) RETURNING id""",
        company.id,
        f"Channel {next(_seq)}",
        secrets.token_hex(16),
        department.id if department else None,
    )


async def make_conversation(company, channel_id: int, *, status: str = "bot", department=None, contact_id=None) -> int:
    if contact_id is None:
        contact_id = await sql.fetchval(
            "INSERT INTO contact (company_id, phone, name) VALUES ($1, $2, $3) RETURNING id",
            company.id,
            f"+3361{next(_seq):07d}",
            "Customer",
        )
    return await sql.fetchval(
        # A conversation opens with the customer's message: they are waiting on the business.
        """INSERT INTO conversation (company_id, channel_id, contact_id, status, department_id, last_inbound_at)
           VALUES ($1, $2, $3, $4, $5, now()) RETURNING id""",
        company.id,
        channel_id,
        contact_id,
        status,
        department.id if department else None,
    )


async def conversation(conversation_id: int):
    return await sql.fetchrow("SELECT * FROM conversation WHERE id = $1", conversation_id)


async def open_counts(company_id: int) -> dict[int, int]:
    rows = await sql.fetch(
        """SELECT assigned_user_id, count(*) AS n FROM conversation
           WHERE company_id = $1 AND status = 'assigned' GROUP BY 1""",
        company_id,
    )
    return {r["assigned_user_id"]: r["n"] for r in rows}
