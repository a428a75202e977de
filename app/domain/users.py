"""Users: reads, and the actions admins and agents take on them (create, edit, presence).

Rules that protect a company from locking itself out live here: nobody deactivates or
demotes themselves, so a company always keeps the admin who is acting.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from piccolo.custom_types import Combinable

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.departments import departments_exist
from app.domain.errors import NotFound, PermissionDenied, ValidationError
from app.domain.events import UserChanged, emit
from app.domain.passwords import hash_password, password_problem
from app.domain.presence import record_change
from app.domain.tables import Department, User, UserDepartment
from app.domain.validation import Cleaner
from app.i18n import N_

ROLES = [r.value for r in User.Role]
# Interface languages offered; English is the source language of every string.
LANGUAGES = {"": "Company default", "en": "English", "fr": "Français", "pt_BR": "Português (Brasil)"}


@dataclass(frozen=True)
class Page:
    """One page of a list: ``items`` plus what a pager needs."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return sql.page_count(self.total, self.per_page)


async def get_user(company_id: int, user_id: int) -> User:
    user = await User.objects().where((User.company_id == company_id) & (User.id == user_id)).first()
    if user is None:
        raise NotFound(N_("No such user."))
    return user


async def get_active_user(user_id: int) -> User | None:
    """The user behind a login session, if still active (not company scoped: auth uses it)."""
    return await User.objects().where((User.id == user_id) & (User.active.eq(True))).first()


