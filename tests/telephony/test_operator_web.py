"""/operator and /api/calls: the console page, its actions against the fake AMI, and their guards."""

import pytest

from app.domain import sql
from app.telephony.live import get_live, get_status
from tests.factories import make_company, make_user
from tests.helpers import csrf, login, post_form
from tests.telephony.conftest import ami_settings, eventually, own
from tests.telephony.fake_ami import blocks


@pytest.fixture
def settings(settings, fake_ami):
    return ami_settings(settings, fake_ami)


async def _call_up(fake_ami, company):
    await eventually(_connected)
    events = blocks("real_flow_basic_call_1001_to_1002.txt")
    hangup_at = next(i for i, b in enumerate(events) if b.startswith("Event: Hangup"))
    await fake_ami.push(*events[:hangup_at])
    return await eventually(lambda: _calls(company))


async def _calls(company):
    return (await get_live(company.id))["calls"]


async def _connected():
    status = await get_status()
    return status and status["state"] == "connected"


@pytest.fixture
async def pbx(app, fake_ami):
    company = await make_company()
    await own(company, "extension", "1001")
    await own(company, "extension", "1002")
    supervisor = await make_user(company, "supervisor")
    return company, supervisor


async def test_console_shows_live_call_and_counters(client, fake_ami, pbx):
    company, supervisor = pbx
    await _call_up(fake_ami, company)
    await login(client, supervisor.email)
    page = await client.get("/operator/")
    assert page.status_code == 200
    html = page.text
    assert 'id="call-1795314668-0"' in html and "Alice" in html and "Bob" in html
    assert 'data-since="' in html  # the running timer
    assert '<span class="stat-value" id="stat-active-calls">1</span>' in html
    assert "Connected to Asterisk" in html
    assert 'href="/operator"' in html  # nav link for supervisors


async def test_hangup_sends_the_action_and_is_audited(client, fake_ami, pbx):
    company, supervisor = pbx
    await _call_up(fake_ami, company)
    await login(client, supervisor.email)
    response = await post_form(client, "/operator/calls/hangup", {"channel": "PJSIP/1001-00000000"})
    assert response.status_code == 200, response.text
    assert "Channel Hungup" in response.text
    sent = fake_ami.actions_named("Hangup")
    assert sent and sent[-1]["Channel"] == "PJSIP/1001-00000000" and sent[-1]["Cause"] == "16"
    row = await sql.fetchrow("SELECT * FROM pbx_audit WHERE company_id = $1", company.id)
    assert row["action"] == "call.hangup" and row["user_id"] == supervisor.id and row["target"] == "PJSIP/1001-00000000"


async def test_transfer_sends_redirect(client, fake_ami, pbx):
    company, supervisor = pbx
    await _call_up(fake_ami, company)
    await login(client, supervisor.email)
    response = await post_form(
        client, "/operator/calls/transfer", {"channel": "PJSIP/1001-00000000", "destination": "601"}
    )
    assert response.status_code == 200 and "Redirect successful" in response.text
    sent = fake_ami.actions_named("Redirect")[-1]
    assert (sent["Channel"], sent["Context"], sent["Exten"], sent["Priority"]) == (
        "PJSIP/1001-00000000",
        f"sb{company.id}-internal",
        "601",
        "1",
    )


