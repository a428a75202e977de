"""Contacts (customers) as admins manage them: list and search, edit, opt-out, merge, delete.

Rules, as the README states them:
- **Opt-out** follows WhatsApp's Business Messaging Policy: a business must honour a
  customer's request to stop receiving its messages, but may still answer a conversation the
  customer starts. So an opted-out contact gets no business-initiated message (templates, any
  message more than 24 hours after their last one), while replies within 24 hours of their own
  message still go (``opt_out_allows``). The sender enforces it when it sends, so every path
  (agents, automatic messages, API) is covered; a blocked message is marked failed with the
  code ``opted-out`` and a plain reason.
- **Delete** anonymises: name, phone, e-mail, details, language and aliases are cleared and the
  contact is hidden; its conversations and messages stay as the company's history (reports,
  audit) under "Deleted contact". A contact with an open conversation cannot be deleted
  (resolve it first). If the same number writes again, a new contact is created.
- **Merge** moves the duplicate's conversations, aliases and anything else that points at it
  to the kept contact in one transaction, fills the kept contact's empty fields from the
  duplicate, keeps an opt-out from either, then deletes the duplicate. It is refused when
  both have an open conversation on the same channel (resolve one first).

What does not live here: creating contacts (inbound messages do, ``app.domain.messages``) and
the agents' customer panel (``app.domain.notes``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound, ValidationError
from app.domain.events import ContactChanged, emit
from app.domain.users import Page
from app.domain.validation import Cleaner
from app.i18n import N_

# Customer languages ('' = the company's); the automatic messages exist in each.
CONTACT_LANGUAGES = {"": N_("Company default"), "en": "English", "fr": "Français", "pt_BR": "Português (Brasil)"}
WINDOW = timedelta(hours=24)
PER_PAGE = 50

_COLUMNS = "id, phone, name, email, details, language, opted_out_at, created_at"


def opt_out_allows(message_type: str, last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    """May a message of this type go to an opted-out contact? Only a reply (not a template)
    within 24 hours of the customer's own last message."""
    if message_type == "template" or last_inbound_at is None:
        return False
    return (now or datetime.now(UTC)) - last_inbound_at < WINDOW


async def list_contacts(
    company_id: int, *, query: str = "", page: int = 1, per_page: int = PER_PAGE, exclude_id: int | None = None
) -> Page:
    """Contacts by name, newest activity first; ``query`` matches the name, or the phone's digits."""
    where = ["ct.company_id = $1", "ct.deleted_at IS NULL"]
    args: list = [company_id]
    query = query.strip()[:100]
    if query:
        args.append(sql.like(query))
        digits = "".join(ch for ch in query if ch.isdigit())
        clause = f"ct.name ILIKE ${len(args)}"
        if digits:
            args.append(f"%{digits}%")
            clause += f" OR ct.phone LIKE ${len(args)}"
        where.append(f"({clause})")
    if exclude_id:
        args.append(exclude_id)
        where.append(f"ct.id <> ${len(args)}")
    condition = " AND ".join(where)
    total = await sql.fetchval(f"SELECT count(*) FROM contact ct WHERE {condition}", *args)
    page = max(1, page)
    rows = await sql.fetch(
        f"""SELECT ct.id, ct.phone, ct.name, ct.language, ct.opted_out_at, ct.created_at,
                   (SELECT count(*) FROM conversation c WHERE c.contact_id = ct.id) AS conversations,
                   (SELECT max(c.last_message_at) FROM conversation c WHERE c.contact_id = ct.id) AS last_message_at
            FROM contact ct WHERE {condition}
            ORDER BY lower(ct.name), ct.phone NULLS LAST, ct.id
            LIMIT {int(per_page)} OFFSET {(page - 1) * int(per_page)}""",
        *args,
    )
    return Page(items=list(rows), page=page, per_page=per_page, total=total)


async def get_contact(company_id: int, contact_id: int, *, deleted_too: bool = False) -> asyncpg.Record:
    """A contact of this company that is not deleted (404 otherwise); ``deleted_too``: a
    deleted one as well (a conversation's customer, whose data the deletion blanked)."""
    if not 0 < contact_id < 2**31:
        raise NotFound(N_("No such contact."))
    row = await sql.fetchrow(
        f"SELECT {_COLUMNS} FROM contact WHERE company_id = $1 AND id = $2 AND ($3 OR deleted_at IS NULL)",
        company_id,
        contact_id,
        deleted_too,
    )
    if row is None:
        raise NotFound(N_("No such contact."))
    return row