async def list_users(company_id: int, *, query: str = "", page: int = 1, per_page: int = 50) -> Page:
    where: Combinable = User.company_id == company_id
    if query:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        where &= User.name.ilike(like) | User.email.ilike(like)
    total = await User.count().where(where)
    page = max(1, page)
    items = (
        await User.objects()
        .where(where)
        .order_by(User.active, ascending=False)
        .order_by(User.name)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(items=list(items), page=page, per_page=per_page, total=total)


async def department_ids_of(user_id: int) -> list[int]:
    rows = await UserDepartment.select(UserDepartment.department_id).where(UserDepartment.user_id == user_id)
    return sorted(r["department_id"] for r in rows)


async def departments_by_user(company_id: int) -> dict[int, list[Department]]:
    """Every user's departments, for list pages (one query)."""
    rows = await sql.fetch(
        """SELECT ud.user_id, d.id, d.name, d.colour FROM user_department ud
           JOIN department d ON d.id = ud.department_id
           WHERE ud.company_id = $1 ORDER BY d.name""",
        company_id,
    )
    result: dict[int, list[Department]] = {}
    for r in rows:
        result.setdefault(r["user_id"], []).append(Department(id=r["id"], name=r["name"], colour=r["colour"]))
    return result


async def _clean(company_id: int, data: dict, *, creating: bool) -> tuple[dict, list[int], str | None]:
    c = Cleaner(data)
    values = {
        "name": c.text("name", max_len=120),
        "email": c.email(),
        "role": c.choice("role", ROLES, default="agent"),
        "capacity": c.integer("capacity", low=0, high=100, default=5),
        "language": c.choice("language", LANGUAGES, default=""),
    }
    department_ids = c.id_list("department_ids")
    password = str(data.get("password") or "")
    if creating or password:
        problem = password_problem(password, (str(data.get("email") or ""), str(data.get("name") or "")))
        if problem:
            c.fail("password", problem)
    if department_ids:
        if not await departments_exist(company_id, department_ids):
            c.fail("department_ids", N_("Choose from the list."))
    c.raise_if_errors()
    return values, department_ids, password or None


def _audited(values: dict, department_ids: list[int]) -> dict:
    """What the audit shows of a user: the form's fields, never a password hash."""
    return {**{k: v for k, v in values.items() if k != "password_hash"}, "department_ids": sorted(department_ids)}


def _target(user: User) -> dict:
    return {"target_type": "user", "target_id": user.id, "target_label": f"{user.name} <{user.email}>"}


async def _email_taken(email: str, except_id: int | None = None) -> bool:
    row = await sql.fetchval(
        "SELECT id FROM app_user WHERE lower(email) = lower($1) AND id IS DISTINCT FROM $2", email, except_id
    )
    return row is not None


async def _set_departments(company_id: int, user_id: int, department_ids: list[int]) -> None:
    await sql.execute("DELETE FROM user_department WHERE user_id = $1", user_id)
    if department_ids:
        await sql.execute(
            """INSERT INTO user_department (company_id, user_id, department_id)
               SELECT $1, $2, unnest($3::int[])""",
            company_id,
            user_id,
            department_ids,
        )


async def create_user(company_id: int, data: dict) -> User:
    """Create a user of ``company_id`` from form or API input."""
    values, department_ids, password = await _clean(company_id, data, creating=True)
    if await _email_taken(values["email"]):
        raise ValidationError({"email": N_("A user with this e-mail already exists.")})
    password_hash = await hash_password(password or "")
    try:
        async with sql.transaction():
            user = User(company_id=company_id, password_hash=password_hash, **values)
            await user.save()
            await _set_departments(company_id, user.id, department_ids)
            await record_audit(company_id, "user.created", after=_audited(values, department_ids), **_target(user))
            await emit(UserChanged(company_id=company_id, user_id=user.id))
    except asyncpg.UniqueViolationError as exc:  # a concurrent create won the race
        raise ValidationError({"email": N_("A user with this e-mail already exists.")}) from exc
    return user


async def update_user(actor: User, user_id: int, data: dict) -> User:
    """Edit a user; a new password is set only when one is given."""
    user = await get_user(actor.company_id, user_id)
    values, department_ids, password = await _clean(actor.company_id, data, creating=False)
    if user.id == actor.id and values["role"] != user.role:
        raise ValidationError({"role": N_("You cannot change your own role.")})
    if await _email_taken(values["email"], except_id=user.id):
        raise ValidationError({"email": N_("A user with this e-mail already exists.")})
    before = _audited({k: getattr(user, k) for k in values}, await department_ids_of(user.id))
    after = _audited(values, department_ids)
    if password:
        values["password_hash"] = await hash_password(password)
        before["password"], after["password"] = "", "changed"
    async with sql.transaction():
        await User.update(values).where((User.id == user.id) & (User.company_id == actor.company_id))
        await _set_departments(actor.company_id, user.id, department_ids)
        if before != after:
            await record_audit(actor.company_id, "user.updated", before=before, after=after, **_target(user))
        await emit(UserChanged(company_id=actor.company_id, user_id=user.id))
    return await get_user(actor.company_id, user.id)


async def set_user_active(actor: User, user_id: int, active: bool) -> User:
    """Deactivate (logged out at their next request, presence offline) or reactivate."""
    user = await get_user(actor.company_id, user_id)
    if user.id == actor.id and not active:
        raise PermissionDenied(N_("You cannot deactivate yourself."))
    async with sql.transaction():
        old = await sql.fetchval("SELECT presence FROM app_user WHERE id = $1 FOR UPDATE", user.id)
        await sql.execute(
            """UPDATE app_user SET active = $2,
                   presence = CASE WHEN $2 THEN presence ELSE 'offline' END,
                   presence_changed_at = CASE WHEN $2 OR presence = 'offline' THEN presence_changed_at ELSE now() END
               WHERE id = $1""",
            user.id,
            active,
        )
        if not active and old != "offline":
            await record_change(user.company_id, user.id, old, "offline", "deactivated")
        if active != user.active:
            await record_audit(
                user.company_id,
                "user.activated" if active else "user.deactivated",
                before={"active": user.active},
                after={"active": active},
                **_target(user),
            )
        await emit(UserChanged(company_id=user.company_id, user_id=user.id))
    return await get_user(actor.company_id, user.id)
