"""Self-service profile: each person sets their own name, language and alert sound, nothing else."""

from app.domain import sql
from tests.factories import make_company, make_user
from tests.helpers import login, post_form


async def test_an_agent_sets_name_language_and_sound(client):
    company = await make_company()
    agent = await make_user(company, "agent", name="Anna")
    await login(client, agent.email)
    page = await client.get("/profile")
    assert page.status_code == 200 and 'value="Anna"' in page.text and 'href="/account/security"' in page.text
    assert 'data-sound="chime"' in page.text
    saved = await post_form(
        client,
        "/profile",
        {
            "name": "Anna <Martin>",
            "language": "fr",
            "notification_sound": "bell",
            "role": "admin",
            "capacity": "99",
        },
    )
    assert saved.status_code == 303
    row = await sql.fetchrow(
        "SELECT name, language, notification_sound, role, capacity FROM app_user WHERE id = $1",
        agent.id,
    )
    assert tuple(row) == (
        "Anna <Martin>",
        "fr",
        "bell",
        "agent",
        5,
    )  # role and capacity stay with admins
    page = await client.get("/profile")
    assert "Profil enregistré." in page.text  # the flash in the language just chosen
    assert 'data-sound="bell"' in page.text and "Anna &lt;Martin&gt;" in page.text
    audit = await sql.fetchval("SELECT count(*) FROM audit_event WHERE action = 'user.profile_updated'")
    assert audit == 1


async def test_bad_profile_values_are_refused(client):
    company = await make_company()
    agent = await make_user(company, "agent", name="Anna")
    await login(client, agent.email)
    for data, field in (
        ({"name": "", "notification_sound": "chime"}, "name"),
        ({"name": "A", "notification_sound": "siren"}, "notification_sound"),
        ({"name": "A", "language": "xx"}, "language"),
        ({"name": "A" * 121}, "name"),
    ):
        response = await post_form(client, "/profile", data)
        assert response.status_code == 400 and f'id="{field}-error"' in response.text
    assert await sql.fetchval("SELECT name FROM app_user WHERE id = $1", agent.id) == "Anna"


async def test_profile_needs_a_login(client):
    response = await client.get("/profile")
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]
