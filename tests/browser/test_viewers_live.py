"""Who else is here, live: a supervisor opens the conversation an agent holds; each sees the
other, and the supervisor sees the agent typing a reply (1280 px English, 390 px French)."""

import pytest
from playwright.sync_api import expect

from app.domain import sql
from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "width,language,here,typing",
    [
        (1280, "en", "Sue Supervisor is here", "Anna Agent is typing a reply"),
        (390, "fr", "Sue Supervisor est ici", "Anna Agent écrit une réponse"),
    ],
)
def test_viewers_and_typing_agents(new_page, width, language, here, typing):
    company = run(make_company(f"Viewers {width}"))
    support = run(make_department(company, "Support", code=f"V{width}"))
    channel_id = run(make_channel(company, department=support))
    admin = run(make_user(company, "admin", name="Ada Admin"))
    anna = run(
        make_user(
            company,
            "agent",
            name="Anna Agent",
            departments=[support],
            presence="online",
        )
    )
    sue = run(make_user(company, "supervisor", name="Sue Supervisor"))
    for user in (anna, sue):
        run(sql.execute("UPDATE app_user SET language = $2 WHERE id = $1", user.id, language))

    agent = new_page(width=width)
    browser_login(agent, anna.email, PASSWORD)
    customer = new_page()
    browser_login(customer, admin.email, PASSWORD)
    customer.goto(f"/simulator?channel={channel_id}&phone=%2B15550100003&name=Carla")
    customer.fill("form.sim-compose input[name=text]", "Hello?")
    customer.click("form.sim-compose button[type=submit]")
    conv = None
    for _ in range(50):
        conv = run(
            sql.fetchval(
                "SELECT id FROM conversation WHERE company_id = $1 AND status = 'assigned'",
                company.id,
            )
        )
        if conv:
            break
        agent.wait_for_timeout(200)
    assert conv
    agent.goto(f"/inbox/{conv}")
    boss = new_page(width=width)
    browser_login(boss, sue.email, PASSWORD)
    boss.goto(f"/inbox/{conv}")
    expect(agent.locator(f"#viewers-{conv}")).to_contain_text(here, timeout=10_000)
    agent.locator("#composer-text").type("Let me check")
    expect(boss.locator(f"#viewers-{conv}")).to_contain_text(typing, timeout=10_000)
    screenshot(boss, f"viewers-typing-{width}-{language}")
    boss.goto("/orders")  # leaves the conversation
    expect(agent.locator(f"#viewers-{conv}")).not_to_contain_text("Sue", timeout=10_000)
