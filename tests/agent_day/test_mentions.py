"""@mentions in internal notes: who is mentioned, the live alert, the Mentions tab (read-only)."""

import json

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.mentions import MentionAdded, find_mentions
from app.web.live import render_event
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form

PEOPLE = [(1, "Bruno Costa"), (2, "Bruno Alves"), (3, "Zoé Martin"), (4, "Ana")]


def test_find_mentions():
    assert find_mentions("@Bruno Costa can you check?", PEOPLE) == [1]
    assert find_mentions("@zoé please, and @ana too", PEOPLE) == [
        3,
        4,
    ]  # a unique first name is enough
    assert find_mentions("@Bruno, which one?", PEOPLE) == []  # two Brunos: ambiguous
    assert find_mentions("mail me at zoe@example.test; @Anabela", PEOPLE) == []
    assert find_mentions("@Zoé Martin @Zoé Martin", PEOPLE) == [3]


async def test_a_mention_alerts_the_colleague_and_lists_the_note_read_only(client):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await make_channel(company, department=sales)
    holder = await make_user(company, name="Anna Holder", presence="online", departments=[sales])
    expert = await make_user(company, name="Bruno Costa", presence="offline", departments=[support])
    conv = await make_conversation(company, channel)
    await sql.execute(
        "UPDATE contact SET name = 'Zoé <Z>' WHERE id = (SELECT contact_id FROM conversation WHERE id = $1)",
        conv,
    )
    await queue_conversation(company.id, conv, sales.id)
    await login(client, holder.email)
    response = await post_form(
        client,
        f"/inbox/{conv}/notes",
        {"text": "@Bruno Costa do we ship <b>parts</b>?"},
    )
    assert response.status_code in (200, 303)
    mention = await sql.fetchrow("SELECT id, user_id, author_user_id FROM mention")
    assert (mention["user_id"], mention["author_user_id"]) == (expert.id, holder.id)

    event = MentionAdded(company.id, mention["id"], expert.id, conv)
    out = await render_event(event, expert, frozenset({"home"}))
    assert [m.event for m in out] == ["my-alert", "mentions-changed"]
    alert = json.loads(out[0].data)
    assert (
        alert["title"] == "Anna Holder mentioned you about Zoé <Z>"
        and alert["text"] == "@Bruno Costa do we ship <b>parts</b>?"
    )
    assert await render_event(event, holder, frozenset({"home"})) == []

    client.cookies.clear()
    await login(client, expert.email)
    assert (await client.get(f"/inbox/{conv}/pane")).status_code == 404  # not his to open in the inbox
    assert ">1<" in (await client.get("/inbox/mentions/count")).text
    listing = (await client.get("/inbox/mentions")).text
    assert f'href="/inbox/mentions/{mention["id"]}"' in listing and "&lt;b&gt;parts&lt;/b&gt;" in listing
    page = await client.get(f"/inbox/mentions/{mention['id']}")
    assert page.status_code == 200 and "Read-only" in page.text and "Take this conversation" not in page.text
    assert "do we ship" in page.text  # the note, in its conversation
    assert ">0<" in (await client.get("/inbox/mentions/count")).text  # read once opened
    # Someone else's mention is nobody else's business.
    client.cookies.clear()
    await login(client, holder.email)
    assert (await client.get(f"/inbox/mentions/{mention['id']}")).status_code == 404
