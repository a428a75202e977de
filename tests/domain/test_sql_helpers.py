"""The small query helpers written once: LIKE patterns, page counts, department ids."""

from __future__ import annotations

import pytest

from app.domain import sql
from app.domain.departments import departments_exist
from tests.factories import make_company, make_department


@pytest.mark.nodb
def test_like_matches_anywhere_and_takes_wildcards_literally():
    assert sql.like("ab") == "%ab%"
    assert sql.like("50%_off\\") == "%50\\%\\_off\\\\%"


async def test_like_in_postgresql(app):
    rows = ["50% off", "500 off", "a_b", "axb", "back\\slash"]
    for text, expected in [
        ("50%", ["50% off"]),
        ("a_b", ["a_b"]),
        ("\\", ["back\\slash"]),
        ("OFF", ["50% off", "500 off"]),
    ]:
        found = await sql.fetch("SELECT t FROM unnest($1::text[]) t WHERE t ILIKE $2 ORDER BY t", rows, sql.like(text))
        assert [r["t"] for r in found] == expected, text


@pytest.mark.nodb
@pytest.mark.parametrize("total, pages", [(0, 1), (1, 1), (25, 1), (26, 2), (50, 2), (51, 3)])
def test_page_count(total, pages):
    assert sql.page_count(total, 25) == pages


async def test_departments_exist_only_in_their_company(app):
    mine, theirs = await make_company(), await make_company()
    a, b = await make_department(mine), await make_department(mine)
    other = await make_department(theirs)
    assert await departments_exist(mine.id, [a.id, b.id])
    assert await departments_exist(mine.id, [a.id, a.id])
    assert not await departments_exist(mine.id, [a.id, other.id])
    assert not await departments_exist(mine.id, [0])
    assert not await departments_exist(mine.id, [2**40])
