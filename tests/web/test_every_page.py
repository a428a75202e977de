"""Every GET page of the app's route table, as each role, with real ids: never a 5xx; and
every state-changing route, sent an empty form and a form of junk: never a 5xx either.

The routes come from ``app.routes``, so a new page is visited as soon as it is registered; a
new path parameter needs one line in ``ids_for`` (the test says which one is missing). The
ids are those of a seeded company (the demo company plus an order, a past conversation, a
note, a file, PBX objects, an API key and an integrator's webhook), so edit pages render
with real rows rather than answering 404.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import httpx
import pytest

from app.demo import DEMO_PASSWORD, seed_demo
from app.domain import sql
from app.domain.api_keys import SCOPES, create_api_key
from app.domain.integrations import create_endpoint
from app.domain.media import save_upload
from app.domain.messages import queue_message
from app.domain.notes import add_note
from app.domain.orders import create_order
from app.domain.tables import User
from app.telephony import pbx
from tests.helpers import csrf, login

# GET routes not visited, each with its reason.
SKIPPED = {
    "/events": "an endless event stream (tests/realtime and the browser tests cover it)",
    "/api/v1/events": "an endless event stream (tests/api/test_events_api.py covers it)",
}
# Pages that answer 404 even to an admin with real ids, by design.
NOT_FOUND_BY_DESIGN = {
    # Only an outbound file is served to the provider, and only with the signed token.
    "/webhooks/media/{message_id:int}/{token:str}",
    # The OpenAPI UI names its plugins; an unknown one is a 404.
    "/schema/{path:str}",
    # The seeded channel is the Sandbox: a Meta handshake for it is a 404 (tests/web/test_webhooks has real ones).
    "/webhooks/meta/{channel_id:int}",
    # The seeded message is a text: it has no file to download.
    "/api/v1/messages/{message_id:int}/media",
}
# Query strings a page requires, with the same placeholders as paths.
QUERIES = {
    "/inbox/{conversation_id:int}/timeline": "?before={message_id:int}",
    "/api/v1/messages": "?q=hello",
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PARAM = re.compile(r"\{(\w+):\w+\}")


@dataclass
class Seeded:
    company_id: int
    emails: dict[str, str]  # role -> email
    ids: dict[str, int | str]  # key of ids_for -> value
    api_key: str


async def seed(data_dir) -> Seeded:
    logins = await seed_demo()
    emails = {role: email for role, email in reversed(logins)}  # the first user of each role
    admin = await User.objects().where(User.email == emails["admin"]).first()
    company_id = admin.company_id
    # The integrator's endpoint first: the order then queues a delivery to it.
    endpoint = await create_endpoint(company_id, {"url": "http://127.0.0.1:9/hooks", "events": ["order.created"]})
    order, _ = await create_order(
        company_id,
        {"phone": "+33612345678", "name": "Zoé", "items": [{"name": "Robe", "price": "59.90", "quantity": 1}]},
    )
    conversation_id, contact_id = order["conversation_id"], order["contact_id"]
    channel_id = order["channel_id"]
    past_id = await sql.fetchval(
        """INSERT INTO conversation (company_id, channel_id, contact_id, status, resolved_at)
           VALUES ($1, $2, $3, 'resolved', now()) RETURNING id""",
        company_id,
        channel_id,
        contact_id,
    )
    await add_note(company_id, conversation_id, admin.id, {"text": "A note"})
    media = save_upload(data_dir, company_id, PNG, "image/png", "chart.png", 1_000_000)
    message_id = await queue_message(company_id, conversation_id, {"text": "A chart"}, user_id=admin.id, media=media)
    extension, _ = await pbx.create_extension(
        admin, {"number": "2001", "name": "Desk", "codecs": ["ulaw"]}, context=f"sb{company_id}-internal"
    )
    trunk = await pbx.create_trunk(admin, {"name": "operator", "host": "10.0.0.1", "codecs": ["ulaw"]})
    queue = await pbx.create_queue(
        admin, {"name": "support", "strategy": "ringall", "members": [{"extension": "2001", "penalty": 0}]}
    )
    key, api_key = await create_api_key(company_id, {"name": "shop", "scopes": list(SCOPES)}, user_id=admin.id)
    # The agent's day (issue 18): a duplicate contact to merge, a label, a mention of the admin
    # (mentions are personal: the admin, who sees every page, must be the one mentioned).
    duplicate_id = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33698765432', 'Zoé bis') RETURNING id", company_id
    )
    label_id = await sql.fetchval("INSERT INTO label (company_id, name) VALUES ($1, 'VIP') RETURNING id", company_id)
    agent_id = await sql.fetchval("SELECT id FROM app_user WHERE email = $1", emails["agent"])
    note_id = await sql.fetchval("SELECT max(id) FROM conversation_note WHERE company_id = $1", company_id)
    mention_id = await sql.fetchval(
        """INSERT INTO mention (company_id, note_id, conversation_id, user_id, author_user_id)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        company_id,
        note_id,
        conversation_id,
        admin.id,
        agent_id,
    )
    ids = {
        "conversation_id": conversation_id,
        "past_id": past_id,
        "duplicate_id": duplicate_id,
        "label_id": label_id,
        "mention_id": mention_id,
        "contact_id": contact_id,
        "client_id": contact_id,  # seed 001's /api/clients: a client is a contact
        "channel_id": channel_id,
        "order_id": order["id"],
        "message_id": message_id,
        "user_id": await sql.fetchval("SELECT id FROM app_user WHERE email = $1", emails["agent"]),
        "department_id": await sql.fetchval("SELECT min(id) FROM department WHERE company_id = $1", company_id),
        "quick_reply_id": await sql.fetchval("SELECT min(id) FROM quick_reply WHERE company_id = $1", company_id),
        "extensions": extension.id,
        "trunks": trunk.id,
        "queues": queue.id,
        "key_id": key.id,
        "endpoint_id": endpoint.id,
        "delivery_id": await sql.fetchval("SELECT min(id) FROM webhook_delivery WHERE company_id = $1", company_id),
        "provider": "sandbox",  # the seeded channel's
        "token": "0" * 40,
        "path": "no-such-plugin",
        "file_path": "vendor/htmx-2.0.11.min.js",
        "handle": "0" * 20,  # a login session's public name (/account/security): none such, a 404
    }
    return Seeded(company_id, emails, ids, api_key)


