"""The demo company that `switchboard demo` creates: complete, and the same when run twice."""

from __future__ import annotations

from app.demo import DEMO_PASSWORD, QUICK_REPLIES, USERS, seed_demo
from app.domain import sql
from tests.helpers import login


async def test_demo_company_is_complete_and_seeding_twice_changes_nothing(client):
    logins = await seed_demo()
    counts = await sql.fetchrow(
        """SELECT (SELECT count(*) FROM company) AS companies, (SELECT count(*) FROM app_user) AS users,
                  (SELECT count(*) FROM department) AS departments,
                  (SELECT count(*) FROM channel WHERE provider = 'sandbox') AS sandboxes,
                  (SELECT count(*) FROM quick_reply) AS quick_replies"""
    )
    assert dict(counts) == {
        "companies": 1,
        "users": len(USERS),
        "departments": 2,
        "sandboxes": 1,
        "quick_replies": len(QUICK_REPLIES),
    }
    await sql.execute("UPDATE app_user SET active = false")  # someone deactivated the demo logins
    assert await seed_demo() == logins
    again = await sql.fetchrow(
        """SELECT (SELECT count(*) FROM company) AS companies, (SELECT count(*) FROM app_user) AS users,
                  (SELECT count(*) FROM department) AS departments,
                  (SELECT count(*) FROM channel WHERE provider = 'sandbox') AS sandboxes,
                  (SELECT count(*) FROM quick_reply) AS quick_replies"""
    )
    assert again == counts
    for role, email in logins:
        await login(client, email, DEMO_PASSWORD)
        page = await client.get("/")
        assert page.status_code == 200, role
        client.cookies.clear()
