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

import re

import pytest

from app.domain import sql
from app.web.security import PUBLIC_PATHS
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import csrf, login, post_form

MARKER = "ZZTENANTA"
MISSING = 987_654
# Not company-scoped by the login session: public, or a stream that never ends.
SKIP = [*PUBLIC_PATHS, r"^/events$", r"^/logout$", r"^/static", r"^/schema"]
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
        "INSERT INTO contact (company_id, phone, name, details) VALUES ($1, '+33600000042', $2, $3) RETURNING id", a.id, f"{MARKER} Contact", MARKER
    )
    second_contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33600000043', $2) RETURNING id", a.id, f"{MARKER} Other"
    )
    past = await make_conversation(a, channel, status="resolved", department=dep, contact_id=contact)
    conv = await make_conversation(a, channel, status="assigned", department=dep, contact_id=second_contact)
    await sql.execute("UPDATE conversation SET assigned_user_id = $2 WHERE id = $1", conv, agent.id)
    message = await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', $4, 'received') RETURNING id""",
        a.id, channel, conv, f"{MARKER} secret message",
    )
    ids = {"company": a, "conversation_id": conv, "past_id": past, "channel_id": channel, "user_id": agent.id,
           "department_id": dep.id, "contact_id": contact, "duplicate_id": second_contact, "message_id": message}
    quick_reply = await sql.fetchval(
        "INSERT INTO quick_reply (company_id, shortcut, text) VALUES ($1, 'zz', $2) RETURNING id", a.id, f"{MARKER} reply"
    )
    ids["quick_reply_id"] = quick_reply
    await sql.execute("INSERT INTO holiday (company_id, day, label) VALUES ($1, '2026-12-25', $2)", a.id, MARKER)
    await login(client, admin.email)
    response = await post_form(client, "/admin/pbx/extensions/", {"number": "4242", "name": f"{MARKER} Phone", "codecs": ["ulaw"]})
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
            f'SELECT md5(coalesce(string_agg(x::text, \'|\' ORDER BY x::text), \'\')) FROM "{name}" x WHERE company_id = $1',
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
        "department_id": str(ids["department_id"]), "department_ids": [str(ids["department_id"])],
        "user_id": str(ids["user_id"]), "duplicate_id": str(ids["duplicate_id"]), "channel_id": str(ids["channel_id"]),
        "contact_id": str(ids["contact_id"]), "conversation_id": str(ids["conversation_id"]),
        "default_department_id": str(ids["department_id"]), "text": "hello", "note": "note", "name": "B's thing",
        "email": "b-thing@example.test", "role": "agent", "capacity": "3", "password": "a-long-password-1",
        "shortcut": "bthing", "code": "BT", "provider": "sandbox", "day0": "09:00-10:00", "timezone": "UTC",
        "language": "en", "presence": "online",
    }


@pytest.fixture
async def attacker(client):
    # B first: the test client runs requests in this task's context, so rows made by factories
    # after A's admin logged in would name A's admin as their audit actor.
    b = await make_company("Company B")
    await make_department(b, "B's own")
    admin_b = await make_user(b, "admin", name="Bob B")
    ids = await build_company_a(client)
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
        if response.status_code not in ALLOWED:
            problems.append(f"{method} {path} -> {response.status_code}")
        elif MARKER in response.text:
            problems.append(f"{method} {path} -> {response.status_code} shows company A's data")
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
            problems.append(f"{method} {path} -> {response.status_code} shows company A's data: {response.text[i-300:i+100]!r}")
    assert await snapshot(a.id) == before, "company A's rows changed"
    assert await cross_company_references() == []
    assert problems == [], "\n".join(problems)


def test_every_path_parameter_name_is_known(app):
    """A new route with an id parameter this file cannot fill would only be tried with a
    missing id: extend ``build_company_a`` for it."""
    known = {"conversation_id", "past_id", "channel_id", "user_id", "department_id", "contact_id", "message_id",
             "quick_reply_id", "object_id"}
    unknown = sorted({f"{name} in {path}" for _, path in routes(app) for name, kind in PARAM.findall(path)
                      if kind == "int" and name not in known})
    assert unknown == []
