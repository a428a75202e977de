"""Contacts admin: list and search, edit, opt-out (enforced by the sender), delete, merge."""

import dataclasses
from datetime import UTC

import httpx
import pytest

from app.domain import sql
from app.domain.channels import create_channel
from app.domain.messages import queue_message
from app.providers.sender import Sender
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_user
from tests.fake_provider import FakeProvider, json_answer
from tests.helpers import login, post_form


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


async def make_contact(company, name="Customer", phone=None, **values):
    contact_id = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, $2, $3) RETURNING id", company.id, phone, name
    )
    for key, value in values.items():
        await sql.execute(f"UPDATE contact SET {key} = $2 WHERE id = $1", contact_id, value)
    return contact_id


async def audit(company_id, action):
    return await sql.fetch("SELECT * FROM audit_event WHERE company_id = $1 AND action = $2", company_id, action)


async def test_list_search_pagination_and_scoping(admin_client):
    company = admin_client.company
    other = await make_company()
    await make_contact(other, "Stranger Danger", "+33600000001")
    await make_contact(company, "Zoé <b>Martin</b>", "+33612345678")
    for n in range(55):
        await make_contact(company, f"Bulk {n:02d}", f"+551199999{n:04d}")
    page = await admin_client.get("/admin/contacts")
    assert page.status_code == 200 and "Page 1 of 2" in page.text and "Stranger" not in page.text
    found = await admin_client.get("/admin/contacts", params={"q": "martin"})
    assert "Zoé &lt;b&gt;Martin&lt;/b&gt;" in found.text and "Bulk" not in found.text
    by_phone = await admin_client.get("/admin/contacts", params={"q": "+33 6 12 34"})
    assert "+33612345678" in by_phone.text and "Bulk" not in by_phone.text
    assert "No contacts match." in (await admin_client.get("/admin/contacts", params={"q": "Stranger"})).text
    assert (await admin_client.get("/admin/contacts", params={"page": "zero"})).status_code == 400
    assert (await admin_client.get("/admin/contacts", params={"q": "x" * 101})).status_code == 400
    assert (await admin_client.get("/admin/contacts", params={"q": "%_\\"})).status_code == 200


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_admins(client, role):
    company = await make_company()
    user = await make_user(company, role)
    contact = await make_contact(company, "Ana", "+5511988887777")
    dup = await make_contact(company, "Ana", None)
    await login(client, user.email)
    for url in (
        "/admin/contacts",
        f"/admin/contacts/{contact}/edit",
        f"/admin/contacts/{contact}/delete",
        f"/admin/contacts/{contact}/merge",
    ):
        assert (await client.get(url)).status_code == 403
    assert (await post_form(client, f"/admin/contacts/{contact}", {"name": "Hacked"})).status_code == 403
    assert (await post_form(client, f"/admin/contacts/{contact}/delete")).status_code == 403
    assert (await post_form(client, f"/admin/contacts/{contact}/merge", {"duplicate_id": dup})).status_code == 403
    assert (
        await sql.fetchval(
            "SELECT count(*) FROM contact WHERE company_id = $1 AND name = 'Ana' AND deleted_at IS NULL", company.id
        )
        == 2
    )


async def test_edit_language_notes_and_opt_out_are_audited(admin_client):
    cid = admin_client.company.id
    contact = await make_contact(admin_client.company, "Ana", "+5511988887777")
    page = await admin_client.get(f"/admin/contacts/{contact}/edit")
    assert page.status_code == 200 and "+5511988887777" in page.text
    saved = await post_form(
        admin_client,
        f"/admin/contacts/{contact}",
        {"name": "Ana Souza", "language": "pt_BR", "details": "VIP", "opted_out": "on"},
    )
    assert saved.status_code == 303
    row = await sql.fetchrow("SELECT name, language, details, opted_out_at FROM contact WHERE id = $1", contact)
    assert (row["name"], row["language"], row["details"]) == ("Ana Souza", "pt_BR", "VIP") and row["opted_out_at"]
    assert len(await audit(cid, "contact.opted_out")) == 1
    [updated] = await audit(cid, "contact.updated")
    assert "pt_BR" in updated["after"] and updated["actor_user_id"] == admin_client.admin.id
    assert "Opted out" in (await admin_client.get("/admin/contacts")).text
    await post_form(
        admin_client, f"/admin/contacts/{contact}", {"name": "Ana Souza", "language": "pt_BR", "details": "VIP"}
    )
    assert len(await audit(cid, "contact.opted_in")) == 1
    assert await sql.fetchval("SELECT opted_out_at FROM contact WHERE id = $1", contact) is None


