"""Labels in the metrics: per label, the conversations of a period (created, resolved) and
those open now, with the metrics page's department and channel filters. A conversation with
two labels counts under both."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.domain import sql


async def label_figures(
    company_id: int,
    start: datetime,
    end: datetime,
    *,
    department_id: int | None = None,
    channel_id: int | None = None,
) -> list[asyncpg.Record]:
    return await sql.fetch(
        """SELECT l.id, l.name, l.colour,
                  count(c.id) FILTER (WHERE c.created_at >= $2 AND c.created_at < $3) AS created,
                  count(c.id) FILTER (WHERE c.resolved_at >= $2 AND c.resolved_at < $3) AS resolved,
                  count(c.id) FILTER (WHERE c.status <> 'resolved') AS open_now
           FROM label l
           LEFT JOIN conversation_label cl ON cl.label_id = l.id
           LEFT JOIN conversation c ON c.id = cl.conversation_id
                AND ($4::int IS NULL OR c.department_id = $4) AND ($5::int IS NULL OR c.channel_id = $5)
           WHERE l.company_id = $1
           GROUP BY l.id ORDER BY lower(l.name), l.id""",
        company_id,
        start,
        end,
        department_id,
        channel_id,
    )