async def contact_stats(company_id: int, contact_id: int) -> dict:
    row = await sql.fetchone(
        """SELECT count(*) AS conversations, count(*) FILTER (WHERE status <> 'resolved') AS open,
                  (SELECT count(*) FROM message m WHERE m.company_id = $1 AND m.conversation_id IN
                       (SELECT id FROM conversation WHERE company_id = $1 AND contact_id = $2)) AS messages
           FROM conversation WHERE company_id = $1 AND contact_id = $2""",
        company_id,
        contact_id,
    )
    aliases = await sql.fetch(
        "SELECT alias FROM contact_alias WHERE company_id = $1 AND contact_id = $2 ORDER BY alias",
        company_id,
        contact_id,
    )
    return {**dict(row), "aliases": [a["alias"] for a in aliases]}


def _label(row: asyncpg.Record) -> str:
    return (row["name"] or row["phone"] or f"#{row['id']}")[:300]


def _snapshot(row: asyncpg.Record) -> dict:
    return {
        "name": row["name"],
        "language": row["language"],
        "details": row["details"],
        "opted_out": row["opted_out_at"] is not None,
    }


async def update_contact(company_id: int, contact_id: int, data: dict) -> asyncpg.Record:
    """Name, language, notes (details) and opt-out, from the admin form; audited."""
    before = await get_contact(company_id, contact_id)
    c = Cleaner(data)
    values = {
        "name": c.text("name", max_len=200, required=False),
        "language": c.choice("language", CONTACT_LANGUAGES, default=""),
        "details": c.text("details", max_len=2000, required=False),
        "opted_out": str(data.get("opted_out", "")) in ("on", "true", "1"),
    }
    c.raise_if_errors()
    async with sql.transaction():
        row = await sql.fetchrow(
            f"""UPDATE contact SET name = $3, language = $4, details = $5,
                       opted_out_at = CASE WHEN $6 THEN coalesce(opted_out_at, now()) END
                WHERE company_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {_COLUMNS}""",
            company_id,
            contact_id,
            values["name"],
            values["language"],
            values["details"],
            values["opted_out"],
        )
        if row is None:
            raise NotFound(N_("No such contact."))
        old, new = _snapshot(before), _snapshot(row)
        if old["opted_out"] != new["opted_out"]:
            await record_audit(
                company_id,
                "contact.opted_out" if new["opted_out"] else "contact.opted_in",
                target_type="contact",
                target_id=contact_id,
                target_label=_label(row),
            )
        if {k: v for k, v in old.items() if k != "opted_out"} != {k: v for k, v in new.items() if k != "opted_out"}:
            await record_audit(
                company_id,
                "contact.updated",
                target_type="contact",
                target_id=contact_id,
                target_label=_label(row),
                before=old,
                after=new,
            )
        await emit(ContactChanged(company_id, contact_id))
    return row


def _masked(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "•" * max(0, len(phone) - 5) + phone[-2:]


async def delete_contact(company_id: int, contact_id: int) -> None:
    """Anonymise the contact and hide it; its conversations stay as history (see module doc)."""
    async with sql.transaction():
        row = await sql.fetchrow(
            f"SELECT {_COLUMNS} FROM contact WHERE company_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
            company_id,
            contact_id,
        )
        if row is None:
            raise NotFound(N_("No such contact."))
        if await sql.fetchval(
            "SELECT 1 FROM conversation WHERE company_id = $1 AND contact_id = $2 AND status <> 'resolved' LIMIT 1",
            company_id,
            contact_id,
        ):
            raise ValidationError({"contact": N_("This contact has an open conversation: resolve it first.")})
        await sql.execute("DELETE FROM contact_alias WHERE company_id = $1 AND contact_id = $2", company_id, contact_id)
        await sql.execute(
            """UPDATE contact SET name = '', phone = NULL, email = '', details = '', language = '', opted_out_at = NULL,
                                  deleted_at = now()
               WHERE company_id = $1 AND id = $2""",
            company_id,
            contact_id,
        )
        # The audit keeps who was deleted only in masked form: the point is to forget them.
        await record_audit(
            company_id,
            "contact.deleted",
            target_type="contact",
            target_id=contact_id,
            target_label=f"#{contact_id}",
            before={"phone": _masked(row["phone"]), "name": (row["name"] or "")[:1] + "…"},
            after={"anonymised": True},
        )
        await emit(ContactChanged(company_id, contact_id))


async def _references() -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to contact.id, besides the ones merged by hand."""
    rows = await sql.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, a.attname AS col
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE c.contype = 'f' AND c.confrelid = 'contact'::regclass AND array_length(c.conkey, 1) = 1"""
    )
    return [(r["tbl"], r["col"]) for r in rows if r["tbl"] not in ("conversation", "contact_alias")]


