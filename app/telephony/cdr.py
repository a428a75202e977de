"""Call history: reads of Asterisk's ``cdr`` table (never written by us).

A company's CDRs are those whose ``accountcode`` is the company's (``sb<id>``): our endpoints
carry it and Asterisk copies it into every CDR (``cdr_pgsql`` / ``cdr_adaptive_odbc``). The
table has no primary key, so pages are keyset-paginated on ``(start, uniqueid)`` newest first,
served by ``cdr_account_start_idx``; search finds caller, callee or caller-id
name: texts of three characters or more through the account-scoped 3-gram GIN index of
migration sb_0036, shorter ones (which match densely anyway) by walking the history (no
trigram extension is needed, so it works on any PostgreSQL). ``start`` is Asterisk's ``timestamp without time zone``, read
as UTC (set ``timezone=UTC`` in cdr_pgsql.conf).
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.domain import sql
from app.domain.csv_cells import safe_cell
from app.domain.errors import ValidationError
from app.i18n import N_
from app.telephony.live import account_code

SPARSE = 2000  # fewer matches than this: sort them rather than walk the history
MAX_OFFSET = 1_000_000  # page/limit beyond this: use the keyset cursor
# The expression of migration sb_0036's GIN index (the planner uses it only when spelt the same).
GRAMS = "sb_cdr_grams(accountcode, src, dst, clid, channel, dstchannel)"
TOTAL_CAP = SPARSE  # totals are exact up to this many matches (the search probe counts that far)
DISPOSITIONS = ["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"]
COLUMNS = 'start, answer, "end", src, dst, clid, channel, dstchannel, lastapp, duration, billsec, disposition, uniqueid, linkedid'
CSV_FIELDS = [
    "start",
    "answer",
    "end",
    "src",
    "dst",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "duration",
    "billsec",
    "disposition",
    "uniqueid",
    "linkedid",
]


@dataclass(frozen=True)
class CdrFilter:
    search: str = ""
    start_date: date | None = None
    end_date: date | None = None
    disposition: str = ""
    min_duration: int = 0


@dataclass
class CdrPage:
    rows: list[dict]
    next_cursor: str | None
    filters: CdrFilter
    total: int | None = None  # known for free when the search probe counted every match


def _date(raw: object, field: str, errors: dict) -> date | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        errors[field] = N_("Enter a date as YYYY-MM-DD.")
        return None


def parse_filter(params: dict) -> CdrFilter:
    """Query parameters -> filter; accepts seed 004's names (startDate, endDate) too."""
    errors: dict[str, str] = {}
    search = str(params.get("q") or params.get("search") or "").strip()
    if len(search) > 80:
        errors["q"] = N_("Search with at most 80 characters.")
    start = _date(params.get("from") or params.get("startDate"), "from", errors)
    end = _date(params.get("to") or params.get("endDate"), "to", errors)
    if start and end and end < start:
        errors["to"] = N_("The end date is before the start date.")
    disposition = str(params.get("disposition") or "").strip().upper()
    if disposition and disposition not in DISPOSITIONS:
        errors["disposition"] = N_("Choose one of the options.")
    try:
        min_duration = int(str(params.get("min_duration") or 0))
        if not 0 <= min_duration <= 86400:
            raise ValueError
    except ValueError:
        errors["min_duration"] = N_("Enter seconds from 0 to 86400.")
        min_duration = 0
    if errors:
        raise ValidationError(errors)
    return CdrFilter(search, start, end, disposition, min_duration)


def grams(account: str, text: str) -> list[str]:
    """The account-scoped 3-character pieces of ``text`` (as migration sb_0036's
    ``sb_cdr_grams``): a row containing ``text`` in one field has all of them."""
    text = text.lower()
    return sorted({f"{account}:{text[i : i + 3]}" for i in range(len(text) - 2)})


async def count_cdr(company_id: int, f: CdrFilter, *, cap: int = TOTAL_CAP) -> int:
    """How many calls match ``f`` (the seed's history shows a total), counting at most
    ``cap + 1``: exact counts of dense searches (20,000 to 100,000 matches in 1M rows) took
    120-480 ms, and a cap of 10,000 still 220 ms at p95 (tests/benchmarks/bench_cdr_search.py)."""
    where, args = _where(company_id, f, None)
    return await sql.fetchval(f"SELECT count(*) FROM (SELECT 1 FROM cdr WHERE {where} LIMIT {cap + 1}) s", *args)  # noqa: S608