async def test_asterisk_error_is_shown_as_such(client, fake_ami, pbx):
    company, supervisor = pbx
    await _call_up(fake_ami, company)
    fake_ami.replies["hangup"] = ["Response: Error\r\nActionID: x\r\nMessage: No such channel"]
    await login(client, supervisor.email)
    response = await post_form(
        client, "/operator/calls/hangup", {"channel": "PJSIP/1001-00000000"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 502
    assert "Asterisk refused Hangup: No such channel" in response.text
    audit = await sql.fetchrow("SELECT detail FROM pbx_audit")
    assert '"ok": false' in audit["detail"]


async def test_bad_input_other_company_and_roles(client, fake_ami, pbx):
    company, supervisor = pbx
    await _call_up(fake_ami, company)
    other = await make_company()
    intruder = await make_user(other, "admin")
    agent = await make_user(company, "agent")

    await login(client, agent.email)
    assert (await client.get("/operator/")).status_code == 403
    assert (await post_form(client, "/operator/calls/hangup", {"channel": "PJSIP/1001-00000000"})).status_code == 403

    await login(client, intruder.email)
    response = await post_form(client, "/operator/calls/hangup", {"channel": "PJSIP/1001-00000000"})
    assert response.status_code == 404  # another company's call
    await login(client, supervisor.email)
    for data in ({}, {"channel": ""}, {"channel": "x" * 500}, {"channel": "PJSIP/1001\r\nAction: Originate"}):
        assert (await post_form(client, "/operator/calls/hangup", data)).status_code == 400, data
    bad_dest = {"channel": "PJSIP/1001-00000000", "destination": "601\r\nAction: Logoff"}
    assert (await post_form(client, "/operator/calls/transfer", bad_dest)).status_code == 400
    assert (await post_form(client, "/operator/calls/hangup", {"channel": "PJSIP/9999-00000001"})).status_code == 404
    # No CSRF token: refused before anything reaches Asterisk.
    no_csrf = await client.post("/operator/calls/hangup", data={"channel": "PJSIP/1001-00000000"})
    assert no_csrf.status_code == 403
    assert fake_ami.actions_named("Hangup") == []
    assert fake_ami.actions_named("Redirect") == []


async def test_calls_api(client, fake_ami, pbx):
    company, supervisor = pbx
    await _call_up(fake_ami, company)
    assert (await client.post("/api/calls/hangup", json={"channel": "x"})).status_code in (401, 403)
    await login(client, supervisor.email)
    headers = {"x-csrftoken": csrf(client)}
    listing = await client.get("/api/calls/")
    assert listing.json()["calls"][0]["channels"][0] == "PJSIP/1001-00000000"
    ok = await client.post(
        "/api/calls/transfer", json={"channel": "PJSIP/1001-00000000", "destination": "601"}, headers=headers
    )
    assert ok.status_code == 200 and ok.json() == {"ok": True, "message": "Redirect successful"}
    bad = await client.post("/api/calls/hangup", json={"channel": "PJSIP/1001-00000000; rm"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["status"] == 400
    assert (
        await client.post(
            "/api/calls/hangup", content=b"{not json", headers={**headers, "content-type": "application/json"}
        )
    ).status_code == 400
    assert (await client.post("/api/calls/hangup", json=["a"], headers=headers)).status_code == 400
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/calls/hangup" in schema["paths"] and "/api/calls/transfer" in schema["paths"]


async def test_pause_queue_member(client, fake_ami, pbx):
    company, supervisor = pbx
    await own(company, "queue", "support")
    await eventually(_connected)
    await login(client, supervisor.email)
    response = await post_form(
        client,
        "/operator/queues/pause",
        {"queue": "support", "interface": "PJSIP/1001", "paused": "true", "reason": "lunch"},
    )
    assert response.status_code == 200 and "Interface paused successfully" in response.text
    sent = fake_ami.actions_named("QueuePause")[-1]
    assert (sent["Queue"], sent["Interface"], sent["Paused"], sent["Reason"]) == (
        "support",
        "PJSIP/1001",
        "true",
        "lunch",
    )
    assert (
        await post_form(client, "/operator/queues/pause", {"queue": "sales", "interface": "PJSIP/1001"})
    ).status_code == 404


async def test_click_to_call_originates_from_own_extension_only(client, fake_ami, pbx):
    company, supervisor = pbx
    await eventually(_connected)
    await login(client, supervisor.email)
    ok = await post_form(client, "/operator/calls/originate", {"extension": "1001", "destination": "0612345678"})
    assert ok.status_code == 200 and "Originate successfully queued" in ok.text
    sent = fake_ami.actions_named("Originate")[-1]
    assert (sent["Channel"], sent["Context"], sent["Exten"], sent["Async"]) == (
        "PJSIP/1001",
        f"sb{company.id}-internal",
        "0612345678",
        "true",
    )
    other = await make_company()
    from tests.telephony.conftest import own as give

    await give(other, "extension", "3001")
    for bad in (
        {"extension": "3001", "destination": "1"},
        {"extension": "1001", "destination": "abc"},
        {"extension": "", "destination": ""},
    ):
        assert (await post_form(client, "/operator/calls/originate", bad)).status_code == 400, bad
    assert len(fake_ami.actions_named("Originate")) == 1
    audit = await sql.fetch("SELECT action, target FROM pbx_audit")
    assert [(a["action"], a["target"]) for a in audit] == [("call.originate", "1001")]
