"""Tenant isolation, generically: every route of the app, tried by an admin of company B with
company A's ids, must answer 4xx (never 2xx/3xx on A's data, never 5xx) and never show A's data.

The routes come from the app itself (``app.routes``), so a route added later is covered without
editing this file. Path parameters are filled with company A's real ids by parameter name;
a name this file does not know falls back to an id that does not exist (and is listed by
``test_every_path_parameter_name_is_known`` so the map can be extended). Form bodies carry A's
ids too (department_id, user_id, …), and afterwards no row of company B may point at a row of
company A (checked over every foreign key of the schema).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from datetime import UTC, datetime

import asyncpg
import pytest

from app.domain import sql
from app.web.security import PUBLIC_PATHS
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import csrf, login, post_form

MARKER = "ZZTENANTA"
MISSING = 987_654
# Not company-scoped by the login session: public, or a stream that never ends.
SKIP = [*PUBLIC_PATHS, r"^/events$", r"^/api/v1/events$", r"^/logout$", r"^/static", r"^/schema"]
ALLOWED = {400, 401, 403, 404, 405, 409, 413, 415, 422}
PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def routes(app) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                if not any(re.match(p, route.path) for p in SKIP):
                    found.append((method, route.path))
    return sorted(set(found))


async def build_company_a(client) -> dict:
    """Company A with one row of everything, named with MARKER; returns ids by parameter name."""
    a = await make_company(f"{MARKER} Company")
    dep = await make_department(a, f"{MARKER} Sales", menu_position=1)
    admin = await make_user(a, "admin", name=f"{MARKER} Admin")
    agent = await make_user(a, "agent", name=f"{MARKER} Agent", departments=[dep])
    channel = await make_channel(a, department=dep)
    await sql.execute("UPDATE channel SET name = $2 WHERE id = $1", channel, f"{MARKER} Channel")
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name, details) VALUES ($1, '+33600000042', $2, $3) RETURNING id",
        a.id,
        f"{MARKER} Contact",
        MARKER,
    )
    second_contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33600000043', $2) RETURNING id",
        a.id,
        f"{MARKER} Other",
    )
    past = await make_conversation(a, channel, status="resolved", department=dep, contact_id=contact)
    conv = await make_conversation(a, channel, status="assigned", department=dep, contact_id=second_contact)
    await sql.execute("UPDATE conversation SET assigned_user_id = $2 WHERE id = $1", conv, agent.id)
    message = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', $4, 'received') RETURNING id""",
        a.id,
        channel,
        conv,
        f"{MARKER} secret message",
    )
    ids = {
        "company": a,
        "conversation_id": conv,
        "past_id": past,
        "channel_id": channel,
        "user_id": agent.id,
        "department_id": dep.id,
        "contact_id": contact,
        "duplicate_id": second_contact,
        "message_id": message,
        "client_id": contact,
    }  # seed 001's /api/clients: a client is a contact
    quick_reply = await sql.fetchval(
        "INSERT INTO quick_reply (company_id, shortcut, text) VALUES ($1, 'zz', $2) RETURNING id",
        a.id,
        f"{MARKER} reply",
    )
    ids["quick_reply_id"] = quick_reply
    await sql.execute("INSERT INTO holiday (company_id, day, label) VALUES ($1, '2026-12-25', $2)", a.id, MARKER)
    await login(client, admin.email)
    response = await post_form(
        client, "/admin/pbx/extensions/", {"number": "4242", "name": f"{MARKER} Phone", "codecs": ["ulaw"]}
    )
    assert response.status_code == 201, response.text
    ids["object_id"] = await sql.fetchval("SELECT id FROM pbx_object WHERE company_id = $1", a.id)
    client.cookies.clear()
    return ids


async def snapshot(company_id: int) -> dict[str, str]:
    """Every row of company A, table by table (to see that nothing of A changed)."""
    tables = await sql.fetch(
        """SELECT table_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND column_name = 'company_id' AND table_name <> 'audit_event'"""
    )
    result = {}
    for t in tables:
        name = t["table_name"]
        result[name] = await sql.fetchval(
            f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM \"{name}\" x WHERE company_id = $1",
            company_id,
        )
    return result