@pytest.fixture
def settings(settings):
    # One session visits every route in a few seconds: the per-session flood limit
    # (PAGE_RATE_LIMIT, tests/security/test_rate_limits.py) would answer 429 instead of the page.
    return dataclasses.replace(settings, page_rate_limit=0)


def ids_for(path: str, ids: dict) -> str:
    """The route's path with each parameter replaced by a real id."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        # The PBX edit pages share one parameter name: the segment before it says which table.
        key = path[: match.start()].rstrip("/").rsplit("/", 1)[-1] if name == "object_id" else name
        assert key in ids, f"{path}: no seeded id for {{{name}}}; add one to tests/web/test_every_page.py"
        return str(ids[key])

    return PARAM.sub(value, path)


def get_paths(app) -> list[str]:
    paths = sorted({route.path for route in app.routes if "GET" in (getattr(route, "methods", None) or ())})
    return [p for p in paths if p not in SKIPPED]


async def visit_all(client: httpx.AsyncClient, app, ids: dict, headers: dict | None = None) -> dict[str, int]:
    statuses = {}
    for path in get_paths(app):
        response = await client.get(ids_for(path + QUERIES.get(path, ""), ids), headers=headers or {})
        statuses[path] = response.status_code
    return statuses


def server_errors(statuses: dict[str, int]) -> list[str]:
    return [f"{status} {path}" for path, status in statuses.items() if status >= 500]


def test_the_route_table_has_pages_with_every_kind_of_id(app):
    paths = get_paths(app)
    assert len(paths) > 60
    for needed in (
        "/admin/pbx/extensions/{object_id:int}/edit",
        "/inbox/{conversation_id:int}",
        "/api/v1/orders/{order_id:int}",
    ):
        assert needed in paths
    with pytest.raises(AssertionError, match="no seeded id"):
        ids_for("/new/{widget_id:int}", {})


@pytest.mark.parametrize("role", ["admin", "supervisor", "agent"])
async def test_every_page_as_a_role_is_never_a_server_error(app, client, settings, role):
    seeded = await seed(settings.data_dir)
    await login(client, seeded.emails[role], DEMO_PASSWORD)
    statuses = await visit_all(client, app, seeded.ids)
    assert server_errors(statuses) == []
    if role == "admin":
        # Real ids: the admin sees every page (so the check above ran on real pages, not on 404s).
        missing = [
            f"{s} {p}"
            for p, s in statuses.items()
            if s >= 400 and p not in NOT_FOUND_BY_DESIGN and not p.startswith("/api/")
        ]
        assert missing == []


async def test_every_page_logged_out_is_never_a_server_error(app, client, settings):
    seeded = await seed(settings.data_dir)
    statuses = await visit_all(client, app, seeded.ids)
    assert server_errors(statuses) == []
    assert statuses["/admin/users"] in (302, 303, 401) and statuses["/api/v1/orders"] == 401


async def test_every_page_with_an_api_key_is_never_a_server_error(app, client, settings):
    seeded = await seed(settings.data_dir)
    statuses = await visit_all(client, app, seeded.ids, {"Authorization": f"Bearer {seeded.api_key}"})
    assert server_errors(statuses) == []
    # The key opens the integrators' API with real ids (so those pages rendered real rows).
    api = {p: s for p, s in statuses.items() if p.startswith("/api/v1/")}
    assert api and all(s == 200 for s in api.values()), api


JUNK = {
    "name": "x" * 5000,
    "id": "abc",
    "page": "-1",
    "department_id": "zz",
    "user_id": "1e99",
    "text": "\x00",
    "email": "@",
    "phone": "+",
    "status": "nonsense",
    "events": "nonsense",
    "codecs": "nonsense",
}


def change_paths(app) -> list[tuple[str, str]]:
    """(method, path) of every state-changing route; deletions, then logging out, last."""
    found = {
        (method, route.path)
        for route in app.routes
        for method in (getattr(route, "methods", None) or ())
        if method in ("POST", "PUT", "PATCH", "DELETE")
    }
    return sorted(found, key=lambda mp: ("logout" in mp[1], mp[0] == "DELETE" or "delete" in mp[1], mp))


@pytest.mark.parametrize("role", ["admin", "agent"])
async def test_every_change_with_bad_input_is_never_a_server_error(app, client, settings, role):
    seeded = await seed(settings.data_dir)
    await login(client, seeded.emails[role], DEMO_PASSWORD)
    errors = []
    for method, path in change_paths(app):
        for data in ({}, JUNK):
            token = csrf(client)
            response = await client.request(
                method, ids_for(path, seeded.ids), data={**data, "_csrf_token": token}, headers={"x-csrftoken": token}
            )
            if response.status_code >= 500:
                errors.append(f"{response.status_code} {method} {path} {'junk' if data else 'empty'}")
    assert errors == []
