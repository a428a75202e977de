"""Likely duplicates of a contact, offered on the merge page before anyone searches.

A duplicate rarely has exactly the same name ("Jean Dupont" and "Dupont", "J. Dupont", or a
WhatsApp profile name): contacts sharing a word of the name (two letters or more) or the
last eight digits of the phone are offered, those sharing most first.
"""

from __future__ import annotations

import asyncpg

from app.domain import sql

LIMIT = 20


def _words(name: str | None) -> list[str]:
    cleaned = "".join(ch if ch.isalnum() else " " for ch in (name or "").lower())
    return sorted({w for w in cleaned.split() if len(w) >= 2})[:8]


async def likely_duplicates(company_id: int, contact: asyncpg.Record) -> list[asyncpg.Record]:
    words = _words(contact["name"])
    digits = "".join(ch for ch in (contact["phone"] or "") if ch.isdigit())[-8:]
    if not words and len(digits) < 6:
        return []
    return await sql.fetch(
        """WITH scored AS (
               SELECT ct.id,
                      (SELECT count(*) FROM unnest($3::text[]) w
                       WHERE lower(ct.name) ~ ('(^|[^[:alnum:]])' || w || '([^[:alnum:]]|$)'))
                      + CASE WHEN length($4) >= 6
                                  AND right(regexp_replace(coalesce(ct.phone, ''), '\\D', '', 'g'), 8) = $4
                             THEN 3 ELSE 0 END AS score
               FROM contact ct
               WHERE ct.company_id = $1 AND ct.id <> $2 AND ct.deleted_at IS NULL
                 AND (lower(ct.name) LIKE ANY (SELECT '%' || w || '%' FROM unnest($3::text[]) w)
                      OR (length($4) >= 6 AND ct.phone LIKE '%' || $4)))
           SELECT ct.id, ct.phone, ct.name, s.score,
                  (SELECT count(*) FROM conversation c WHERE c.contact_id = ct.id) AS conversations
           FROM scored s JOIN contact ct ON ct.id = s.id
           WHERE s.score > 0
           ORDER BY s.score DESC, lower(ct.name), ct.id
           LIMIT $5""",
        company_id,
        contact["id"],
        words,
        digits,
        LIMIT,
    )
