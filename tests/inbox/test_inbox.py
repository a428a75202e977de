"""The agent workspace over HTTP: the list and its tabs, the conversation pane, replies, notes,
hand-offs, the customer's record; who may see and do what."""

import html
import json
import re

import pytest

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.channels import ensure_sandbox_channel
from app.domain.messages import receive_webhook
from app.providers.base import InboundMessage, Parsed
from tests.dispatch.factories import conversation, make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


async def customer_writes(channel, phone: str, text: str, name: str = "Zoe", reply_to: str = "") -> None:
    n = await sql.fetchval("SELECT count(*) FROM message")
    await receive_webhook(
        channel,
        Parsed(
            messages=[
                InboundMessage(
                    provider_message_id=f"in-{phone}-{n}",
                    phone=phone,
                    name=name,
                    type="text",
                    text=text,
                    reply_to=reply_to,
                )
            ]
        ),
    )


@pytest.fixture
async def shop(app):
    company = await make_company()
    sales = await make_department(company, "Sales")
    support = await make_department(company, "Support")
    channel = await ensure_sandbox_channel(company.id)
    await sql.execute("UPDATE channel SET default_department_id = $1 WHERE id = $2", sales.id, channel.id)
    channel = await ensure_sandbox_channel(company.id)
    anna = await make_user(company, name="Anna", presence="online", departments=[sales])
    bruno = await make_user(company, name="Bruno", presence="offline", departments=[sales])
    return company, sales, support, channel, anna, bruno


async def open_conversation(channel, sales, phone="+15550100001", text="Hello <b>there</b>"):
    await customer_writes(channel, phone, text)
    conv_id = await sql.fetchval(
        "SELECT c.id FROM conversation c JOIN contact ct ON ct.id = c.contact_id WHERE ct.phone = $1 AND c.status <> 'resolved'",
        phone,
    )
    await queue_conversation(channel.company_id, conv_id, sales.id)
    return conv_id


async def test_mine_queue_and_the_open_conversation(client, shop):
    company, sales, _, channel, anna, bruno = shop
    conv = await open_conversation(channel, sales)
    assert (await conversation(conv))["assigned_user_id"] == anna.id
    await login(client, anna.email)
    page = await client.get("/inbox")
    assert page.status_code == 200
    assert f'id="inbox-row-{conv}"' in page.text and "Zoe" in page.text
    assert 'data-unread="1"' in page.text  # one unread customer message
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in page.text and "<b>there</b>" not in page.text
    pane = await client.get(
        f"/inbox/{conv}/pane", headers={"hx-request": "true", "hx-current-url": "http://x/inbox?tab=mine"}
    )
    assert pane.status_code == 200 and pane.headers["hx-push-url"] == f"/inbox/{conv}?tab=mine"
    assert 'id="composer"' in pane.text and 'id="action-resolve"' in pane.text
    # Opening it marked the customer's message read.
    assert 'data-unread="0"' in (await client.get("/inbox")).text
    await login(client, bruno.email)
    queue = await client.get("/inbox?tab=queue")
    assert f'id="inbox-row-{conv}"' not in queue.text  # assigned: not waiting


async def test_reply_note_and_timeline(client, shop):
    company, sales, _, channel, anna, _ = shop
    conv = await open_conversation(channel, sales)
    await login(client, anna.email)
    reply = await post_form(client, f"/inbox/{conv}/messages", {"text": "We are on it"}, headers={"hx-request": "true"})
    assert reply.status_code == 200 and "We are on it" in reply.text and "msg-pending" in reply.text
    assert "Anna" in reply.text  # the agent's name on the bubble
    note = await post_form(client, f"/inbox/{conv}/notes", {"text": "VIP <customer>"}, headers={"hx-request": "true"})
    assert note.status_code == 200 and "VIP &lt;customer&gt;" in note.text and 'class="note' in note.text
    stored = await sql.fetch("SELECT text FROM message WHERE conversation_id = $1 AND direction = 'out'", conv)
    assert [r["text"] for r in stored] == ["We are on it"]  # the note never became a message
    thread = (await client.get(f"/inbox/{conv}")).text.split('class="inbox-thread"')[1]
    assert thread.index("Hello &lt;b&gt;") < thread.index("We are on it") < thread.index("VIP &lt;customer&gt;")