def encode_cursor(start: datetime, uniqueid: str) -> str:
    return base64.urlsafe_b64encode(f"{start.isoformat()}|{uniqueid}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, uniqueid = raw.partition("|")
        return datetime.fromisoformat(when), uniqueid
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": N_("This page link is not valid any more.")}) from exc


def _where(company_id: int, f: CdrFilter, cursor: str | None, *, by_pieces: bool = True) -> tuple[str, list]:
    """SQL conditions and arguments. ``by_pieces``: add the 3-gram condition, which lets the
    GIN index find rare matches but costs a function call per row on a walk of the history."""
    args: list = [account_code(company_id)]
    clauses = ["accountcode = $1"]
    if f.start_date:
        args.append(datetime.combine(f.start_date, datetime.min.time()))
        clauses.append(f"start >= ${len(args)}")
    if f.end_date:
        args.append(datetime.combine(f.end_date + timedelta(days=1), datetime.min.time()))
        clauses.append(f"start < ${len(args)}")
    if f.disposition:
        args.append(f.disposition)
        clauses.append(f"disposition = ${len(args)}")
    if f.min_duration:
        args.append(f.min_duration)
        clauses.append(f"duration >= ${len(args)}")
    if f.search:
        like = "%" + f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args.extend([like, like.lower()])
        a, b = len(args) - 1, len(args)
        match = f"src LIKE ${a} OR dst LIKE ${a} OR lower(btrim(split_part(clid, '<', 1), ' \"')) LIKE ${b}"
        if f.search.isdigit():
            # An extension: the calls its phone placed or answered (a queue call's dst is the
            # queue's number; the member is only in dstchannel, e.g. PJSIP/1002-0000000a).
            args.extend(["PJSIP/" + f.search + "%", "SIP/" + f.search + "%"])
            c, d = len(args) - 1, len(args)
            match += f" OR channel LIKE ${c} OR channel LIKE ${d} OR dstchannel LIKE ${c} OR dstchannel LIKE ${d}"
        clauses.append(f"({match})")
        pieces = grams(args[0], f.search)
        if pieces and by_pieces:
            args.append(pieces)
            clauses.append(f"{GRAMS} @> ${len(args)}::text[]")
    if cursor:
        when, uniqueid = decode_cursor(cursor)
        args.extend([when, uniqueid])
        clauses.append(f"(start, uniqueid) < (${len(args) - 1}, ${len(args)})")
    return " AND ".join(clauses), args


@sql.on_replica  # the history (and export_csv's batches): the read replica when there is one
async def search_cdr(
    company_id: int, f: CdrFilter, *, cursor: str | None = None, limit: int = 25, offset: int = 0
) -> CdrPage:
    order = "start DESC, uniqueid DESC"
    sparse = False
    total = None
    if f.search and not offset:
        # Walking the company's rows newest first is fast when matches are dense, and slow
        # when they are rare (a number called a few times in a million rows). A bounded probe
        # tells which: rare matches are fetched through the 3-gram index and sorted instead
        # (the ``+ interval`` keeps the planner off the start-order index).
        # The probe uses the search alone: that is what the 3-gram index answers cheaply.
        probe_where, probe_args = _where(company_id, CdrFilter(search=f.search), None)
        probe = await sql.fetchval(
            f"SELECT count(*) FROM (SELECT 1 FROM cdr WHERE {probe_where} LIMIT {SPARSE}) s",
            *probe_args,  # noqa: S608
        )
        if f == CdrFilter(search=f.search):
            total = probe  # exact below SPARSE (= TOTAL_CAP), "at least" from there
        if probe < SPARSE:
            sparse = True
            order = "start + interval '0 seconds' DESC, uniqueid DESC"
    where, args = _where(company_id, f, cursor, by_pieces=sparse)
    args.extend([limit + 1, offset])
    rows = await sql.fetch(
        f"SELECT {COLUMNS} FROM cdr WHERE {where} ORDER BY {order} LIMIT ${len(args) - 1} OFFSET ${len(args)}",  # noqa: S608
        *args,
    )
    items = [dict(r) for r in rows[:limit]]
    more = len(rows) > limit and items and items[-1]["start"] is not None
    return CdrPage(items, encode_cursor(items[-1]["start"], items[-1]["uniqueid"] or "") if more else None, f, total)


def _cell(value: object) -> str:
    """CSV cell safe from spreadsheet formula injection (the app's one rule: app.domain.csv_cells)."""
    return str(safe_cell(value))


async def export_csv(
    company_id: int, f: CdrFilter, *, max_rows: int = 100_000, batch: int = 5000
) -> AsyncIterator[bytes]:
    """The filtered history as CSV, read in keyset batches (constant memory)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    yield buf.getvalue().encode()
    cursor, sent = None, 0
    while sent < max_rows:
        page = await search_cdr(company_id, f, cursor=cursor, limit=min(batch, max_rows - sent))
        buf.seek(0)
        buf.truncate()
        for row in page.rows:
            writer.writerow([_cell(row[k]) for k in CSV_FIELDS])
        sent += len(page.rows)
        yield buf.getvalue().encode()
        if not page.next_cursor:
            break
        cursor = page.next_cursor
