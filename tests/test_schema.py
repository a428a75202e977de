"""The Piccolo ``Table`` classes are the true description of the migrated schema.

Every table the migrations create (except Asterisk's own, created from Asterisk's DDL shipped
verbatim in ``app/telephony/sql/``) has a class registered in ``app.piccolo_app``, and each
class has exactly the table's columns, with the same type, length, nullability and primary
key. A migration that adds a column without describing it (or a class that invents one) fails
here, naming every difference at once.
"""

from __future__ import annotations

import re

import pytest
from piccolo.columns import Array

from app.domain import sql
from app.piccolo_app import APP_CONFIG
from app.settings import ROOT

# Piccolo column class -> PostgreSQL's udt_name.
UDT = {
    "Varchar": "varchar",
    "Char": "bpchar",
    "Text": "text",
    "Integer": "int4",
    "Serial": "int4",
    "BigInt": "int8",
    "BigSerial": "int8",
    "SmallInt": "int2",
    "Boolean": "bool",
    "Timestamptz": "timestamptz",
    "Timestamp": "timestamp",
    "Date": "date",
    "JSONB": "jsonb",
    "JSON": "json",
    "Bytea": "bytea",
    "Numeric": "numeric",
    "DoublePrecision": "float8",
    "Real": "float4",
    "UUID": "uuid",
}


def asterisk_tables() -> set[str]:
    """Tables created by Asterisk's own DDL (their description is Asterisk's, not ours)."""
    names = set()
    for path in (ROOT / "app" / "telephony" / "sql").glob("*.sql"):
        names |= set(re.findall(r"CREATE TABLE (\w+)", path.read_text()))
    names.discard("alembic_version")
    return names | {"alembic_version_config", "alembic_version_cdr"}


def udt_of(column) -> str:
    if isinstance(column, Array):
        return "_" + UDT[type(column.base_column).__name__]
    return UDT[type(column).__name__]


def described() -> dict[str, dict[str, tuple]]:
    """Each registered table: column -> (udt, length, nullable, primary key)."""
    tables = {}
    for table in APP_CONFIG.table_classes:
        columns = {}
        for column in table._meta.columns:
            length = getattr(column, "length", None)
            columns[column._meta.db_column_name] = (udt_of(column), length, column._meta.null, column._meta.primary_key)
        tables[table._meta.tablename] = columns
    return tables


async def migrated(defaults: dict[tuple[str, str], str] | None = None) -> dict[str, dict[str, tuple]]:
    """Each table of the database: column -> (udt, length, nullable, primary key); ``defaults``
    gets each column's default expression, for the suggestions of a failure."""
    rows = await sql.fetch(
        """SELECT c.table_name, c.column_name, c.udt_name, c.character_maximum_length AS length,
                  c.is_nullable = 'YES' AS nullable, coalesce(c.column_default, '') AS column_default,
                  EXISTS (SELECT 1 FROM information_schema.table_constraints tc
                          JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
                          WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'
                            AND k.table_name = c.table_name AND k.column_name = c.column_name) AS primary_key
           FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           ORDER BY c.table_name, c.ordinal_position"""
    )
    tables: dict[str, dict[str, tuple]] = {}
    for r in rows:
        if defaults is not None:
            defaults[r["table_name"], r["column_name"]] = r["column_default"]
        tables.setdefault(r["table_name"], {})[r["column_name"]] = (
            r["udt_name"],
            r["length"],
            r["nullable"],
            r["primary_key"],
        )
    return tables


def differences(code: dict, database: dict) -> list[str]:
    found = []
    for name in sorted(database.keys() - code.keys()):
        found.append(f"table {name}: migrated, but no Table class describes it")
    for name in sorted(code.keys() - database.keys()):
        found.append(f"table {name}: described, but no migration creates it")
    for name in sorted(code.keys() & database.keys()):
        mine, theirs = code[name], database[name]
        for column in sorted(theirs.keys() - mine.keys()):
            found.append(f"{name}.{column}: migrated, missing from the class")
        for column in sorted(mine.keys() - theirs.keys()):
            found.append(f"{name}.{column}: in the class, not in the database")
        composite = sum(pk for *_, pk in theirs.values()) > 1
        for column in sorted(mine.keys() & theirs.keys()):
            (udt, length, null, pk), (db_udt, db_length, db_null, db_pk) = mine[column], theirs[column]
            if udt != db_udt or (db_length is not None and length != db_length):
                found.append(f"{name}.{column}: type {udt}({length}) in the class, {db_udt}({db_length}) migrated")
            if null != db_null:
                found.append(f"{name}.{column}: null={null} in the class, {db_null} migrated")
            # Piccolo has no composite keys: the class names one column of a composite one.
            if pk != db_pk and not (composite and db_pk):
                found.append(f"{name}.{column}: primary_key={pk} in the class, {db_pk} migrated")
    return found