@pytest.mark.parametrize(
    "data,field",
    [
        ({"name": "x" * 201}, "name"),
        ({"language": "de"}, "language"),
        ({"details": "y" * 2001}, "details"),
    ],
)
async def test_edit_bad_input(admin_client, data, field):
    contact = await make_contact(admin_client.company, "Ana", "+5511988887777")
    response = await post_form(admin_client, f"/admin/contacts/{contact}", {"name": "Ana", **data})
    assert response.status_code == 400 and f'id="{field}-error"' in response.text
    assert await sql.fetchval("SELECT name FROM contact WHERE id = $1", contact) == "Ana"
    assert (await admin_client.post(f"/admin/contacts/{contact}", data={"name": "No CSRF"})).status_code == 403
    assert (await post_form(admin_client, "/admin/contacts/999999", {"name": "x"})).status_code == 404


async def test_delete_anonymises_and_keeps_history(admin_client):
    company = admin_client.company
    channel = await make_channel(company)
    contact = await make_contact(company, "Jean Dupont", "+33611112222", details="allergic")
    await sql.execute(
        "INSERT INTO contact_alias (company_id, contact_id, alias) VALUES ($1, $2, '123@lid')", company.id, contact
    )
    conv = await make_conversation(company, channel, contact_id=contact)
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', 'bonjour', 'received')""",
        company.id,
        channel,
        conv,
    )
    confirm = await admin_client.get(f"/admin/contacts/{contact}/delete")
    assert confirm.status_code == 200 and "resolve it first" in confirm.text
    refused = await post_form(admin_client, f"/admin/contacts/{contact}/delete")
    assert refused.status_code == 409 and await sql.fetchval("SELECT phone FROM contact WHERE id = $1", contact)
    await sql.execute("UPDATE conversation SET status = 'resolved', resolved_at = now() WHERE id = $1", conv)
    deleted = await post_form(admin_client, f"/admin/contacts/{contact}/delete")
    assert deleted.status_code == 303
    row = await sql.fetchrow("SELECT name, phone, details, deleted_at FROM contact WHERE id = $1", contact)
    assert (row["name"], row["phone"], row["details"]) == ("", None, "") and row["deleted_at"]
    assert await sql.fetchval("SELECT count(*) FROM contact_alias WHERE contact_id = $1", contact) == 0
    assert await sql.fetchval("SELECT count(*) FROM message WHERE conversation_id = $1", conv) == 1  # history kept
    assert "Jean" not in (await admin_client.get("/admin/contacts")).text
    assert (await admin_client.get(f"/admin/contacts/{contact}/edit")).status_code == 404
    [row] = await audit(company.id, "contact.deleted")
    assert "+33611112222" not in row["before"] and "Jean Dupont" not in row["before"]
    # the same number writing again is a new contact
    await make_contact(company, "Jean", "+33611112222")


async def test_merge_moves_conversations_and_aliases(admin_client):
    company = admin_client.company
    channel, other_channel = await make_channel(company), await make_channel(company)
    keep = await make_contact(company, "Maria Silva", "+5511987654321")
    dup = await make_contact(company, "", None, details="prefers mornings", language="pt_BR", opted_out_at=None)
    await sql.execute(
        "INSERT INTO contact_alias (company_id, contact_id, alias) VALUES ($1, $2, '999@lid')", company.id, dup
    )
    old = await make_conversation(company, channel, contact_id=keep, status="resolved")
    moved = await make_conversation(company, other_channel, contact_id=dup)
    # any other table pointing at contacts follows too (found from the schema's foreign keys)
    order = await sql.fetchval(
        "INSERT INTO shop_order (company_id, contact_id, items) VALUES ($1, $2, '[]') RETURNING id", company.id, dup
    )
    page = await admin_client.get(f"/admin/contacts/{keep}/merge", params={"q": ""})
    assert page.status_code == 200 and f'id="duplicate-{keep}"' not in page.text
    response = await post_form(admin_client, f"/admin/contacts/{keep}/merge", {"duplicate_id": str(dup)})
    assert response.status_code == 303
    assert await sql.fetchval("SELECT count(*) FROM contact WHERE id = $1", dup) == 0
    assert {r["id"] for r in await sql.fetch("SELECT id FROM conversation WHERE contact_id = $1", keep)} == {old, moved}
    assert await sql.fetchval("SELECT contact_id FROM contact_alias WHERE alias = '999@lid'") == keep
    assert await sql.fetchval("SELECT contact_id FROM shop_order WHERE id = $1", order) == keep
    row = await sql.fetchrow("SELECT name, phone, details, language FROM contact WHERE id = $1", keep)
    assert tuple(row) == ("Maria Silva", "+5511987654321", "prefers mornings", "pt_BR")
    [row] = await audit(company.id, "contact.merged")
    assert '"conversations_moved": 1' in row["after"]