async def test_history_loads_older_pages(client, shop):
    company, sales, _, channel, anna, _ = shop
    conv = await open_conversation(channel, sales)
    for n in range(120):
        await customer_writes(channel, "+15550100001", f"line {n:03d}")
    await login(client, anna.email)
    page = await client.get(f"/inbox/{conv}")
    assert "line 119" in page.text and "line 060" not in page.text
    before = re.search(r"/inbox/\d+/timeline\?before=(\d+)", page.text).group(1)
    older = await client.get(f"/inbox/{conv}/timeline?before={before}")
    assert "line 060" in older.text and "line 119" not in older.text and "thread-more" in older.text
    for bad in ("abc", "0", "-1", "9" * 30, ""):
        assert (await client.get(f"/inbox/{conv}/timeline?before={bad}")).status_code == 400


async def test_take_transfer_resolve_from_the_pane(client, shop):
    company, sales, support, channel, anna, bruno = shop
    await sql.execute("UPDATE app_user SET presence = 'offline' WHERE id = $1", anna.id)
    conv = await open_conversation(channel, sales)
    assert (await conversation(conv))["status"] == "queued"
    await login(client, bruno.email)
    queue = await client.get("/inbox?tab=queue")
    assert f'id="inbox-row-{conv}"' in queue.text
    pane = await client.get(f"/inbox/{conv}")
    assert "take it to answer" in pane.text and 'id="composer"' not in pane.text
    taken = await post_form(client, f"/inbox/{conv}/take", headers={"hx-request": "true"})
    assert taken.status_code == 200 and 'id="composer"' in taken.text
    moved = await post_form(
        client,
        f"/inbox/{conv}/transfer",
        {"target": f"department-{support.id}", "note": "Billing question"},
        headers={"hx-request": "true"},
    )
    assert moved.status_code == 200 and "no longer yours" in moved.text  # out of Bruno's sight now
    row = await conversation(conv)
    assert row["department_id"] == support.id and row["status"] == "queued"
    note = await sql.fetchval(
        "SELECT note FROM conversation_event WHERE conversation_id = $1 AND kind = 'transferred'", conv
    )
    assert note == "Billing question"
    assert (await client.get(f"/inbox/{conv}")).status_code == 404
    boss = await make_user(company, "supervisor")
    await login(client, boss.email)
    assert f'id="inbox-row-{conv}"' in (await client.get("/inbox?tab=queue")).text  # every department's queue
    page = await client.get(f"/inbox/{conv}")
    thread = page.text.split('class="inbox-thread"')[1]
    assert "Transferred to Support" in thread and "Billing question" in thread, thread[:3000]
    done = await post_form(client, f"/inbox/{conv}/resolve", headers={"hx-request": "true"})
    assert done.status_code == 200 and "read-only history" in done.text
    assert (await conversation(conv))["status"] == "resolved"
    closing = await sql.fetchval(
        "SELECT text FROM message WHERE conversation_id = $1 AND author = 'bot' ORDER BY id DESC LIMIT 1", conv
    )
    assert "closed" in closing


async def test_filters_search_and_pages(client, shop):
    company, sales, support, channel, anna, _ = shop
    boss = await make_user(company, "supervisor")
    ids = []
    for n in range(55):
        ids.append(
            await open_conversation(channel, sales if n % 2 else support, phone=f"+1555020{n:04d}", text=f"order {n}")
        )
    await customer_writes(channel, "+15550200007", "my parcel is late")
    await login(client, boss.email)
    page = await client.get("/inbox?tab=all")
    assert page.text.count('class="inbox-row ') == 40 and "inbox-more" in page.text
    cursor = re.search(r"cursor=([\d-]+)", page.text).group(1)
    more = await client.get(f"/inbox/list?tab=all&cursor={cursor}")
    assert more.text.count('class="inbox-row ') == 15 and "<ul" not in more.text
    found = await client.get("/inbox/list?tab=all&q=parcel")
    assert found.text.count('class="inbox-row ') == 1 and f'id="inbox-row-{ids[7]}"' in found.text
    by_phone = await client.get("/inbox/list?tab=all&q=0200012")
    assert f'id="inbox-row-{ids[12]}"' in by_phone.text and by_phone.text.count('class="inbox-row ') == 1
    by_department = await client.get(f"/inbox/list?tab=all&department={sales.id}")
    assert by_department.text.count('class="inbox-row ') == 27
    assert (await client.get("/inbox/list?tab=all&q=%25")).text.count('class="inbox-row ') == 0  # % is literal
    for bad in (
        "tab=nope",
        "status=open",
        "department=x",
        "channel=-1",
        "cursor=abc",
        "cursor=99999999999999999999-1",
        "q=" + "x" * 101,
        "department=99999999999",
    ):
        assert (await client.get(f"/inbox/list?{bad}")).status_code == 400, bad


