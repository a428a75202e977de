"""Labels: defined by admins, put on conversations by whoever may see them, filtering the inbox."""

import re

import pytest

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.labels import LabelsChanged
from app.web.live import render_event
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


@pytest.fixture
async def scene(app):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    admin = await make_user(company, "admin")
    holder = await make_user(company, presence="online", departments=[sales])
    stranger = await make_user(company, presence="offline", departments=[support])
    conv = await make_conversation(company, channel)
    other = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, sales.id)
    await queue_conversation(company.id, other, sales.id)
    return company, admin, holder, stranger, conv, other


async def test_admin_defines_labels(client, scene):
    company, admin, holder, *_ = scene
    await login(client, admin.email)
    assert (await post_form(client, "/admin/labels", {"name": "VIP", "colour": "#be123c"})).status_code == 303
    again = await post_form(client, "/admin/labels", {"name": "vip", "colour": "#be123c"})
    assert again.status_code == 400 and 'id="name-error"' in again.text
    bad = await post_form(client, "/admin/labels", {"name": "Refund", "colour": "red;}"})
    assert bad.status_code == 400
    label_id = await sql.fetchval("SELECT id FROM label WHERE company_id = $1", company.id)
    assert (
        await post_form(
            client,
            f"/admin/labels/{label_id}",
            {"name": "Very important", "colour": "#047857"},
        )
    ).status_code == 303
    page = await client.get("/admin/labels")
    assert "Very important" in page.text and "#047857" in page.text
    actions = [
        r["action"] for r in await sql.fetch("SELECT action FROM audit_event WHERE action LIKE 'label.%' ORDER BY id")
    ]
    assert actions == ["label.created", "label.updated"]
    assert (await post_form(client, f"/admin/labels/{label_id}/delete")).status_code == 303
    assert await sql.fetchval("SELECT count(*) FROM label WHERE company_id = $1", company.id) == 0
    client.cookies.clear()
    await login(client, holder.email)
    assert (await client.get("/admin/labels")).status_code == 403


async def test_agents_label_what_they_see_and_filter_the_inbox(client, scene):
    company, admin, holder, stranger, conv, other = scene
    vip = await sql.fetchval(
        "INSERT INTO label (company_id, name, colour) VALUES ($1, 'VIP', '#be123c') RETURNING id",
        company.id,
    )
    foreign_company = await make_company()
    foreign = await sql.fetchval(
        "INSERT INTO label (company_id, name) VALUES ($1, 'Theirs') RETURNING id",
        foreign_company.id,
    )
    await login(client, holder.email)
    pane = await client.get(f"/inbox/{conv}/labels")
    assert pane.status_code == 200 and f'<option value="{vip}">VIP</option>' in pane.text
    added = await post_form(
        client,
        f"/inbox/{conv}/labels",
        {"label": str(vip), "action": "add"},
        headers={"hx-request": "true"},
    )
    assert added.status_code == 200 and 'data-label="%d"' % vip in added.text
    assert (
        await post_form(client, f"/inbox/{conv}/labels", {"label": str(foreign), "action": "add"})
    ).status_code == 404
    assert (await post_form(client, f"/inbox/{conv}/labels", {"label": "x", "action": "add"})).status_code == 400

    listing = (await client.get(f"/inbox?tab=mine&label={vip}")).text
    assert f'id="inbox-row-{conv}"' in listing and f'id="inbox-row-{other}"' not in listing
    assert re.search(
        r'class="row-labels"><span class="chip" style="--chip: #be123c">VIP</span>',
        listing,
    )
    assert f'<option value="{vip}" selected>VIP</option>' in listing

    removed = await post_form(
        client,
        f"/inbox/{conv}/labels",
        {"label": str(vip), "action": "remove"},
        headers={"hx-request": "true"},
    )
    assert removed.status_code == 200 and await sql.fetchval("SELECT count(*) FROM conversation_label") == 0

    client.cookies.clear()
    await login(client, stranger.email)  # Support: may not see Sales' assigned conversation
    assert (await post_form(client, f"/inbox/{conv}/labels", {"label": str(vip), "action": "add"})).status_code == 404
    assert (await client.get(f"/inbox/{conv}/labels")).status_code == 404


async def test_a_label_change_reaches_those_who_see_the_conversation(scene):
    company, admin, holder, stranger, conv, other = scene
    event = LabelsChanged(company.id, conv)
    names = [m.event for m in await render_event(event, holder, frozenset({"inbox"}))]
    assert names == ["inbox-row", f"labels-{conv}"]
    assert [m.event for m in await render_event(event, stranger, frozenset({"inbox"}))] == []
    assert [m.event for m in await render_event(event, holder, frozenset({"orders"}))] == []


async def test_the_api_lists_labels_and_filters_by_one(client, app):
    from tests.api.conftest import make_shop

    shop = await make_shop()
    first = await make_conversation(shop.company, shop.channel_id)
    second = await make_conversation(shop.company, shop.channel_id)
    vip = await sql.fetchval(
        "INSERT INTO label (company_id, name) VALUES ($1, 'VIP') RETURNING id",
        shop.company.id,
    )
    await sql.execute(
        "INSERT INTO conversation_label (company_id, conversation_id, label_id) VALUES ($1, $2, $3)",
        shop.company.id,
        first,
        vip,
    )
    body = (await client.get("/api/v1/conversations?label=vip", headers=shop.auth("read"))).json()
    assert [c["id"] for c in body["items"]] == [first] and body["items"][0]["labels"] == ["VIP"]
    every = (await client.get("/api/v1/conversations", headers=shop.auth("read"))).json()["items"]
    assert {c["id"]: c["labels"] for c in every} == {first: ["VIP"], second: []}
    assert (await client.get("/api/v1/conversations?label=" + "x" * 41, headers=shop.auth("read"))).status_code == 400


async def test_labels_in_the_metrics_and_their_csv(client, scene):
    company, admin, holder, stranger, conv, other = scene
    vip = await sql.fetchval(
        "INSERT INTO label (company_id, name, colour) VALUES ($1, '=VIP', '#be123c') RETURNING id",
        company.id,
    )
    await sql.fetchval(
        "INSERT INTO label (company_id, name) VALUES ($1, 'Unused') RETURNING id",
        company.id,
    )
    for conversation in (conv, other):
        await sql.execute(
            "INSERT INTO conversation_label (company_id, conversation_id, label_id) VALUES ($1, $2, $3)",
            company.id,
            conversation,
            vip,
        )
    await sql.execute(
        "UPDATE conversation SET status = 'resolved', resolved_at = now() WHERE id = $1",
        other,
    )
    await login(client, admin.email)
    page = await client.get("/metrics")
    assert 'hx-get="/metrics/labels' in page.text
    table = (await client.get("/metrics/labels")).text
    row = table.split(f'id="metrics-label-{vip}"')[1].split("</tr>")[0]
    assert [int(x) for x in re.findall(r'class="num">(\d+)<', row)] == [
        2,
        1,
        1,
    ]  # created, resolved, open now
    csv_text = (await client.get("/metrics/labels.csv")).text.splitlines()
    assert csv_text[0] == "from,to,label,created,resolved,open_now"
    assert any(line.endswith(",'=VIP,2,1,1") for line in csv_text)  # a formula-looking name is defused
    assert any(line.endswith(",Unused,0,0,0") for line in csv_text)
    client.cookies.clear()
    await login(client, holder.email)
    assert (await client.get("/metrics/labels.csv")).status_code == 403