async def test_merge_refusals(admin_client):
    company = admin_client.company
    channel = await make_channel(company)
    keep = await make_contact(company, "A", "+5511000000001")
    dup = await make_contact(company, "A", "+5511000000002")
    await make_conversation(company, channel, contact_id=keep)
    await make_conversation(company, channel, contact_id=dup)
    clash = await post_form(admin_client, f"/admin/contacts/{keep}/merge", {"duplicate_id": str(dup)})
    assert clash.status_code == 409 and "same channel" in clash.text
    assert (
        await post_form(admin_client, f"/admin/contacts/{keep}/merge", {"duplicate_id": str(keep)})
    ).status_code == 409
    for bad in ("abc", "", "-1", "99999999999"):
        assert (
            await post_form(admin_client, f"/admin/contacts/{keep}/merge", {"duplicate_id": bad})
        ).status_code == 400
    stranger = await make_contact(await make_company(), "A", "+5511000000003")
    assert (
        await post_form(admin_client, f"/admin/contacts/{keep}/merge", {"duplicate_id": str(stranger)})
    ).status_code == 404
    assert await sql.fetchval("SELECT count(*) FROM contact WHERE id = ANY($1::int[])", [keep, dup, stranger]) == 3


async def test_opted_out_contacts_get_only_replies_within_24_hours(app):
    async with (
        FakeProvider(lambda r: json_answer(200, {"sent": True, "message": {"id": f"w{len(fake.requests)}"}})) as fake,
        httpx.AsyncClient() as client,
    ):
        company = await make_company()
        channel = await create_channel(
            company.id, {"name": "W", "provider": "whapi", "cred_token": "t", "cred_api_base": fake.url}
        )
        contact = await make_contact(company, "Ana", "+5511988887777", opted_out_at=None)
        conv = await make_conversation(company, channel.id, contact_id=contact)
        await sql.execute("UPDATE contact SET opted_out_at = now() WHERE id = $1", contact)
        await sql.execute("UPDATE conversation SET last_inbound_at = now() - interval '2 days' WHERE id = $1", conv)
        late = await queue_message(company.id, conv, {"text": "Promo!"}, user_id=None)
        await Sender(client).run_once()
        row = await sql.fetchrow("SELECT status, error_code, error_reason FROM message WHERE id = $1", late)
        assert (row["status"], row["error_code"]) == ("failed", "opted-out") and "opted out" in row["error_reason"]
        assert fake.requests == []
        await sql.execute("UPDATE conversation SET last_inbound_at = now() - interval '1 hour' WHERE id = $1", conv)
        reply = await queue_message(company.id, conv, {"text": "Here is your answer"}, user_id=None)
        await Sender(client).run_once()
        assert await sql.fetchval("SELECT status FROM message WHERE id = $1", reply) == "sent"
        assert len(fake.requests) == 1


def test_opt_out_rule():
    from datetime import datetime, timedelta

    from app.domain.contacts import opt_out_allows

    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert opt_out_allows("text", now - timedelta(hours=23), now)
    assert not opt_out_allows("text", now - timedelta(hours=25), now)
    assert not opt_out_allows("template", now - timedelta(minutes=1), now)
    assert not opt_out_allows("text", None, now)


async def test_agents_set_the_language_of_customers_they_may_see(client):
    from tests.factories import make_department

    company = await make_company()
    sales, other = await make_department(company, "Sales"), await make_department(company, "Other")
    holder = await make_user(company, "agent", departments=[sales])
    outsider = await make_user(company, "agent", departments=[other])
    channel = await make_channel(company)
    contact = await make_contact(company, "Ana", "+5511988887777")
    conv = await make_conversation(company, channel, contact_id=contact, status="assigned", department=sales)
    await sql.execute("UPDATE conversation SET assigned_user_id = $2 WHERE id = $1", conv, holder.id)
    url = f"/contacts/{contact}/language"
    await login(client, outsider.email)
    assert (await post_form(client, url, {"language": "fr"})).status_code == 404
    client.cookies.clear()
    await login(client, holder.email)
    assert (await client.post(url, data={"language": "fr"})).status_code == 403  # no CSRF
    saved = await post_form(client, url, {"language": "pt_BR"}, headers={"hx-request": "true"})
    assert saved.status_code == 200 and 'value="pt_BR" selected' in saved.text
    assert await sql.fetchval("SELECT language FROM contact WHERE id = $1", contact) == "pt_BR"
    bad = await post_form(client, url, {"language": "klingon"}, headers={"hx-request": "true"})
    assert bad.status_code == 400 and "field-error" in bad.text
    plain = await post_form(client, url, {"language": "", "next": "https://evil.example/"})
    assert plain.status_code == 303 and plain.headers["location"] == "/"
    assert await sql.fetchval("SELECT language FROM contact WHERE id = $1", contact) == ""
    stranger = await make_contact(await make_company(), "X", "+5511000000009")
    assert (await post_form(client, f"/contacts/{stranger}/language", {"language": "fr"})).status_code == 404
    rows = await sql.fetch(
        "SELECT actor_user_id FROM audit_event WHERE company_id = $1 AND action = 'contact.updated'", company.id
    )
    assert [r["actor_user_id"] for r in rows] == [holder.id, holder.id]
