"""Quick replies: canned answers an agent inserts with ``/shortcut`` or from the composer's picker.

A quick reply belongs to one department or, with no department, to the whole company. The
composer of a conversation offers the company-wide ones and those of the conversation's
department. Shortcuts are unique per company and department, case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.departments import departments_exist
from app.domain.errors import NotFound, ValidationError
from app.domain.validation import Cleaner
from app.i18n import N_

SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TEXT_MAX = 4096
PER_PAGE = 25


@dataclass(frozen=True)
class QuickReplyPage:
    items: list[asyncpg.Record]
    total: int
    page: int
    pages: int


_SELECT = """SELECT q.id, q.company_id, q.department_id, q.shortcut, q.text, q.updated_at,
                    d.name AS department_name, d.colour AS department_colour
             FROM quick_reply q LEFT JOIN department d ON d.id = q.department_id"""


async def list_quick_replies(company_id: int, *, query: str = "", page: int = 1) -> QuickReplyPage:
    """The admin list: searchable by shortcut or text, paginated."""
    query = query.strip()[:100]
    where = "q.company_id = $1" + (" AND (q.shortcut ILIKE $2 OR q.text ILIKE $2)" if query else "")
    args: list = [company_id] + ([sql.like(query)] if query else [])
    total = await sql.fetchval(f"SELECT count(*) FROM quick_reply q WHERE {where}", *args)
    pages = sql.page_count(total, PER_PAGE)
    page = min(max(1, page), pages)
    n = len(args)
    items = await sql.fetch(
        f"{_SELECT} WHERE {where} ORDER BY lower(q.shortcut), d.name NULLS FIRST, q.id LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
        PER_PAGE,
        (page - 1) * PER_PAGE,
    )
    return QuickReplyPage(items, total, page, pages)


async def quick_replies_for(company_id: int, department_id: int | None, limit: int = 300) -> list[dict]:
    """What the composer offers in a conversation of ``department_id``: the department's own
    first, then the company-wide ones, by shortcut."""
    rows = await sql.fetch(
        """SELECT shortcut, text, department_id FROM quick_reply
           WHERE company_id = $1 AND (department_id IS NULL OR department_id = $2)
           ORDER BY lower(shortcut), department_id NULLS LAST LIMIT $3""",
        company_id,
        department_id,
        limit,
    )
    seen: set[str] = set()
    out = []
    for r in rows:  # a department's reply hides a company-wide one with the same shortcut
        if r["shortcut"].lower() in seen:
            continue
        seen.add(r["shortcut"].lower())
        out.append({"shortcut": r["shortcut"], "text": r["text"]})
    return out


async def get_quick_reply(company_id: int, quick_reply_id: int) -> asyncpg.Record:
    if not 0 < quick_reply_id < 2**31:
        raise NotFound(N_("No such quick reply."))
    row = await sql.fetchrow(f"{_SELECT} WHERE q.company_id = $1 AND q.id = $2", company_id, quick_reply_id)
    if row is None:
        raise NotFound(N_("No such quick reply."))
    return row


async def _clean(company_id: int, data: dict) -> dict:
    c = Cleaner(data)
    shortcut = c.text("shortcut", max_len=32).lstrip("/").lower()
    if shortcut and "shortcut" not in c.errors and not SHORTCUT_RE.match(shortcut):
        c.fail("shortcut", N_("Use letters, digits, - and _ only, starting with a letter or digit."))
    text = c.text("text", max_len=TEXT_MAX)
    department_id = c.integer("department_id", low=0, high=2**31 - 1, default=0) or None
    if department_id is not None and "department_id" not in c.errors:
        if not await departments_exist(company_id, [department_id]):
            c.fail("department_id", N_("Choose from the list."))
    c.raise_if_errors()
    return {"shortcut": shortcut, "text": text, "department_id": department_id}


def _duplicate() -> ValidationError:
    return ValidationError({"shortcut": N_("This shortcut is already used for this department.")})


async def create_quick_reply(company_id: int, data: dict) -> int:
    values = await _clean(company_id, data)
    try:
        async with sql.transaction():
            quick_reply_id: int = await sql.fetchval(
                "INSERT INTO quick_reply (company_id, department_id, shortcut, text) VALUES ($1, $2, $3, $4) RETURNING id",
                company_id,
                values["department_id"],
                values["shortcut"],
                values["text"],
            )
            await record_audit(
                company_id,
                "quick_reply.created",
                target_type="quick_reply",
                target_id=quick_reply_id,
                target_label="/" + values["shortcut"],
                after=values,
            )
    except asyncpg.UniqueViolationError:
        raise _duplicate() from None
    return quick_reply_id


async def update_quick_reply(company_id: int, quick_reply_id: int, data: dict) -> None:
    before = await get_quick_reply(company_id, quick_reply_id)
    values = await _clean(company_id, data)
    try:
        async with sql.transaction():
            await sql.execute(
                """UPDATE quick_reply SET department_id = $3, shortcut = $4, text = $5, updated_at = now()
                   WHERE company_id = $1 AND id = $2""",
                company_id,
                quick_reply_id,
                values["department_id"],
                values["shortcut"],
                values["text"],
            )
            await record_audit(
                company_id,
                "quick_reply.updated",
                target_type="quick_reply",
                target_id=quick_reply_id,
                target_label="/" + values["shortcut"],
                before={k: before[k] for k in values},
                after=values,
            )
    except asyncpg.UniqueViolationError:
        raise _duplicate() from None


async def delete_quick_reply(company_id: int, quick_reply_id: int) -> None:
    before = await get_quick_reply(company_id, quick_reply_id)
    async with sql.transaction():
        await sql.execute("DELETE FROM quick_reply WHERE company_id = $1 AND id = $2", company_id, quick_reply_id)
        await record_audit(
            company_id,
            "quick_reply.deleted",
            target_type="quick_reply",
            target_id=quick_reply_id,
            target_label="/" + before["shortcut"],
        )