PICCOLO = {udt: name for name, udt in UDT.items() if name not in ("Serial", "BigSerial")}


def declaration(column: str, info: tuple, default: str) -> str:
    """The Piccolo line describing a migrated column (a suggestion printed on failure)."""
    udt, length, nullable, primary_key = info
    if udt.startswith("_"):
        kind, args = "Array", [f"{PICCOLO[udt[1:]]}()"]
    elif udt == "int4" and primary_key and default.startswith("nextval("):
        kind, args = "Serial", []
    else:
        kind, args = PICCOLO.get(udt, f"<{udt}>"), []
    if length is not None:
        args.append(f"length={length}")
    if primary_key:
        args.append("primary_key=True")
    if nullable:
        args += ["null=True", "default=None"]
    elif default == "now()":
        args.append("default=TimestamptzNow()")
    elif default in ("true", "false"):
        args.append(f"default={default.title()}")
    elif re.fullmatch(r"-?\d+", default):
        args.append(f"default={default}")
    elif match := re.fullmatch(r"'(.*)'::(character varying|text|jsonb)", default):
        args.append("default={}" if match.group(2) == "jsonb" else f'default="{match.group(1)}"')
    return f"    {column} = {kind}({', '.join(args)})"


async def test_every_table_class_matches_the_migrated_database_column_by_column(app):
    defaults: dict[tuple[str, str], str] = {}
    database = {
        name: columns
        for name, columns in (await migrated(defaults)).items()
        if name not in asterisk_tables() and name != "migration"
    }
    code = described()
    found = differences(code, database)
    if found:  # what to write, as far as the database tells
        found.append("Suggested declarations (check them against the migration):")
        for name, columns in database.items():
            missing = [c for c in columns if c not in code.get(name, {})]
            if missing:
                found.append(f'class ...(Table, tablename="{name}"):' if name not in code else f"{name}:")
                found += [declaration(c, columns[c], defaults[name, c]) for c in missing]
    assert not found, "\n".join(found)


async def test_asterisk_tables_are_exactly_those_of_asterisks_ddl(app):
    # Their enums (ast_bool_values, pjsip_*) have no Piccolo column: app.telephony.pbx reaches them in SQL.
    database = await migrated()
    assert asterisk_tables() <= database.keys()
    assert not asterisk_tables() & {table._meta.tablename for table in APP_CONFIG.table_classes}


@pytest.mark.nodb
def test_the_comparison_names_every_kind_of_difference():
    code = {
        "a": {"id": ("int4", None, False, True), "x": ("varchar", 10, False, False)},
        "only_code": {"id": ("int4", None, False, True)},
    }
    database = {
        "a": {"id": ("int4", None, False, True), "x": ("varchar", 20, True, False), "y": ("text", None, False, False)},
        "only_db": {"id": ("int4", None, False, True)},
    }
    assert differences(code, database) == [
        "table only_db: migrated, but no Table class describes it",
        "table only_code: described, but no migration creates it",
        "a.y: migrated, missing from the class",
        "a.x: type varchar(10) in the class, varchar(20) migrated",
        "a.x: null=False in the class, True migrated",
    ]


@pytest.mark.nodb
def test_a_failure_suggests_the_declarations():
    assert (
        declaration("id", ("int4", None, False, True), "nextval('x_id_seq'::regclass)")
        == "    id = Serial(primary_key=True)"
    )
    assert (
        declaration("note", ("varchar", 20, False, False), "''::character varying")
        == '    note = Varchar(length=20, default="")'
    )
    assert declaration("at", ("timestamptz", None, True, False), "") == "    at = Timestamptz(null=True, default=None)"
    assert declaration("tags", ("_text", None, False, False), "") == "    tags = Array(Text())"
    assert declaration("n", ("int4", None, False, False), "3") == "    n = Integer(default=3)"
