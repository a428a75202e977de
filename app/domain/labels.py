"""Labels: coloured tags a company defines and puts on conversations ("VIP", "Refund", "Bug").

Admins define them (name unique per company, case-insensitively; a colour); anyone who may see
a conversation adds or removes its labels. The inbox and the API filter by label; the metrics
count them (``app.domain.label_metrics``). Each change is one ``LabelsChanged`` event (the rows and the
open pane showing the conversation change live); defining labels is audited.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import ClassVar

import asyncpg
from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import NotFound, ValidationError
from app.domain.events import Event, emit
from app.domain.validation import Cleaner
from app.i18n import N_

MAX_LABELS = 200
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
PALETTE = (
    "#4f46e5",
    "#0e7490",
    "#047857",
    "#b45309",
    "#be123c",
    "#7e22ce",
    "#1d4ed8",
    "#4d7c0f",
)


class Label(Table, tablename="label"):
    """A company's label: a short name and a colour."""

    company_id = Integer()
    name = Varchar(length=40)
    colour = Varchar(length=7, default="#4f46e5")
    created_at = Timestamptz(default=TimestamptzNow())


class ConversationLabel(Table, tablename="conversation_label"):
    """A label on a conversation (primary key: conversation, label)."""

    company_id = Integer()
    # Piccolo has no composite keys: the class names one column of (conversation_id, label_id).
    conversation_id = Integer(primary_key=True)
    label_id = Integer()
    added_by = Integer(null=True, default=None)
    added_at = Timestamptz(default=TimestamptzNow())


LABEL_TABLES = [Label, ConversationLabel]


@dataclass(frozen=True)
class LabelsChanged(Event):
    """A conversation's labels changed (its list row and open pane show them)."""

    name: ClassVar[str] = "labels-changed"
    conversation_id: int
    # When it happened: two changes of one conversation are two events, not one cached twice.
    at: float = 0.0


async def list_labels(company_id: int) -> list[asyncpg.Record]:
    return await sql.fetch(
        """SELECT l.id, l.name, l.colour,
                  (SELECT count(*) FROM conversation_label cl WHERE cl.label_id = l.id) AS conversations
           FROM label l WHERE l.company_id = $1 ORDER BY lower(l.name), l.id""",
        company_id,
    )


async def get_label(company_id: int, label_id: int) -> asyncpg.Record:
    row = None
    if 0 < label_id < 2**31:
        row = await sql.fetchrow(
            "SELECT id, name, colour FROM label WHERE company_id = $1 AND id = $2",
            company_id,
            label_id,
        )
    if row is None:
        raise NotFound(N_("No such label."))
    return row


def _clean(data: dict) -> dict:
    c = Cleaner(data)
    values = {
        "name": c.text("name", max_len=40),
        "colour": str(data.get("colour") or PALETTE[0]).strip(),
    }
    if not COLOUR.match(values["colour"]):
        c.fail("colour", N_("Choose a colour."))
    c.raise_if_errors()
    return values


async def _unique(company_id: int, name: str, label_id: int = 0) -> None:
    taken = await sql.fetchval(
        "SELECT 1 FROM label WHERE company_id = $1 AND lower(name) = lower($2) AND id <> $3",
        company_id,
        name,
        label_id,
    )
    if taken:
        raise ValidationError({"name": N_("A label with this name already exists.")})


async def create_label(company_id: int, data: dict) -> int:
    values = _clean(data)
    async with sql.transaction():
        await sql.execute("SELECT pg_advisory_xact_lock(hashtext('label'), $1)", company_id)
        await _unique(company_id, values["name"])
        if await sql.fetchval("SELECT count(*) FROM label WHERE company_id = $1", company_id) >= MAX_LABELS:
            raise ValidationError({"name": N_("A company has at most 200 labels.")})
        label_id = await sql.fetchval(
            "INSERT INTO label (company_id, name, colour) VALUES ($1, $2, $3) RETURNING id",
            company_id,
            values["name"],
            values["colour"],
        )
        await record_audit(
            company_id,
            "label.created",
            target_type="label",
            target_id=label_id,
            target_label=values["name"],
            after=values,
        )
    return label_id


async def update_label(company_id: int, label_id: int, data: dict) -> None:
    before = dict(await get_label(company_id, label_id))
    values = _clean(data)
    async with sql.transaction():
        await sql.execute("SELECT pg_advisory_xact_lock(hashtext('label'), $1)", company_id)
        await _unique(company_id, values["name"], label_id)
        await sql.execute(
            "UPDATE label SET name = $3, colour = $4 WHERE company_id = $1 AND id = $2",
            company_id,
            label_id,
            values["name"],
            values["colour"],
        )
        await record_audit(
            company_id,
            "label.updated",
            target_type="label",
            target_id=label_id,
            target_label=values["name"],
            before={k: before[k] for k in values},
            after=values,
        )


async def delete_label(company_id: int, label_id: int) -> None:
    label = await get_label(company_id, label_id)
    async with sql.transaction():
        await sql.execute("DELETE FROM label WHERE company_id = $1 AND id = $2", company_id, label_id)
        await record_audit(
            company_id,
            "label.deleted",
            target_type="label",
            target_id=label_id,
            target_label=label["name"],
            before={"name": label["name"], "colour": label["colour"]},
        )


async def labels_of(company_id: int, conversation_id: int) -> list[asyncpg.Record]:
    return await sql.fetch(
        """SELECT l.id, l.name, l.colour FROM conversation_label cl JOIN label l ON l.id = cl.label_id
           WHERE cl.company_id = $1 AND cl.conversation_id = $2 ORDER BY lower(l.name), l.id""",
        company_id,
        conversation_id,
    )


async def set_conversation_label(
    company_id: int, conversation_id: int, label_id: int, user_id: int | None, on: bool
) -> bool:
    """Add (``on``) or remove a label; True when something changed. The caller has checked that
    the user may see the conversation; the label must be the company's."""
    await get_label(company_id, label_id)
    async with sql.transaction():
        if on:
            status = await sql.execute(
                """INSERT INTO conversation_label (company_id, conversation_id, label_id, added_by)
                   SELECT $1, c.id, $3, $4 FROM conversation c WHERE c.company_id = $1 AND c.id = $2
                   ON CONFLICT DO NOTHING""",
                company_id,
                conversation_id,
                label_id,
                user_id,
            )
        else:
            status = await sql.execute(
                "DELETE FROM conversation_label WHERE company_id = $1 AND conversation_id = $2 AND label_id = $3",
                company_id,
                conversation_id,
                label_id,
            )
        changed = not str(status).endswith(" 0")
        if changed:
            await emit(
                LabelsChanged(
                    company_id=company_id,
                    conversation_id=conversation_id,
                    at=time.time(),
                )
            )
    return changed
