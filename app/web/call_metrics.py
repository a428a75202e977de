"""``/metrics/calls``: calls per agent or department over a period, with their definitions,
and the same rows as CSV (``/metrics/calls.csv``). Figures: ``app.domain.call_metrics``."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from litestar import Controller, Request, Response, get
from litestar.response import Template

from app.domain import metrics
from app.domain.call_metrics import calls_by
from app.domain.errors import ValidationError
from app.i18n import N_
from app.web.metrics import csv_cell
from app.web.security import supervisors

CSV_COLUMNS = [
    ("label", "group"),
    ("handled", "handled"),
    ("missed", "missed"),
    ("talk", "talk_time_s"),
    ("avg_wait", "average_wait_s"),
]


async def _run(request: Request) -> tuple[metrics.Query, str, list[dict]]:
    company_id = request.user.company_id
    params = dict(request.query_params)
    group = str(params.get("group") or "agent")
    if group not in ("agent", "department"):
        raise ValidationError({"group": N_("Choose one from the list.")})
    tz = await metrics.company_zone(company_id)
    today = datetime.now(UTC).astimezone(tz).date()
    query = metrics.parse_query({k: v for k, v in params.items() if k in ("from", "to")}, today)
    start, _ = metrics.day_bounds(query.start_day, tz)
    _, end = metrics.day_bounds(query.end_day, tz)
    return query, group, await calls_by(company_id, start, end, group)


class CallMetricsController(Controller):
    guards = [supervisors]

    @get("/metrics/calls")
    async def page(self, request: Request) -> Template:
        params = dict(request.query_params)
        try:
            query, group, rows = await _run(request)
        except ValidationError as exc:
            return Template(
                "metrics/calls.html",
                context={"params": params, "errors": exc.errors, "rows": [], "query": None, "group": "agent"},
                status_code=400,
            )
        return Template(
            "metrics/calls.html",
            context={
                "params": params,
                "errors": {},
                "rows": rows,
                "query": query,
                "group": group,
                "csv_query": request.url.query,
            },
        )

    @get("/metrics/calls.csv")
    async def export(self, request: Request) -> Response:
        query, group, rows = await _run(request)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["from", "to", *[name for _, name in CSV_COLUMNS]])
        for row in rows:
            writer.writerow(
                [
                    query.start_day.isoformat(),
                    query.end_day.isoformat(),
                    *[csv_cell(row[attr]) for attr, _ in CSV_COLUMNS],
                ]
            )
        filename = f"calls-{group}-{query.start_day.isoformat()}-{query.end_day.isoformat()}.csv"
        return Response(
            buf.getvalue().encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
