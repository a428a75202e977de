"""The agent's day, server side: where login lands, presence restored, alerts on every page."""

import json

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.events import ConversationRouted, MessageReceived
from app.web.live import render_event
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import PASSWORD, make_company, make_department, make_user
from tests.helpers import csrf, login, post_form


async def test_login_lands_on_the_inbox(client):
    company = await make_company()
    agent = await make_user(company, "agent")
    await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": agent.email, "password": PASSWORD, "_csrf_token": csrf(client)},
    )
    assert response.status_code == 303 and response.headers["location"] == "/inbox"
    again = await client.get("/login")
    assert again.status_code in (302, 303) and again.headers["location"] == "/inbox"


async def test_an_offline_agent_is_asked_to_go_online(client):
    company = await make_company()
    agent = await make_user(company, "agent", presence="offline")
    await login(client, agent.email)
    page = await client.get("/inbox")
    assert '<div id="offline-prompt" class="offline-prompt" role="status">' in page.text
    assert 'name="presence" value="online"' in page.text.split('id="offline-prompt"')[1]
    await post_form(client, "/presence", {"presence": "online"})
    page = await client.get("/inbox")
    # Kept (hidden) so that the page can show it again live when the agent goes offline.
    assert '<div id="offline-prompt" class="offline-prompt" role="status" hidden>' in page.text


async def _went_offline(user, old: str, reason: str, ago: str) -> None:
    await sql.execute("UPDATE app_user SET presence = 'offline' WHERE id = $1", user.id)
    await sql.execute(
        """INSERT INTO presence_change (company_id, user_id, from_presence, to_presence, reason, at)
           VALUES ($1, $2, $3, 'offline', $4, now() - $5::text::interval)""",
        user.company_id,
        user.id,
        old,
        reason,
        ago,
    )


async def _presence(user) -> str:
    return await sql.fetchval("SELECT presence FROM app_user WHERE id = $1", user.id)


async def test_last_availability_is_restored_the_same_day(client):
    company = await make_company()  # UTC: "the same day" is the company's day
    agent = await make_user(company, "agent")
    await _went_offline(agent, "busy", "timeout", "1 second")
    await login(client, agent.email)
    assert await _presence(agent) == "busy"
    reason = await sql.fetchval(
        "SELECT reason FROM presence_change WHERE user_id = $1 ORDER BY id DESC LIMIT 1",
        agent.id,
    )
    assert reason == "restored"


async def test_availability_is_not_restored_after_a_manual_offline_or_another_day(
    client,
):
    company = await make_company()
    manual = await make_user(company, "agent")
    await _went_offline(manual, "online", "manual", "1 second")
    await login(client, manual.email)
    assert await _presence(manual) == "offline"

    yesterday = await make_user(company, "agent")
    await _went_offline(yesterday, "online", "timeout", "2 days")
    client.cookies.clear()
    await login(client, yesterday.email)
    assert await _presence(yesterday) == "offline"


async def test_company_settings_flash_follows_the_new_language(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    response = await post_form(
        client,
        "/admin/company",
        {"name": company.name, "timezone": "Europe/Paris", "language": "fr"},
    )
    assert response.status_code == 303
    page = await client.get("/admin/company")
    assert (
        "Paramètres de l&#39;entreprise enregistrés." in page.text
        or "Paramètres de l'entreprise enregistrés." in page.text
    )


async def _scene():
    company = await make_company()
    sales = await make_department(company, "Sales")
    channel = await make_channel(company, department=sales)
    holder = await make_user(company, presence="online", departments=[sales])
    other = await make_user(company, presence="online", departments=[sales])
    conv = await make_conversation(company, channel)
    await sql.execute(
        "UPDATE contact SET name = 'Zoé <Z>' WHERE id = (SELECT contact_id FROM conversation WHERE id = $1)",
        conv,
    )
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'text', 'My parcel is late', 'received')""",
        company.id,
        channel,
        conv,
    )
    await sql.execute(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, status)
           VALUES ($1, $2, $3, 'out', 'bot', 'text', 'Choose a department: 1 Sales', 'sent')""",
        company.id,
        channel,
        conv,
    )
    return company, sales, channel, holder, other, conv


