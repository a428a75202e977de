"""Asterisk's Realtime and CDR tables in our database match Asterisk's own schema exactly.

The reference is ``tests/fixtures/asterisk-schema/columns.md``: the column lists dumped from
databases migrated with Asterisk 22.10.1's ``contrib/ast-db-manage`` (see SOURCES.md).
"""

import re
from pathlib import Path

import pytest

from app.domain import sql

COLUMNS_MD = Path(__file__).resolve().parent.parent / "fixtures" / "asterisk-schema" / "columns.md"
TABLES = [
    "sippeers",
    "ps_endpoints",
    "ps_auths",
    "ps_aors",
    "ps_contacts",
    "ps_registrations",
    "ps_endpoint_id_ips",
    "ps_transports",
    "queues",
    "queue_members",
    "queue_rules",
    "cdr",
]


def reference() -> dict[str, list[tuple[str, str, bool]]]:
    text = COLUMNS_MD.read_text()
    tables = {}
    for match in re.finditer(r"^### (\w+) \(.*?\)\n\n(.+?)$", text, re.M):
        cols = []
        for item in match.group(2).split(", "):
            parts = item.split(" ")
            cols.append((parts[0], parts[1], item.endswith("NOT NULL")))
        tables[match.group(1)] = cols
    return tables


def pg_type(row) -> str:
    if row["data_type"] == "character varying":
        return f"varchar({row['character_maximum_length']})"
    if row["data_type"] == "USER-DEFINED":
        return row["udt_name"]
    return {
        "timestamp without time zone": "timestamp",
        "double precision": "float",
    }.get(row["data_type"], row["data_type"])


def test_reference_lists_every_table_we_check():
    ref = reference()
    assert set(TABLES) <= set(ref), set(TABLES) - set(ref)
    assert len(ref["ps_endpoints"]) == 147 and ref["cdr"][0] == ("accountcode", "varchar(80)", False)


@pytest.mark.parametrize("table", TABLES)
async def test_table_matches_asterisk(table):
    expected = reference()[table]
    rows = await sql.fetch(
        """SELECT column_name, data_type, udt_name, character_maximum_length, is_nullable
           FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1
           ORDER BY ordinal_position""",
        table,
    )
    actual = [(r["column_name"], pg_type(r), r["is_nullable"] == "NO") for r in rows]
    assert actual == expected


async def test_queue_members_uniqueid_has_no_default_and_is_unique():
    default = await sql.fetchval(
        """SELECT column_default FROM information_schema.columns
           WHERE table_name = 'queue_members' AND column_name = 'uniqueid'"""
    )
    assert default is None
    keys = await sql.fetch(
        "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = 'queue_members'::regclass"
    )
    defs = sorted(k["d"] for k in keys)
    assert "PRIMARY KEY (queue_name, interface)" in defs and "UNIQUE (uniqueid)" in defs


async def test_cdr_has_no_primary_key_and_quoted_end_column():
    pk = await sql.fetchval("SELECT count(*) FROM pg_constraint WHERE conrelid = 'cdr'::regclass AND contype = 'p'")
    assert pk == 0
    await sql.execute('INSERT INTO cdr (src, "end") VALUES ($1, now())', "1001")
    assert await sql.fetchval('SELECT count(*) FROM cdr WHERE "end" IS NOT NULL') == 1


async def test_piccolo_mirrors_match_our_tables():
    from app.telephony.tables import TELEPHONY_TABLES

    for table in TELEPHONY_TABLES:
        name = table._meta.tablename
        columns = {
            r["column_name"]
            for r in await sql.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = $1", name)
        }
        assert {c._meta.db_column_name for c in table._meta.columns} == columns, name
    company_id = await sql.fetchval("INSERT INTO company (name) VALUES ('x') RETURNING id")
    from app.telephony.tables import PbxOwnership

    await PbxOwnership(company_id=company_id, kind="queue", name="sales").save()
    assert await PbxOwnership.count() == 1
