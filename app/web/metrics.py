"""``/metrics``: response and resolution times per agent, department, channel or day, with
their definitions on the page, and the same figures as CSV (``/metrics.csv``)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from litestar import Controller, Request, Response, get
from litestar.response import Template

from app.domain import metrics, sql
from app.domain.csv_cells import safe_cell
from app.domain.errors import ValidationError
from app.i18n import gettext
from app.web.security import supervisors

CSV_COLUMNS = [
    ("label", "group"),
    ("new_conversations", "new_conversations"),
    ("assigned", "assignments"),
    ("customer_messages", "customer_messages"),
    ("agent_messages", "agent_messages"),
    ("bot_messages", "bot_messages"),
    ("first_responses", "first_responses"),
    ("frt_assign_avg", "first_response_from_assignment_avg_s"),
    ("frt_assign_median", "first_response_from_assignment_median_s"),
    ("frt_created_avg", "first_response_from_creation_avg_s"),
    ("within_target", "first_responses_within_target"),
    ("within_target_pct", "within_target_pct"),
    ("resolved", "resolved"),
    ("resolution_avg", "resolution_avg_s"),
    ("resolution_median", "resolution_median_s"),
    ("reinjections", "reinjections"),
]


def csv_cell(value: object) -> object:
    """A cell safe from spreadsheet formula injection: text starting with = + - @ (or a tab or
    carriage return) is prefixed with an apostrophe; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, int):
        return value
    return safe_cell(value)


async def _choices(company_id: int) -> dict:
    return {
        "departments": await sql.fetch(
            "SELECT id, name FROM department WHERE company_id = $1 ORDER BY lower(name)", company_id
        ),
        "channels": await sql.fetch(
            "SELECT id, name FROM channel WHERE company_id = $1 ORDER BY lower(name)", company_id
        ),
        "agents": await sql.fetch(
            "SELECT id, name FROM app_user WHERE company_id = $1 ORDER BY lower(name)", company_id
        ),
    }


async def _run(request: Request) -> tuple[metrics.Query, list[metrics.Row]]:
    company_id = request.user.company_id
    tz = await metrics.company_zone(company_id)
    today = datetime.now(UTC).astimezone(tz).date()
    query = metrics.parse_query(dict(request.query_params), today)
    await metrics.check_ids(company_id, query.filters)
    return query, await metrics.compute_query(company_id, query)


def _label(row: metrics.Row, query: metrics.Query) -> str:
    if query.group_by == "total":
        return gettext("All")
    if row.key is None:
        return {"agent": gettext("Business phone"), "department": gettext("No department")}.get(query.group_by, "—")
    return row.label or f"#{row.key}"


class MetricsController(Controller):
    guards = [supervisors]

    @get("/metrics")
    async def page(self, request: Request) -> Template:
        company_id = request.user.company_id
        params = dict(request.query_params)
        context: dict = {"params": params, "errors": {}, "rows": [], "query": None, **await _choices(company_id)}
        try:
            query, rows = await _run(request)
        except ValidationError as exc:
            context["errors"] = exc.errors
            return Template("metrics/page.html", context=context, status_code=400)
        totals = None
        if query.group_by != "total" and len(rows) > 1:
            totals = (await metrics.compute_query(company_id, query, group_by="total"))[0]
        context.update(
            query=query, rows=[(r, _label(r, query)) for r in rows], totals=totals, csv_query=request.url.query
        )
        return Template("metrics/page.html", context=context)

    @get("/metrics.csv")
    async def export(self, request: Request) -> Response:
        query, rows = await _run(request)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["from", "to", *[name for _, name in CSV_COLUMNS]])
        for row in rows:
            values = {**row.__dict__, "label": _label(row, query)}
            writer.writerow(
                [
                    query.start_day.isoformat(),
                    query.end_day.isoformat(),
                    *[csv_cell(values[attr]) for attr, _ in CSV_COLUMNS],
                ]
            )
        filename = f"metrics-{query.group_by}-{query.start_day.isoformat()}-{query.end_day.isoformat()}.csv"
        return Response(
            buf.getvalue().encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
