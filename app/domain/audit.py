"""The audit log: who did what to which row, from which address, before -> after.

Any action that changes something an admin may later have to account for calls
``record_audit`` inside its own transaction, so the row exists exactly when the change does.
Rows are append-only: there is no update or delete here, and a trigger in the database refuses
both (see ``piccolo_migrations/sb_0006_audit.py``).

The actor and their address default to the request's (``audit_actor``, set once per request by
the web layer), so that actions keep their signatures; login and logout pass them explicitly.
Failed logins are recorded only for an existing account (whose company is known): attempts on
unknown e-mails stay in ``login_failure`` for throttling, and cannot fill this table.
Reads (``list_audit``) serve the admin page at ``/admin/audit``. What does not live here: the
PBX's own audit (``app.telephony``).
"""

from __future__ import annotations

import base64
import json
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from piccolo.columns import JSONB, BigInt, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.domain import sql
from app.domain.errors import ValidationError
from app.i18n import N_
from app.logs import request_id


class AuditEvent(Table, tablename="audit_event"):
    """One audited action. Never updated, never deleted."""

    id = BigInt(primary_key=True)
    company_id = Integer()
    actor_user_id = Integer(null=True)
    actor_label = Varchar(length=300)
    actor_address = Varchar(length=64)
    action = Varchar(length=64)
    target_type = Varchar(length=32)
    target_id = Varchar(length=64)
    target_label = Varchar(length=300)
    before = JSONB(null=True)
    after = JSONB(null=True)
    at = Timestamptz(default=TimestamptzNow())
    request_id = Varchar(length=64, default="")  # the request that did it (X-Request-Id, access log)


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    label: str = ""
    address: str = ""


audit_actor: ContextVar[Actor] = ContextVar("audit_actor", default=Actor())  # noqa: B039 - Actor is frozen


def actor_of(user: Any, address: str = "") -> Actor:
    """The ``Actor`` for a user row (or None: the system)."""
    if user is None:
        return Actor(None, "", address)
    return Actor(user.id, f"{user.name} <{user.email}>", address)


def diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Only the keys whose values differ (both sides), so a row shows just what changed."""
    if before is None or after is None:
        return before, after
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


async def record_audit(
    company_id: int,
    action: str,
    *,
    target_type: str = "",
    target_id: object = "",
    target_label: str = "",
    before: dict | None = None,
    after: dict | None = None,
    actor: Actor | None = None,
) -> None:
    """Append one audit row; call it inside the transaction of the change it describes.

    ``action`` is ``noun.verb-in-past`` (``user.created``, ``login.failed``). ``before`` and
    ``after`` are JSON-able dicts; when both are given only the changed keys are kept.
    """
    actor = actor or audit_actor.get()
    before, after = diff(before, after)
    await sql.execute(
        """INSERT INTO audit_event (company_id, actor_user_id, actor_label, actor_address, action,
                                    target_type, target_id, target_label, before, after, request_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11)""",
        company_id,
        actor.user_id,
        actor.label[:300],
        actor.address[:64],
        action[:64],
        target_type[:32],
        str(target_id if target_id is not None else "")[:64],
        (target_label or "")[:300],
        json.dumps(before, default=str) if before is not None else None,
        json.dumps(after, default=str) if after is not None else None,
        request_id.get().replace("-", "", 1 if request_id.get() == "-" else 0)[:64],
    )


# Reading ---------------------------------------------------------------------------------

PER_PAGE = 50
MAX_QUERY = 100


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditPage:
    items: list
    next_cursor: str | None


def _date(raw: str, field: str, errors: dict) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = N_("Enter a date as YYYY-MM-DD.")
        return None


def clean_filters(params: dict) -> AuditFilters:
    """Filters from query parameters; ``ValidationError`` for bad dates or oversized text."""
    errors: dict[str, str] = {}
    values = {}
    for field in ("action", "actor", "q"):
        value = str(params.get(field) or "").replace("\x00", "").strip()
        if len(value) > MAX_QUERY:
            errors[field] = N_("Search with at most 100 characters.")
        values[field] = value
    date_from = _date(str(params.get("from") or "").strip(), "from", errors)
    date_to = _date(str(params.get("to") or "").strip(), "to", errors)
    if date_from and date_to and date_to < date_from:
        errors["to"] = N_("The end date is before the start date.")
    if errors:
        raise ValidationError(errors)
    return AuditFilters(date_from=date_from, date_to=date_to, **values)


def _encode(at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        at, _, row_id = base64.urlsafe_b64decode(cursor.encode()[:200]).decode().partition("|")
        return datetime.fromisoformat(at), int(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": N_("This page link is not valid any more.")}) from exc


async def list_audit(
    company_id: int, filters: AuditFilters, *, cursor: str = "", zone: str = "UTC", per_page: int = PER_PAGE
) -> AuditPage:
    """Newest first, keyset-paginated on (at, id); dates are days in the company's timezone."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone or "UTC")
    where = ["company_id = $1"]
    args: list[Any] = [company_id]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if filters.action:
        where.append(f"action ILIKE {arg(sql.like(filters.action))}")
    if filters.actor:
        where.append(f"(actor_label ILIKE {arg(sql.like(filters.actor))} OR actor_address ILIKE ${len(args)})")
    if filters.q:
        p = arg(sql.like(filters.q))
        where.append(f"(target_label ILIKE {p} OR target_type ILIKE {p} OR target_id ILIKE {p})")
    if filters.date_from:
        where.append(f"at >= {arg(datetime.combine(filters.date_from, time(), tz))}")
    if filters.date_to:
        where.append(f"at < {arg(datetime.combine(filters.date_to + timedelta(days=1), time(), tz))}")
    if cursor:
        at, row_id = _decode(cursor)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        where.append(f"(at, id) < ({arg(at)}, {arg(row_id)})")
    rows = await sql.fetch(
        f"""SELECT id, actor_user_id, actor_label, actor_address, action, target_type, target_id,
                   target_label, before, after, at
            FROM audit_event WHERE {" AND ".join(where)}
            ORDER BY at DESC, id DESC LIMIT {int(per_page) + 1}""",
        *args,
    )
    items = [
        {
            **dict(r),
            "before": json.loads(r["before"]) if r["before"] else None,
            "after": json.loads(r["after"]) if r["after"] else None,
        }
        for r in rows[:per_page]
    ]
    next_cursor = _encode(rows[per_page - 1]["at"], rows[per_page - 1]["id"]) if len(rows) > per_page else None
    return AuditPage(items, next_cursor)
