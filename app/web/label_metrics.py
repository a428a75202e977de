"""The metrics page's labels table (``/metrics/labels``, loaded by the page) and its CSV
(``/metrics/labels.csv``), for the page's period and filters (``app.domain.label_metrics``)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from litestar import Controller, Request, Response, get
from litestar.response import Template

from app.domain import metrics
from app.domain.label_metrics import label_figures
from app.web.metrics import csv_cell
from app.web.security import supervisors


async def _figures(request: Request):
    company_id = request.user.company_id
    tz = await metrics.company_zone(company_id)
    query = metrics.parse_query(dict(request.query_params), datetime.now(UTC).astimezone(tz).date())
    await metrics.check_ids(company_id, query.filters)
    start, end = (
        metrics.day_bounds(query.start_day, tz)[0],
        metrics.day_bounds(query.end_day, tz)[1],
    )
    rows = await label_figures(
        company_id,
        start,
        end,
        department_id=query.filters.department_id,
        channel_id=query.filters.channel_id,
    )
    return query, rows


class LabelMetricsController(Controller):
    guards = [supervisors]

    @get("/metrics/labels")
    async def table(self, request: Request) -> Template:
        query, rows = await _figures(request)
        return Template(
            "metrics/_labels.html",
            context={"rows": rows, "csv_query": request.url.query},
        )

    @get("/metrics/labels.csv")
    async def export(self, request: Request) -> Response:
        query, rows = await _figures(request)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["from", "to", "label", "created", "resolved", "open_now"])
        for r in rows:
            writer.writerow(
                [
                    query.start_day.isoformat(),
                    query.end_day.isoformat(),
                    csv_cell(r["name"]),
                    r["created"],
                    r["resolved"],
                    r["open_now"],
                ]
            )
        filename = f"metrics-labels-{query.start_day.isoformat()}-{query.end_day.isoformat()}.csv"
        return Response(
            buf.getvalue().encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