async def test_an_assignment_alerts_its_agent_on_any_page_quoting_the_customer(app):
    company, sales, channel, holder, other, conv = await _scene()
    await queue_conversation(company.id, conv, sales.id)
    holder_id = await sql.fetchval("SELECT assigned_user_id FROM conversation WHERE id = $1", conv)
    holder = holder if holder_id == holder.id else other
    bystander = other if holder is not other else (await make_user(company, presence="online"))
    event = ConversationRouted(company.id, conv, "assigned", holder.id, None, sales.id)
    for topics in (frozenset({"home"}), frozenset({"orders"}), frozenset()):
        out = [m for m in await render_event(event, holder, topics) if m.event == "my-alert"]
        assert len(out) == 1
        alert = json.loads(out[0].data)
        assert alert["conversation"] == conv and alert["customer"] == "Zoé <Z>"
        assert alert["text"] == "My parcel is late"  # the customer's words, not the bot's menu
        assert alert["kind"] == "assigned"
    assert [m for m in await render_event(event, bystander, frozenset({"home"})) if m.event == "my-alert"] == []


async def test_a_customer_message_alerts_its_holder_but_not_a_bot_message(app):
    company, sales, channel, holder, other, conv = await _scene()
    await sql.execute(
        "UPDATE conversation SET status = 'assigned', assigned_user_id = $2, department_id = $3 WHERE id = $1",
        conv,
        holder.id,
        sales.id,
    )
    customer = await sql.fetchval(
        "SELECT id FROM message WHERE conversation_id = $1 AND author = 'customer'",
        conv,
    )
    bot = await sql.fetchval("SELECT id FROM message WHERE conversation_id = $1 AND author = 'bot'", conv)
    out = [
        m
        for m in await render_event(MessageReceived(company.id, conv, customer), holder, frozenset({"home"}))
        if m.event == "my-alert"
    ]
    assert len(out) == 1 and json.loads(out[0].data)["kind"] == "message"
    assert json.loads(out[0].data)["text"] == "My parcel is late"
    assert [
        m
        for m in await render_event(MessageReceived(company.id, conv, bot), holder, frozenset({"home"}))
        if m.event == "my-alert"
    ] == []
    assert [
        m
        for m in await render_event(MessageReceived(company.id, conv, customer), other, frozenset({"home"}))
        if m.event == "my-alert"
    ] == []


async def test_favicon_and_manifest(client):
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/")
    manifest = await client.get("/manifest.webmanifest")
    assert manifest.status_code == 200
    data = json.loads(manifest.text)
    assert data["start_url"] == "/inbox" and data["display"] == "standalone"
    sizes = {i["sizes"] for i in data["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for i in data["icons"]:
        assert (await client.get(i["src"])).status_code == 200
    company = await make_company()
    agent = await make_user(company, "agent")
    await login(client, agent.email)
    page = await client.get("/inbox")
    assert 'rel="manifest"' in page.text and 'rel="icon"' in page.text
    assert '<symbol id="i-inbox"' in page.text  # the icon sprite


async def test_timezone_select_is_grouped_common_first_without_aliases(client):
    import re

    from app.domain.companies import timezones

    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    page = (await client.get("/admin/company")).text
    groups = re.findall(r'<optgroup label="([^"]+)">', page)
    assert groups[0] == "Common" and "Europe" in groups and "Americas" in groups
    values = re.findall(
        r'<option value="([^"]+)"',
        page.split('name="timezone"')[1].split("</select>")[0],
    )
    assert "Europe/Paris" in values[:5]
    assert "US/Eastern" not in values and "Europe/Belfast" not in values and "Etc/GMT+3" not in values
    assert set(values) <= set(timezones()) and 300 < len(set(values)) < 460
    assert "Argentina / Buenos Aires" in page
    # A company saved on an alias earlier keeps it (shown, selected).
    await sql.execute("UPDATE company SET timezone = 'US/Eastern' WHERE id = $1", company.id)
    page = (await client.get("/admin/company")).text
    assert '<option value="US/Eastern" selected>' in page
