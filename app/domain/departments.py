"""Departments: the groups of agents that conversations are routed to."""

from __future__ import annotations

import asyncpg

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound, ValidationError
from app.domain.tables import Department
from app.domain.validation import CODE_RE, COLOUR_RE, Cleaner
from app.i18n import N_


async def list_departments(company_id: int) -> list[Department]:
    rows = (
        await Department.objects()
        .where(Department.company_id == company_id)
        .order_by(Department.menu_position)
        .order_by(Department.name)
    )
    return list(rows)


async def departments_exist(company_id: int, department_ids: list[int]) -> bool:
    """Whether every id names a department of this company (another company's id names none)."""
    ids = set(department_ids)
    if not all(0 < i < 2**31 for i in ids):
        return False
    count = await Department.count().where((Department.company_id == company_id) & Department.id.is_in(list(ids)))
    return bool(count == len(ids))


async def get_department(company_id: int, department_id: int) -> Department:
    dep = (
        await Department.objects()
        .where((Department.company_id == company_id) & (Department.id == department_id))
        .first()
    )
    if dep is None:
        raise NotFound(N_("No such department."))
    return dep


async def member_counts(company_id: int) -> dict[int, int]:
    rows = await sql.fetch(
        "SELECT department_id, count(*) AS n FROM user_department WHERE company_id = $1 GROUP BY 1", company_id
    )
    return {r["department_id"]: r["n"] for r in rows}


def _clean(data: dict) -> dict:
    c = Cleaner(data)
    values = {
        "name": c.text("name", max_len=120),
        "code": c.pattern("code", CODE_RE, N_("Use letters, digits, - and _ only."), max_len=32).upper(),
        "colour": c.pattern("colour", COLOUR_RE, N_("Use a colour such as #4f46e5."), max_len=7).lower(),
        "response_timeout": c.integer("response_timeout", low=10, high=86400, default=300),
        "menu_position": c.integer("menu_position", low=0, high=99, default=0),
        # Routing knobs (README "Routing guarantees"): every one the engine reads.
        "strategy": c.choice("strategy", STRATEGIES, default="least_load"),
        "reinjection_policy": c.choice("reinjection_policy", REINJECTION_POLICIES, default="prefer_others"),
        "reinjection_alert": c.integer("reinjection_alert", low=1, high=100, default=3),
        "offline_policy": c.choice("offline_policy", OFFLINE_POLICIES, default="requeue"),
        "offline_alert_minutes": c.integer("offline_alert_minutes", low=1, high=1440, default=10),
        "overflow_department_id": c.integer("overflow_department_id", low=0, high=2**31 - 1, default=0) or None,
        "overflow_after": c.integer("overflow_after", low=0, high=86400, default=0),
        "menu_timeout": c.integer("menu_timeout", low=0, high=86400, default=0),
    }
    c.raise_if_errors()
    return values


STRATEGIES = ("least_load", "round_robin", "sticky")
REINJECTION_POLICIES = ("prefer_others", "wait")
OFFLINE_POLICIES = ("requeue", "keep_answered")
FIELDS = (
    "name",
    "code",
    "colour",
    "response_timeout",
    "menu_position",
    "strategy",
    "reinjection_policy",
    "reinjection_alert",
    "offline_policy",
    "offline_alert_minutes",
    "overflow_department_id",
    "overflow_after",
    "menu_timeout",
)


async def _check_overflow(company_id: int, department_id: int | None, values: dict) -> None:
    """The overflow department is another department of the same company."""
    target = values["overflow_department_id"]
    if target is None:
        return
    ok = await sql.fetchval("SELECT 1 FROM department WHERE company_id = $1 AND id = $2", company_id, target)
    if not ok or target == department_id:
        raise ValidationError({"overflow_department_id": N_("Choose another department of this company.")})


def _snapshot(dep: Department) -> dict:
    return {k: getattr(dep, k) for k in FIELDS}


def _target(dep: Department) -> dict:
    return {"target_type": "department", "target_id": dep.id, "target_label": dep.name}


def _unique_error(exc: asyncpg.UniqueViolationError) -> ValidationError:
    field = "code" if "code" in (exc.constraint_name or "") else "name"
    message = (
        N_("Another department already uses this code.")
        if field == "code"
        else N_("Another department already uses this name.")
    )
    return ValidationError({field: message})


async def create_department(company_id: int, data: dict) -> Department:
    values = _clean(data)
    await _check_overflow(company_id, None, values)
    try:
        async with sql.transaction():
            dep = Department(company_id=company_id, **values)
            await dep.save()
            await record_audit(company_id, "department.created", after=values, **_target(dep))
    except asyncpg.UniqueViolationError as exc:
        raise _unique_error(exc) from exc
    return dep


async def update_department(company_id: int, department_id: int, data: dict) -> Department:
    old = await get_department(company_id, department_id)
    values = _clean(data)
    await _check_overflow(company_id, department_id, values)
    try:
        async with sql.transaction():
            await Department.update(values).where(
                (Department.company_id == company_id) & (Department.id == department_id)
            )
            before = {k: getattr(old, k) for k in values}
            if before != values:
                await record_audit(company_id, "department.updated", before=before, after=values, **_target(old))
    except asyncpg.UniqueViolationError as exc:
        raise _unique_error(exc) from exc
    return await get_department(company_id, department_id)


async def delete_department(company_id: int, department_id: int) -> None:
    """Delete a department; its memberships go with it."""
    dep = await get_department(company_id, department_id)
    async with sql.transaction():
        await record_audit(company_id, "department.deleted", before=_snapshot(dep), **_target(dep))
        await Department.delete().where((Department.company_id == company_id) & (Department.id == department_id))