async def test_customer_details_and_past_conversations(client, shop):
    company, sales, _, channel, anna, _ = shop
    old = await open_conversation(channel, sales, text="first visit")
    await sql.execute("UPDATE conversation SET status = 'resolved', assigned_user_id = NULL WHERE id = $1", old)
    conv = await open_conversation(channel, sales, text="second visit")
    await login(client, anna.email)
    page = await client.get(f"/inbox/{conv}")
    assert f"/inbox/{conv}/past/{old}" in page.text
    past = await client.get(f"/inbox/{conv}/past/{old}")
    assert past.status_code == 200 and "first visit" in past.text
    saved = await post_form(
        client,
        f"/inbox/{conv}/contact",
        {"name": "Zoe <Z>", "email": "zoe@example.com", "details": "Prefers mornings"},
        headers={"hx-request": "true"},
    )
    assert saved.status_code == 200 and "Zoe &lt;Z&gt;" in saved.text
    contact = await sql.fetchrow("SELECT name, email, details FROM contact WHERE phone = '+15550100001'")
    assert dict(contact) == {"name": "Zoe <Z>", "email": "zoe@example.com", "details": "Prefers mornings"}
    bad = await post_form(
        client,
        f"/inbox/{conv}/contact",
        {"name": "x" * 201, "email": "not-an-email", "details": "y" * 2001},
        headers={"hx-request": "true"},
    )
    assert bad.status_code == 400 and bad.text.count('aria-invalid="true"') == 3
    other = await make_company()
    stranger_channel = await make_channel(other)
    stranger = await make_conversation(other, stranger_channel)
    assert (await client.get(f"/inbox/{conv}/past/{stranger}")).status_code == 404


async def test_quick_replies_offered_in_the_composer(client, shop):
    company, sales, support, channel, anna, _ = shop
    await sql.execute(
        """INSERT INTO quick_reply (company_id, department_id, shortcut, text) VALUES
           ($1, NULL, 'hello', 'Hello! How can we help?'), ($1, $2, 'price', 'Sales price list'),
           ($1, $3, 'refund', 'Support refund policy'), ($1, $2, 'hello', 'Hello from Sales <team>')""",
        company.id,
        sales.id,
        support.id,
    )
    conv = await open_conversation(channel, sales)
    await login(client, anna.email)
    page = await client.get(f"/inbox/{conv}")
    raw = re.search(r'<div class="qr-data" hidden data-json="([^"]*)"></div>', page.text).group(1)
    data = json.loads(html.unescape(raw))
    assert data == [
        {"shortcut": "hello", "text": "Hello from Sales <team>"},
        {"shortcut": "price", "text": "Sales price list"},
    ]
    assert "<team>" not in raw and '"' not in raw  # escaped inside the attribute too


async def test_reply_with_an_attachment(client, shop):
    company, sales, _, channel, anna, _ = shop
    conv = await open_conversation(channel, sales)
    await login(client, anna.email)
    from tests.helpers import csrf

    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
    reply = await client.post(
        f"/inbox/{conv}/messages",
        data={"text": "the form", "_csrf_token": csrf(client)},
        files={"file": ("form.png", png, "image/png")},
        headers={"hx-request": "true"},
    )
    assert reply.status_code == 200, reply.text
    assert "msg-image" in reply.text and "/conversations/media/" in reply.text


async def test_customer_panel_has_the_language_of_automatic_messages_and_the_orders(client, shop):
    company, sales, _, channel, anna, bruno = shop
    conv = await open_conversation(channel, sales)
    contact_id = await sql.fetchval("SELECT contact_id FROM conversation WHERE id = $1", conv)
    await login(client, anna.email)
    pane = await client.get(f"/inbox/{conv}")
    assert f'id="contact-language-{contact_id}"' in pane.text and f'hx-get="/orders/customer/{contact_id}"' in pane.text
    saved = await post_form(
        client,
        f"/contacts/{contact_id}/language",
        {"language": "fr", "next": f"/inbox/{conv}"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert await sql.fetchval("SELECT language FROM contact WHERE id = $1", contact_id) == "fr"
    pane = await client.get(f"/inbox/{conv}")
    assert re.search(r'<option value="fr" selected>', pane.text)
    orders = await client.get(f"/orders/customer/{contact_id}")
    assert orders.status_code == 200
