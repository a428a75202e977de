"""Wallboard and metrics pages: who may see them, and bad input answered 4xx, never 500."""

from __future__ import annotations

import re

import pytest

from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login


@pytest.fixture
async def company():
    c = await make_company("Wall Co")
    support = await make_department(c, "Support")
    channel_id = await make_channel(c, department=support)
    return c, support, channel_id


@pytest.mark.parametrize("path", ["/supervisor/", "/supervisor/panels", "/metrics", "/metrics.csv"])
async def test_agents_are_refused_and_visitors_sent_to_login(client, company, path):
    c, support, _ = company
    response = await client.get(path)
    assert response.status_code in (302, 303, 401)
    agent = await make_user(c, "agent", departments=[support])
    await login(client, agent.email)
    assert (await client.get(path)).status_code == 403


@pytest.mark.parametrize("role", ["supervisor", "admin"])
async def test_supervisors_and_admins_see_the_board(client, company, role):
    c, support, channel_id = company
    await make_conversation(c, channel_id, status="queued", department=support)
    await client.get("/login")
    user = await make_user(c, role)
    await login(client, user.email)
    response = await client.get("/supervisor/")
    assert response.status_code == 200
    assert 'sse-swap="wallboard-queues"' in response.text
    assert re.search(r'id="wb-count-queued">1<', response.text)
    assert 'href="/supervisor"' in response.text and 'href="/metrics"' in response.text
    assert (await client.get("/metrics")).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-01",
        "from=yesterday",
        "to=2026-02-30",
        "from=2026-01-10&to=2026-01-01",
        "from=2020-01-01&to=2026-01-01",
        "group=password",
        "department=abc",
        "department=-1",
        "agent=99999999999999999999",
        "from=1999-01-01&to=1999-01-02",
        "to=2999-01-01",
    ],
)
async def test_bad_input_is_a_400(client, company, query):
    c, _, _ = company
    sup = await make_user(c, "supervisor")
    await login(client, sup.email)
    page = await client.get(f"/metrics?{query}")
    assert page.status_code == 400, query
    assert 'id="metrics-errors"' in page.text
    assert (await client.get(f"/metrics.csv?{query}")).status_code == 400


async def test_another_companys_ids_are_404(client, company):
    c, support, channel_id = company
    other = await make_company("Other Co")
    other_dep = await make_department(other, "Theirs")
    other_channel = await make_channel(other)
    other_agent = await make_user(other, "agent")
    sup = await make_user(c, "supervisor")
    await login(client, sup.email)
    for query in (
        f"department={other_dep.id}",
        f"channel={other_channel}",
        f"agent={other_agent.id}",
        "department=424242",
    ):
        assert (await client.get(f"/metrics?{query}")).status_code == 404, query
        assert (await client.get(f"/metrics.csv?{query}")).status_code == 404, query
    for query in (f"department={support.id}", f"channel={channel_id}", f"agent={sup.id}"):
        assert (await client.get(f"/metrics?{query}")).status_code == 200, query
