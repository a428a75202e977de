"""Calls beside chats on the wallboard and in the metrics (issue 17)."""

import json
import time
from datetime import UTC, datetime, timedelta

from app.domain import sql
from app.domain.phone import PhoneState, record_phone_states
from tests.factories import make_company, make_department, make_user
from tests.helpers import login


async def _cdr(
    company_id,
    n,
    *,
    channel,
    dstchannel,
    disposition="ANSWERED",
    duration=60,
    billsec=50,
    lastapp="Dial",
    lastdata="",
    start=None,
):
    await sql.execute(
        """INSERT INTO cdr (accountcode, src, dst, clid, channel, dstchannel, start, answer, "end", duration, billsec,
             disposition, uniqueid, linkedid, sequence, lastapp, lastdata)
           VALUES ($1, '0612345678', '700', '', $2, $3, $4, $4, $4, $5, $6, $7, $8, $8, $9, $10, $11)""",
        f"sb{company_id}",
        channel,
        dstchannel,
        start or datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5),
        duration,
        billsec,
        disposition,
        f"1796{n}.{n}",
        n,
        lastapp,
        lastdata,
    )


async def _setup():
    company = await make_company()
    dep = await make_department(company, "Sales")
    sup = await make_user(company, "supervisor")
    bob = await make_user(company, "agent", name="Bob", presence="online", departments=[dep])
    await make_user(company, "agent", name="Carl", departments=[dep])  # no phone
    ext = await sql.fetchval(
        "INSERT INTO pbx_object (company_id, kind, name) VALUES ($1, 'extension', '1002') RETURNING id", company.id
    )
    await sql.execute("INSERT INTO pbx_object (company_id, kind, name) VALUES ($1, 'queue', 'support')", company.id)
    await sql.execute(
        "INSERT INTO agent_extension (user_id, company_id, extension_id) VALUES ($1, $2, $3)", bob.id, company.id, ext
    )
    # Queue calls today: 2 answered (waits 10 s and 30 s), 1 abandoned; a direct call Bob missed; one he placed.
    await _cdr(
        company.id,
        1,
        channel="PJSIP/trunk-1",
        dstchannel="PJSIP/1002-1",
        lastapp="Queue",
        lastdata="support,t",
        duration=70,
        billsec=60,
    )
    await _cdr(
        company.id,
        2,
        channel="PJSIP/trunk-2",
        dstchannel="PJSIP/1002-2",
        lastapp="Queue",
        lastdata="support,t",
        duration=50,
        billsec=20,
    )
    await _cdr(
        company.id,
        3,
        channel="PJSIP/trunk-3",
        dstchannel="",
        lastapp="Queue",
        lastdata="support,t",
        disposition="NO ANSWER",
        billsec=0,
    )
    await _cdr(company.id, 4, channel="PJSIP/trunk-4", dstchannel="PJSIP/1002-4", disposition="NO ANSWER", billsec=0)
    await _cdr(company.id, 5, channel="PJSIP/1002-5", dstchannel="PJSIP/trunk-5", duration=40, billsec=35)
    live = {
        "calls": [],
        "endpoints": {},
        "stats": {},
        "queues": {
            "support": {
                "strategy": "ringall",
                "members": [{"interface": "PJSIP/1002", "paused": True}],
                "callers": [{"uniqueid": "x", "joined": time.time() - 95, "position": 1}],
            }
        },
    }
    await sql.execute(
        "INSERT INTO pbx_live (company_id, version, snapshot) VALUES ($1, 1, $2::jsonb)", company.id, json.dumps(live)
    )
    return company, dep, sup, bob


async def test_wallboard_shows_call_queues_and_phones(client):
    company, dep, sup, bob = await _setup()
    await record_phone_states(
        [PhoneState(bob.id, company.id, "1002", "busy", "c1", "+33612345678", "Alice", True, "lunch")]
    )
    await login(client, sup.email)
    page = await client.get("/supervisor/")
    assert page.status_code == 200
    html = page.text
    row = html.split('id="wb-call-queue-support"')[1].split("</tr>")[0]
    cells = [c.split(">", 1)[1].split("<")[0].strip() for c in row.split("<td")[2:]]
    assert cells[0] == "1"  # waiting now
    assert cells[1].startswith("1 min 3")  # longest wait ~95 s
    assert cells[2:] == ["2", "1", "50 %"]  # answered, abandoned, service level (10 s <= 20 s; 30 s > 20 s)
    agent_row = html.split(f'id="wb-agent-{bob.id}"')[1].split("</tr>")[0]
    assert "On a call" in agent_row and "Alice" in agent_row and "lunch" in agent_row


async def test_call_metrics_per_agent_and_department_with_csv(client):
    company, dep, sup, bob = await _setup()
    await login(client, sup.email)
    page = await client.get("/metrics/calls")
    assert page.status_code == 200 and "Definitions" in page.text
    row = page.text.split("<td>Bob</td>")[1].split("</tr>")[0]
    assert [c.split(">", 1)[1].split("<")[0] for c in row.split("<td")[1:]] == [
        "3",
        "1",
        "1 min 55 s",
        "20 s",
    ]  # talk 60 + 20 + 35; waits 10 and 30
    csv_text = (await client.get("/metrics/calls.csv", params={"group": "department"})).text
    lines = csv_text.strip().splitlines()
    assert lines[0] == "from,to,group,handled,missed,talk_time_s,average_wait_s"
    assert lines[1].endswith("Sales,3,1,115,20.0")
    assert (await client.get("/metrics/calls", params={"group": "bogus"})).status_code == 400
    agent = await make_user(company, "agent")
    await login(client, agent.email)
    assert (await client.get("/metrics/calls")).status_code == 403
