"""Who may read and write in the inbox, even with crafted requests; bad input never gives a 500."""

import pytest

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from tests.dispatch.factories import conversation, make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import csrf, login, post_form

GETS = ["/inbox/{id}", "/inbox/{id}/pane", "/inbox/{id}/timeline?before=999", "/inbox/{id}/past/{id}"]
POSTS = {
    "/inbox/{id}/messages": {"text": "hi"},
    "/inbox/{id}/notes": {"text": "a note"},
    "/inbox/{id}/take": {},
    "/inbox/{id}/resolve": {},
    "/inbox/{id}/transfer": {"target": "department-1"},
    "/inbox/{id}/contact": {"name": "Mallory"},
    "/inbox/{id}/read": {},
}


@pytest.fixture
async def world(app):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    holder = await make_user(company, presence="online", departments=[sales])
    other = await make_user(company, presence="busy", departments=[sales])  # busy: gets nothing new
    outsider = await make_user(company, presence="busy", departments=[support])
    held = await make_conversation(company, channel)
    await queue_conversation(company.id, held, sales.id)
    await sql.execute("UPDATE app_user SET presence = 'busy' WHERE id = $1", holder.id)
    waiting = await make_conversation(company, channel)
    await queue_conversation(company.id, waiting, sales.id)
    foreign_company = await make_company()
    foreign = await make_conversation(foreign_company, await make_channel(foreign_company))
    return {
        "company": company,
        "sales": sales,
        "holder": holder,
        "other": other,
        "outsider": outsider,
        "held": held,
        "waiting": waiting,
        "foreign": foreign,
    }


async def assert_untouched(conv_id: int, before) -> None:
    after = await conversation(conv_id)
    assert dict(after) == dict(before)
    assert not await sql.fetchval(
        "SELECT count(*) FROM message WHERE conversation_id = $1 AND direction = 'out'", conv_id
    )
    assert not await sql.fetchval("SELECT count(*) FROM conversation_note WHERE conversation_id = $1", conv_id)


@pytest.mark.parametrize(
    "who,target", [("other", "held"), ("holder", "foreign"), ("outsider", "waiting"), ("outsider", "held")]
)
async def test_no_sight_no_access(client, world, who, target):
    """Another agent's, another department's, another company's conversation: 404 for every route."""
    conv_id = world[target]
    before = await conversation(conv_id)
    await login(client, world[who].email)
    for url in GETS:
        response = await client.get(url.format(id=conv_id))
        assert response.status_code == 404, url
    for url, data in POSTS.items():
        response = await post_form(client, url.format(id=conv_id), data, headers={"hx-request": "true"})
        if (who, target) == ("other", "held") and url.rsplit("/", 1)[1] in ("take", "resolve", "transfer"):
            # A colleague of the same department acting on a row a moment late is told who has it.
            assert response.status_code == 409 and world["holder"].name in response.text, url
        else:
            assert response.status_code == 404, url
    page = await client.get("/inbox?tab=queue")
    assert f'id="inbox-row-{conv_id}"' not in page.text
    await assert_untouched(conv_id, before)


async def test_waiting_conversation_is_read_only_until_taken(client, world):
    conv_id = world["waiting"]
    before = await conversation(conv_id)
    await login(client, world["other"].email)
    page = await client.get(f"/inbox/{conv_id}")
    assert page.status_code == 200 and 'id="readonly-reason"' in page.text and 'id="composer"' not in page.text
    for url in ("/inbox/{id}/messages", "/inbox/{id}/resolve", "/inbox/{id}/transfer"):
        data = {"text": "hi", "target": f"department-{world['sales'].id}"}
        response = await post_form(client, url.format(id=conv_id), data, headers={"hx-request": "true"})
        assert response.status_code == 403, url
    resend = await post_form(client, "/conversations/messages/1/resend")
    assert resend.status_code in (403, 404)
    await assert_untouched(conv_id, before)


async def test_agents_have_no_all_tab(client, world):
    await login(client, world["other"].email)
    assert (await client.get("/inbox?tab=all")).status_code == 403
    assert (await client.get("/inbox/list?tab=all")).status_code == 403
    assert 'data-tab="all"' not in (await client.get("/inbox")).text


async def test_every_post_needs_the_csrf_token(client, world):
    await login(client, world["holder"].email)
    conv_id = world["held"]
    before = await conversation(conv_id)
    for url, data in POSTS.items():
        response = await client.post(url.format(id=conv_id), data=data)
        assert response.status_code == 403, url
        wrong = await client.post(url.format(id=conv_id), data={**data, "_csrf_token": "forged"})
        assert wrong.status_code == 403, url
    await assert_untouched(conv_id, before)
    assert (await client.get("/my-work")).status_code == 200


async def test_bad_input_is_a_clear_4xx(client, world):
    await login(client, world["holder"].email)
    conv_id = world["held"]
    for url in ("/inbox/99999999999", "/inbox/0/pane", "/inbox/-1", "/inbox/abc", f"/inbox/{conv_id}/past/99999999999"):
        assert (await client.get(url)).status_code in (400, 404), url
    cases = [
        ("/inbox/{id}/messages", {"text": ""}, 400),
        ("/inbox/{id}/messages", {"text": "x" * 5000}, 400),
        ("/inbox/{id}/messages", {"text": "\x00\x01"}, 400),
        ("/inbox/{id}/notes", {"text": ""}, 400),
        ("/inbox/{id}/notes", {"text": "y" * 4001}, 400),
        ("/inbox/{id}/transfer", {"target": ""}, 400),
        ("/inbox/{id}/transfer", {"target": "department-abc"}, 400),
        ("/inbox/{id}/transfer", {"target": "user-0"}, 400),
        ("/inbox/{id}/transfer", {"target": "team-3"}, 400),
        ("/inbox/{id}/transfer", {"target": "department-99999999999"}, 400),
        ("/inbox/{id}/transfer", {"target": "department-999999"}, 404),
        ("/inbox/{id}/transfer", {"target": "user-999999"}, 404),
        ("/inbox/{id}/contact", {"email": "nope"}, 400),
    ]
    for url, data, status in cases:
        response = await post_form(client, url.format(id=conv_id), data, headers={"hx-request": "true"})
        assert response.status_code == status, (url, data, response.status_code)
    # The same field twice: the last one counts, as everywhere.
    twice = await client.post(
        f"/inbox/{conv_id}/notes",
        content=f"text=one&text=two&_csrf_token={csrf(client)}",
        headers={"content-type": "application/x-www-form-urlencoded", "hx-request": "true"},
    )
    assert twice.status_code == 200 and "two" in twice.text
    huge = await client.post(f"/inbox/{conv_id}/notes", data={"text": "z" * 2_000_000, "_csrf_token": csrf(client)})
    assert huge.status_code == 413
    other_company_dept = await make_department(await make_company(), "Elsewhere")
    response = await post_form(
        client,
        f"/inbox/{conv_id}/transfer",
        {"target": f"department-{other_company_dept.id}"},
        headers={"hx-request": "true"},
    )
    assert response.status_code == 404
    assert (await conversation(conv_id))["department_id"] == world["sales"].id


async def test_logged_out_is_sent_to_login(client, world):
    response = await client.get("/inbox")
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]
    response = await client.get(f"/inbox/{world['held']}/pane", headers={"hx-request": "true"})
    assert response.status_code == 401 and "/login" in response.headers["hx-redirect"]