async def cross_company_references() -> list[str]:
    """Rows whose foreign key points at a row of another company (both tables have company_id)."""
    fks = await sql.fetch(
        """SELECT c.conrelid::regclass::text AS child, a.attname AS col, c.confrelid::regclass::text AS parent
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1
             AND EXISTS (SELECT 1 FROM pg_attribute x WHERE x.attrelid = c.conrelid AND x.attname = 'company_id')
             AND EXISTS (SELECT 1 FROM pg_attribute y WHERE y.attrelid = c.confrelid AND y.attname = 'company_id')
             AND a.attname <> 'company_id'"""
    )
    bad = []
    for fk in fks:
        n = await sql.fetchval(
            f'SELECT count(*) FROM {fk["child"]} c JOIN {fk["parent"]} p ON p.id = c."{fk["col"]}" WHERE c.company_id <> p.company_id'
        )
        if n:
            bad.append(f"{fk['child']}.{fk['col']} -> {fk['parent']}: {n} row(s)")
    return bad


_seq = itertools.count(1)


async def table_for(param: str) -> str | None:
    """The company-scoped table an ``<x>_id`` parameter names: ``x``, else ``*_x``."""
    stem = param.removesuffix("_id")
    rows = await sql.fetch(
        """SELECT c.table_name FROM information_schema.columns c
           WHERE c.table_schema = current_schema() AND c.column_name = 'company_id'
             AND EXISTS (SELECT 1 FROM information_schema.columns i WHERE i.table_schema = c.table_schema
                         AND i.table_name = c.table_name AND i.column_name = 'id')
             AND (c.table_name = $1 OR c.table_name LIKE '%\\_' || $1)
           ORDER BY c.table_name = $1 DESC, length(c.table_name)""",
        stem,
    )
    return rows[0]["table_name"] if rows else None


async def row_of(table: str, ids: dict, depth: int = 0) -> int | None:
    """A row of company A in ``table``: an existing one, else one made from the schema alone."""
    a = ids["company"].id
    if table == "company":
        return a
    found = await sql.fetchval(f'SELECT id FROM "{table}" WHERE company_id = $1 ORDER BY id LIMIT 1', a)
    if found is not None or depth > 3:
        return found
    columns = await sql.fetch(
        """SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory::text AS category,
                  (SELECT cf.confrelid::regclass::text FROM pg_constraint cf WHERE cf.conrelid = a.attrelid
                     AND cf.contype = 'f' AND cf.conkey = ARRAY[a.attnum]) AS parent
           FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
           WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
             AND NOT a.atthasdef AND a.attidentity = ''""",
        table,
    )
    values = {}
    for c in columns:
        if c["name"] == "company_id":
            value = a
        elif c["parent"]:
            value = await row_of(c["parent"], ids, depth + 1)
        elif c["category"] == "N":
            value = 1
        elif c["category"] == "B":
            value = False
        elif c["category"] == "D":
            value = datetime.now(UTC)
        elif c["category"] == "A":
            value = ["read"]
        elif c["type"] == "jsonb":
            value = "[]"
        elif c["category"] == "S":
            length = re.search(r"\((\d+)\)", c["type"])
            value = f"{MARKER}{next(_seq)}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            value = value[: int(length.group(1))] if length else value
        else:
            value = None
        if value is None:
            return None
        values[c["name"]] = (value, c["type"])
    names = list(values)
    placeholders = ", ".join(f"${i}::{values[n][1]}" for i, n in enumerate(names, 1))
    try:
        return await sql.fetchval(
            f'INSERT INTO "{table}" ({", ".join(chr(34) + n + chr(34) for n in names)}) VALUES ({placeholders}) RETURNING id',
            *[values[n][0] for n in names],
        )
    except asyncpg.PostgresError:
        return None  # a CHECK this generic filler cannot guess: the route is tried with a missing id


async def fill_unknown(app, ids: dict) -> dict:
    """Ids for the path parameters ``build_company_a`` does not name, found or made by table."""
    for _, path in routes(app):
        for name, kind in PARAM.findall(path):
            if kind == "int" and name not in ids:
                table = await table_for(name)
                ids[name] = (await row_of(table, ids) if table else None) or MISSING
    return ids


