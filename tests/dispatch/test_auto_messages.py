"""Automatic messages: take-over, place in line, closing; editable, switchable, safe."""

import pytest

from app.dispatch.assignment import queue_conversation
from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.auto_messages import update_auto_messages
from app.domain.conversations import resolve_conversation
from app.domain.errors import ValidationError
from app.domain.events import ConversationRouted
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form


async def bot_texts(conversation_id):
    rows = await sql.fetch(
        "SELECT text FROM message WHERE conversation_id = $1 AND author = 'bot' ORDER BY id", conversation_id
    )
    return [r["text"] for r in rows]


@pytest.fixture
async def world(app):
    company = await make_company()
    dep = await make_department(company, "Support")
    channel = await make_channel(company, department=dep)
    return company, dep, channel


async def test_takeover_place_in_line_and_closing(world):
    company, dep, channel = world
    await make_user(company, name="Bea", presence="busy", departments=[dep])  # staffed, nobody free
    first, second = await make_conversation(company, channel), await make_conversation(company, channel)
    await queue_conversation(company.id, first, dep.id)
    await queue_conversation(company.id, second, dep.id)
    await react(
        ConversationRouted(company_id=company.id, conversation_id=second, status="queued", department_id=dep.id)
    )
    assert await bot_texts(second) == [
        "All our agents are busy. You are number 2 in line; we will answer as soon as we can."
    ]
    anna = await make_user(company, name="Anna", presence="online", departments=[dep])
    await queue_conversation(company.id, first, dep.id)  # drained to Anna at once
    row = await sql.fetchrow("SELECT assigned_user_id FROM conversation WHERE id = $1", first)
    await react(
        ConversationRouted(
            company_id=company.id, conversation_id=first, status="assigned", user_id=row["assigned_user_id"]
        )
    )
    assert await bot_texts(first) == ["Anna is now with you."]
    await resolve_conversation(anna, first)
    assert (await bot_texts(first))[-1].startswith("Thank you for contacting us.")


async def test_texts_are_editable_and_can_be_switched_off(world):
    company, dep, channel = world
    await update_auto_messages(
        company.id,
        {
            "takeover_text": "Bonjour, {agent} vous répond.",
            "takeover_enabled": "on",
            "queued_text": "Position {position}",
            "queued_enabled": "",
            "resolved_text": "Bye",
            "resolved_enabled": "",
        },
    )
    anna = await make_user(company, name="Anna", presence="online", departments=[dep])
    conv = await make_conversation(company, channel)
    await queue_conversation(company.id, conv, dep.id)
    await react(ConversationRouted(company_id=company.id, conversation_id=conv, status="assigned", user_id=anna.id))
    await resolve_conversation(anna, conv)
    assert await bot_texts(conv) == ["Bonjour, Anna vous répond."]


@pytest.mark.parametrize("text", ["{agent.__class__}", "{position}", "{agent:>99999999}", "{agent!r}", "{", "{0}"])
async def test_unsafe_or_unknown_placeholders_are_refused(world, text):
    company, _, _ = world
    with pytest.raises(ValidationError) as exc:
        await update_auto_messages(company.id, {"takeover_text": text, "queued_text": "q", "resolved_text": "r"})
    assert "takeover_text" in exc.value.errors


async def test_admin_page_roles_and_errors(client, world):
    company, _, _ = world
    agent = await make_user(company, "agent")
    await login(client, agent.email)
    assert (await client.get("/admin/auto-messages")).status_code == 403
    client.cookies.clear()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    page = await client.get("/admin/auto-messages")
    assert page.status_code == 200 and "is now with you" in page.text
    bad = await post_form(
        client, "/admin/auto-messages", {"takeover_text": "{boss}", "queued_text": "", "resolved_text": "x" * 1001}
    )
    assert bad.status_code == 400 and "Unknown placeholder" in bad.text and "Use at most 1000 characters." in bad.text
    good = await post_form(
        client,
        "/admin/auto-messages",
        {"takeover_text": "Hi, I am {agent}", "takeover_enabled": "on", "queued_text": "Wait", "resolved_text": "Bye"},
    )
    assert good.status_code == 303
    assert "Hi, I am {agent}" in (await client.get("/admin/auto-messages")).text
    assert (await client.post("/admin/auto-messages", data={"takeover_text": "x"})).status_code == 403  # no CSRF
    other = await make_company()
    assert await sql.fetchval("SELECT count(*) FROM auto_message WHERE company_id = $1", other.id) == 0


async def test_admin_edits_each_language_and_bad_language_is_refused(client, world):
    company, _, _ = world
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    page = await client.get("/admin/auto-messages", params={"language": "fr"})
    assert page.status_code == 200 and "est maintenant avec vous" in page.text and 'value="fr"' in page.text
    assert "We are closed at the moment" in (await client.get("/admin/auto-messages")).text  # company: English
    saved = await post_form(
        client, "/admin/auto-messages", {"language": "pt_BR", "takeover_text": "{agent} aqui", "takeover_enabled": "on"}
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("language=pt_BR")
    rows = await sql.fetch("SELECT language, text FROM auto_message WHERE company_id = $1", company.id)
    assert [(r["language"], r["text"]) for r in rows] == [("pt_BR", "{agent} aqui")]
    assert "{agent} is now with you." in (await client.get("/admin/auto-messages", params={"language": "en"})).text
    bad = await post_form(client, "/admin/auto-messages", {"language": "de", "takeover_text": "x"})
    assert bad.status_code == 400
    unknown = await post_form(
        client, "/admin/auto-messages", {"language": "fr", "out_of_hours_text": "{opens} {agent}"}
    )
    assert unknown.status_code == 400 and "Unknown placeholder" in unknown.text
    audit = await sql.fetchrow(
        "SELECT action, target_id, after FROM audit_event WHERE company_id = $1 AND action = 'auto_messages.updated'",
        company.id,
    )
    assert audit["target_id"] == "pt_BR" and "{agent} aqui" in audit["after"]


def test_every_default_text_exists_in_each_language_with_its_placeholders():
    from app.domain.auto_messages import KINDS, LANGUAGES, PLACEHOLDERS, _placeholders, default_text

    for kind in KINDS:
        english = default_text(kind, "en")
        for language in LANGUAGES:
            text = default_text(kind, language)
            assert _placeholders(text) == _placeholders(english) <= PLACEHOLDERS[kind]
            if language != "en":
                assert text != english, (kind, language)
