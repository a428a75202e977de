"""Missed call -> WhatsApp (issue 17): one click, or automatic on a queue abandon."""

import json

import pytest

from app.domain import sql
from app.domain.channels import create_channel
from app.domain.phone import update_voice_settings
from tests.factories import make_company, make_department, make_user
from tests.helpers import login, post_form
from tests.telephony.conftest import ami_settings, eventually, own
from tests.telephony.fake_ami import blocks
from tests.telephony.test_console_calls import retag


@pytest.fixture
def settings(settings, fake_ami):
    return ami_settings(settings, fake_ami)


async def _company(auto: bool):
    company = await make_company()
    admin = await make_user(company, "admin")
    dep = await make_department(company, "Sales")
    agent = await make_user(company, "agent", presence="online", departments=[dep])
    channel = await create_channel(
        company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1",
            "cred_access_token": "t",
            "cred_app_secret": "s",
        },
    )
    await sql.execute("UPDATE channel SET default_department_id = $2 WHERE id = $1", channel.id, dep.id)
    await update_voice_settings(
        admin,
        {
            "missed_call_template": "missed_call_v1",
            "missed_call_language": "fr",
            "missed_call_auto": "on" if auto else "",
        },
    )
    return company, admin, dep, agent, channel


async def _templates(company):
    rows = await sql.fetch(
        """SELECT m.type, m.data AS payload, c.id AS conversation_id, c.status, c.assigned_user_id, ct.phone
           FROM message m JOIN conversation c ON c.id = m.conversation_id JOIN contact ct ON ct.id = c.contact_id
           WHERE m.company_id = $1 AND m.direction = 'out'""",
        company.id,
    )
    return [dict(r) for r in rows]


async def test_one_click_sends_the_template_and_opens_the_conversation(app, client):
    company, admin, dep, agent, channel = await _company(auto=False)
    await login(client, agent.email)
    response = await post_form(client, "/phone/missed", {"number": "0033612345678"}, headers={"hx-request": "true"})
    assert response.status_code == 200, response.text
    sent = await _templates(company)
    assert len(sent) == 1 and sent[0]["type"] == "template" and sent[0]["phone"] == "+33612345678"
    payload = sent[0]["payload"] if isinstance(sent[0]["payload"], dict) else json.loads(sent[0]["payload"])
    assert payload["template"]["name"] == "missed_call_v1" and payload["template"]["language"] == "fr"
    assert response.headers["HX-Redirect"] == f"/inbox/{sent[0]['conversation_id']}"
    assert (sent[0]["status"], sent[0]["assigned_user_id"]) == ("assigned", agent.id)
    # A national number cannot be written to on WhatsApp: a clear 400, nothing sent.
    bad = await post_form(client, "/phone/missed", {"number": "0612"}, headers={"hx-request": "true"})
    assert bad.status_code == 400
    assert len(await _templates(company)) == 1


async def test_queue_abandon_sends_it_automatically_once(app, fake_ami):
    company, admin, dep, agent, channel = await _company(auto=True)
    await own(company, "queue", "support")

    async def connected():
        from app.telephony.live import get_status

        status = await get_status()
        return status is not None and status["state"] == "connected"

    await eventually(connected)

    async def owners_loaded():
        return "support" in app.state.ami.publisher.queue_owners

    await eventually(owners_loaded)
    abandon = retag(blocks("real_event_QueueCallerAbandon.txt")[0], CallerIDNum="+33698765432")
    await fake_ami.push(abandon)
    sent = await eventually(lambda: _templates(company))
    assert sent[0]["phone"] == "+33698765432" and sent[0]["status"] == "queued"
    await fake_ami.push(abandon)  # again within the hour: not twice
    await fake_ami.push(retag(abandon, Queue="not-ours", CallerIDNum="+33611111111"))
    import asyncio

    await asyncio.sleep(1.0)
    assert len(await _templates(company)) == 1
