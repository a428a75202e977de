"""Seed 001's "clients": contacts seen as a shop's customers, with a status and their orders.

A client is a contact (``contact``); its status (``client_status``: pending, confirmed,
cancelled) is the shop's to set, and orders keep it current (``app.domain.orders``: a new
order makes it pending, a decision confirmed or cancelled). The shop setting ``confirmed`` or
``cancelled`` while the client's newest order waits decides that order (as ``api``), so that the
order, its webhooks and the client agree. ``lastContact`` is the customer's last message, else
when the contact was created. What does not live here: the HTTP side (``app.api.shop``).
"""

from __future__ import annotations

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound, ValidationError
from app.domain.orders import STATUSES, decide_order, upsert_contact
from app.i18n import N_
from app.providers.base import normalise_phone

_CLIENT = """
SELECT ct.id, ct.phone, ct.name, ct.client_status, ct.created_at,
       coalesce((SELECT max(cv.last_inbound_at) FROM conversation cv WHERE cv.contact_id = ct.id), ct.created_at)
           AS last_contact
FROM contact ct
"""


async def get_client(company_id: int, contact_id: int) -> dict:
    row = await sql.fetchrow(
        _CLIENT + " WHERE ct.company_id = $1 AND ct.id = $2 AND ct.deleted_at IS NULL AND ct.phone IS NOT NULL",
        company_id,
        contact_id if 0 < contact_id < 2**31 else 0,
    )
    if row is None:
        raise NotFound(N_("No such client."))
    return dict(row)


async def list_clients(company_id: int, *, status: str = "", limit: int = 100) -> list[dict]:
    """The company's clients (contacts with a phone), newest first."""
    rows = await sql.fetch(
        _CLIENT
        + """ WHERE ct.company_id = $1 AND ct.deleted_at IS NULL AND ct.phone IS NOT NULL
                      AND ($2 = '' OR ct.client_status = $2) ORDER BY ct.id DESC LIMIT $3""",
        company_id,
        status,
        limit,
    )
    return [dict(r) for r in rows]


def _status(value: str | None) -> str | None:
    if value is not None and value not in STATUSES:
        raise ValidationError({"status": N_("Choose one of the options.")})
    return value


async def create_client(company_id: int, phone: str, name: str = "", status: str | None = None) -> tuple[dict, bool]:
    """The client with this phone (created when new); returns (client, created)."""
    _status(status)
    existing = await sql.fetchval(
        "SELECT id FROM contact WHERE company_id = $1 AND phone = $2", company_id, normalise_phone(phone) or ""
    )
    contact_id = await upsert_contact(company_id, phone, name)
    created = existing is None
    if status is not None:
        await update_client(company_id, contact_id, status=status)
    return await get_client(company_id, contact_id), created


async def update_client(
    company_id: int, contact_id: int, *, status: str | None = None, name: str | None = None
) -> dict:
    """Change a client's name or status; a decisive status decides its newest pending order."""
    _status(status)
    before = await get_client(company_id, contact_id)
    if name is not None and len(name.strip()) > 200:
        raise ValidationError({"name": N_("Use at most 200 characters.")})
    if status in ("confirmed", "cancelled"):
        pending = await sql.fetchval(
            """SELECT id FROM shop_order WHERE company_id = $1 AND contact_id = $2 AND status = 'pending'
               ORDER BY id DESC LIMIT 1""",
            company_id,
            contact_id,
        )
        if pending is not None:
            await decide_order(company_id, pending, "confirm" if status == "confirmed" else "cancel", by="api")
    async with sql.transaction():
        await sql.execute(
            """UPDATE contact SET client_status = coalesce($3, client_status), name = coalesce($4, name)
               WHERE company_id = $1 AND id = $2""",
            company_id,
            contact_id,
            status,
            name.strip() if name is not None else None,
        )
        after = await get_client(company_id, contact_id)
        await record_audit(
            company_id,
            "client.updated",
            target_type="contact",
            target_id=contact_id,
            target_label=after["name"] or after["phone"],
            before={"status": before["client_status"], "name": before["name"]},
            after={"status": after["client_status"], "name": after["name"]},
        )
    return after