async def merge_contacts(company_id: int, keep_id: int, duplicate_id: int) -> asyncpg.Record:
    """Fold ``duplicate_id`` into ``keep_id`` in one transaction (see module doc)."""
    if keep_id == duplicate_id:
        raise ValidationError({"duplicate_id": N_("Choose another contact to merge.")})
    async with sql.transaction():
        rows = await sql.fetch(
            f"""SELECT {_COLUMNS} FROM contact WHERE company_id = $1 AND id = ANY($2::int[]) AND deleted_at IS NULL
                ORDER BY id FOR UPDATE""",
            company_id,
            [keep_id, duplicate_id],
        )
        found = {r["id"]: r for r in rows}
        if keep_id not in found or duplicate_id not in found:
            raise NotFound(N_("No such contact."))
        keep, dup = found[keep_id], found[duplicate_id]
        clash = await sql.fetchval(
            """SELECT ch.name FROM conversation a JOIN conversation b ON a.channel_id = b.channel_id
               JOIN channel ch ON ch.id = a.channel_id
               WHERE a.contact_id = $1 AND b.contact_id = $2 AND a.status <> 'resolved' AND b.status <> 'resolved' LIMIT 1""",
            keep_id,
            duplicate_id,
        )
        if clash is not None:
            raise ValidationError(
                {"duplicate_id": N_("Both contacts have an open conversation on the same channel: resolve one first.")}
            )
        moved = await sql.execute(
            "UPDATE conversation SET contact_id = $3 WHERE company_id = $1 AND contact_id = $2",
            company_id,
            duplicate_id,
            keep_id,
        )
        await sql.execute(
            "UPDATE contact_alias SET contact_id = $3 WHERE company_id = $1 AND contact_id = $2",
            company_id,
            duplicate_id,
            keep_id,
        )
        for table, column in await _references():
            try:  # a conflict rolls the whole merge back
                await sql.execute(f'UPDATE {table} SET "{column}" = $2 WHERE "{column}" = $1', duplicate_id, keep_id)
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise ValidationError(
                    {"duplicate_id": N_("These contacts cannot be merged: their records conflict.")}
                ) from exc
        await sql.execute("DELETE FROM contact WHERE company_id = $1 AND id = $2", company_id, duplicate_id)
        details = "\n\n".join(d for d in (keep["details"], dup["details"]) if d)[:2000]
        row = await sql.fetchone(
            f"""UPDATE contact SET name = $3, phone = coalesce(phone, $4), email = CASE WHEN email = '' THEN $5 ELSE email END,
                       details = $6, language = CASE WHEN language = '' THEN $7 ELSE language END,
                       opted_out_at = coalesce(opted_out_at, $8)
                WHERE company_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
            company_id,
            keep_id,
            keep["name"] or dup["name"],
            dup["phone"],
            dup["email"],
            details,
            dup["language"],
            dup["opted_out_at"],
        )
        await record_audit(
            company_id,
            "contact.merged",
            target_type="contact",
            target_id=keep_id,
            target_label=_label(row),
            before={
                "kept": {"id": keep_id, "name": keep["name"], "phone": keep["phone"]},
                "duplicate": {"id": duplicate_id, "name": dup["name"], "phone": dup["phone"]},
            },
            after={
                "id": keep_id,
                "name": row["name"],
                "phone": row["phone"],
                "conversations_moved": int(moved.split()[-1]),
            },
        )
        await emit(ContactChanged(company_id, keep_id))
    return row


async def set_contact_language(company_id: int, contact_id: int, language: str) -> asyncpg.Record:
    """The language automatic messages use for this contact ('' = the company's); any staff
    member who may see one of the contact's open conversations may set it (checked by the caller)."""
    contact = await get_contact(company_id, contact_id)
    c = Cleaner({"language": language})
    value = c.choice("language", CONTACT_LANGUAGES, default="")
    c.raise_if_errors()
    if value == contact["language"]:
        return contact
    async with sql.transaction():
        row = await sql.fetchone(
            f"UPDATE contact SET language = $3 WHERE company_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {_COLUMNS}",
            company_id,
            contact_id,
            value,
        )
        await record_audit(
            company_id,
            "contact.updated",
            target_type="contact",
            target_id=contact_id,
            target_label=_label(row),
            before={"language": contact["language"]},
            after={"language": value},
        )
        await emit(ContactChanged(company_id, contact_id))
    return row
