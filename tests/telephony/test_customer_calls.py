"""One timeline per customer (issue 17): the customer's calls, from Asterisk's CDR, beside the
messages of their conversation and in the API; matched by number in any spelling."""

from datetime import UTC, datetime, timedelta

from app.domain import sql
from app.domain.callers import find_contact, variants
from tests.api.conftest import make_shop
from tests.dispatch.factories import make_conversation
from tests.helpers import login


async def _cdr(
    company_id,
    n,
    *,
    src,
    dst,
    channel,
    dstchannel,
    start,
    disposition="ANSWERED",
    duration=95,
    billsec=80,
    lastapp="Dial",
    lastdata="",
):
    await sql.execute(
        """INSERT INTO cdr (accountcode, src, dst, clid, channel, dstchannel, start, answer, "end", duration, billsec,
             disposition, uniqueid, linkedid, sequence, lastapp, lastdata)
           VALUES ($1, $2, $3, '', $4, $5, $6, $6, $6, $7, $8, $9, $10, $10, $11, $12, $13)""",
        f"sb{company_id}",
        src,
        dst,
        channel,
        dstchannel,
        start,
        duration,
        billsec,
        disposition,
        f"1795{n}.{n}",
        n,
        lastapp,
        lastdata,
    )


def test_spellings_of_a_number():
    assert variants("+33612345678") == ["+33612345678", "33612345678", "0033612345678", "0612345678"]


async def test_calls_in_the_conversation_history_and_the_api(app, client):
    shop = await make_shop()
    company = shop.company
    contact = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name) VALUES ($1, '+33612345678', 'Alice') RETURNING id", company.id
    )
    assert (await find_contact(company.id, "0612345678"))["id"] == contact  # the trunk's national spelling
    assert (await find_contact(company.id, "0033612345678"))["id"] == contact
    assert await find_contact(company.id, "0699999999") is None
    conv = await make_conversation(company, shop.channel_id, status="assigned", contact_id=contact)
    await sql.execute(
        "UPDATE conversation SET assigned_user_id = $2, created_at = now() - interval '1 hour' WHERE id = $1",
        conv,
        shop.agent.id,
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    await _cdr(
        company.id,
        1,
        src="0612345678",
        dst="700",
        channel="PJSIP/trunk-00000001",
        dstchannel="PJSIP/1002-00000002",
        start=now - timedelta(minutes=10),
        lastapp="Queue",
        lastdata="support,t",
    )
    await _cdr(
        company.id,
        2,
        src="1002",
        dst="0033612345678",
        channel="PJSIP/1002-00000003",
        dstchannel="PJSIP/trunk-4",
        start=now - timedelta(minutes=5),
        disposition="NO ANSWER",
        billsec=0,
        duration=20,
    )
    await _cdr(
        company.id,
        3,
        src="0611111111",
        dst="700",
        channel="PJSIP/trunk-5",
        dstchannel="PJSIP/1002-6",
        start=now - timedelta(minutes=4),
    )  # someone else
    await login(client, shop.agent.email)
    pane = await client.get(f"/inbox/{conv}/pane")
    assert pane.status_code == 200
    assert pane.text.count("call-event") == 2
    assert "Incoming call" in pane.text and "queue support" in pane.text and "extension 1002" in pane.text
    assert "Outgoing call" in pane.text
    api = await client.get(f"/api/v1/contacts/{contact}/calls", headers=shop.auth("read"))
    assert api.status_code == 200, api.text
    items = api.json()["items"]
    assert [(i["direction"], i["extension"], i["disposition"], i["queue"]) for i in items] == [
        ("out", "1002", "NO ANSWER", ""),
        ("in", "1002", "ANSWERED", "support"),
    ]
    assert items[1]["wait"] == 15 and items[1]["talk"] == 80
    other = await make_shop("Other")
    assert (await client.get(f"/api/v1/contacts/{contact}/calls", headers=other.auth("read"))).status_code == 404