def fill(path: str, ids: dict) -> str:
    def value(match: re.Match) -> str:
        name, kind = match.group(1), match.group(2) or "str"
        if name in ids:
            return str(ids[name])
        return str(MISSING) if kind == "int" else "zz-missing"

    return PARAM.sub(value, path)


def form(ids: dict) -> dict:
    """A body that names A's rows wherever a form might take an id."""
    return {
        "department_id": str(ids["department_id"]),
        "department_ids": [str(ids["department_id"])],
        "user_id": str(ids["user_id"]),
        "duplicate_id": str(ids["duplicate_id"]),
        "channel_id": str(ids["channel_id"]),
        "contact_id": str(ids["contact_id"]),
        "conversation_id": str(ids["conversation_id"]),
        "default_department_id": str(ids["department_id"]),
        "text": "hello",
        "note": "note",
        "name": "B's thing",
        "email": "b-thing@example.test",
        "role": "agent",
        "capacity": "3",
        "password": "a-long-password-1",
        "shortcut": "bthing",
        "code": "BT",
        "provider": "sandbox",
        "day0": "09:00-10:00",
        "timezone": "UTC",
        "language": "en",
        "presence": "online",
    }


@pytest.fixture
def settings(settings):
    """No outbound workers: they would legitimately update A's rows (attempts) during the test."""
    return dataclasses.replace(settings, sender_enabled=False)


@pytest.fixture
async def attacker(app, client):
    # B first: the test client runs requests in this task's context, so rows made by factories
    # after A's admin logged in would name A's admin as their audit actor.
    b = await make_company("Company B")
    await make_department(b, "B's own")
    admin_b = await make_user(b, "admin", name="Bob B")
    ids = await fill_unknown(app, await build_company_a(client))
    await login(client, admin_b.email)
    return client, ids


async def test_every_company_scoped_route_refuses_another_companys_ids(app, attacker):
    client, ids = attacker
    a = ids["company"]
    before = await snapshot(a.id)
    problems: list[str] = []
    token = csrf(client)
    for method, path in routes(app):
        if not PARAM.search(path):
            continue
        url = fill(path, ids)
        if method in ("POST", "PUT", "PATCH"):
            response = await client.request(method, url, data=form(ids), headers={"x-csrftoken": token})
        else:
            response = await client.request(method, url, headers={"x-csrftoken": token})
        shows = " and shows company A's data" if MARKER in response.text else ""
        if response.status_code not in ALLOWED or shows:
            problems.append(f"{method} {path} -> {response.status_code}{shows}")
    assert await snapshot(a.id) == before, "company A's rows changed"
    assert await cross_company_references() == []
    assert problems == [], "\n".join(problems)


async def test_pages_and_forms_without_ids_never_show_or_touch_another_company(app, attacker):
    client, ids = attacker
    a = ids["company"]
    before = await snapshot(a.id)
    problems: list[str] = []
    token = csrf(client)
    for method, path in routes(app):
        if PARAM.search(path):
            continue
        if method == "GET":
            response = await client.get(path)
        else:
            response = await client.request(method, path, data=form(ids), headers={"x-csrftoken": token})
        if response.status_code >= 500 and response.status_code != 503:  # 503: PBX not configured
            problems.append(f"{method} {path} -> {response.status_code}")
        if MARKER in response.text:
            i = response.text.index(MARKER)
            problems.append(
                f"{method} {path} -> {response.status_code} shows company A's data: {response.text[i - 300 : i + 100]!r}"
            )
    assert await snapshot(a.id) == before, "company A's rows changed"
    assert await cross_company_references() == []
    assert problems == [], "\n".join(problems)


async def test_every_id_parameter_names_a_company_table(app):
    """A route whose id parameter maps to no company-scoped table could only be tried with a
    missing id: name its table so (``<x>_id`` -> ``x`` or ``*_x``), or extend ``build_company_a``."""
    known = {
        "conversation_id",
        "past_id",
        "channel_id",
        "user_id",
        "department_id",
        "contact_id",
        "message_id",
        "quick_reply_id",
        "object_id",
        "duplicate_id",
        "client_id",
    }
    unknown = sorted(
        {
            f"{name} in {path}"
            for _, path in routes(app)
            for name, kind in PARAM.findall(path)
            if kind == "int" and name not in known and await table_for(name) is None
        }
    )
    assert unknown == []
