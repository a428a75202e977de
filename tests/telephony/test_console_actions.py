"""Console actions as a real Asterisk takes them (issue 17, items 7, 10 and 11)."""

import pytest

from app.domain import sql
from tests.factories import make_company, make_user
from tests.helpers import login, post_form
from tests.telephony.conftest import ami_settings, eventually, own
from tests.telephony.test_cdr import add_cdr
from tests.telephony.test_operator_web import _call_up, _connected


@pytest.fixture
def settings(settings, fake_ami):
    return ami_settings(settings, fake_ami)


@pytest.fixture
async def pbx(app, fake_ami):
    company = await make_company()
    admin = await make_user(company, "admin")
    return company, admin


async def test_click_to_call_keeps_the_extension_as_caller(client, fake_ami, pbx):
    company, admin = pbx
    await login(client, admin.email)
    await post_form(client, "/admin/pbx/extensions/", {"number": "1003", "name": "Carol", "codecs": ["ulaw"]})
    await eventually(_connected)
    ok = await post_form(client, "/operator/calls/originate", {"extension": "1003", "destination": "1004"})
    assert ok.status_code == 200, ok.text
    sent = fake_ami.actions_named("Originate")[-1]
    # Before: CallerID "1004 <1004>", so 1004 saw its own number and the CDR lost 1003.
    assert sent["CallerID"] == '"Carol" <1003>'
    assert (sent["Channel"], sent["Context"], sent["Exten"]) == ("PJSIP/1003", f"sb{company.id}-internal", "1004")


async def test_transfer_to_a_number_the_dialplan_lacks_is_refused(client, fake_ami, pbx):
    company, admin = pbx
    await own(company, "extension", "1001")
    await own(company, "extension", "1002")
    await _call_up(fake_ami, company)
    await login(client, admin.email)
    context = f"sb{company.id}-internal"
    fake_ami.dialplan = {(context, "601")}
    bad = await post_form(
        client,
        "/operator/calls/transfer",
        {"channel": "PJSIP/1001-00000000", "destination": "999"},
        headers={"hx-request": "true"},
    )
    assert bad.status_code == 400 and "dialplan" in bad.text
    assert fake_ami.actions_named("Redirect") == []  # the call is not dropped
    asked = fake_ami.actions_named("ShowDialPlan")[-1]
    assert (asked["Context"], asked["Extension"]) == (context, "999")
    ok = await post_form(client, "/operator/calls/transfer", {"channel": "PJSIP/1001-00000000", "destination": "601"})
    assert ok.status_code == 200 and "Redirect successful" in ok.text
    assert fake_ami.actions_named("Redirect")[-1]["Context"] == context


async def test_history_search_by_extension_finds_queue_answers_and_placed_calls(client, pbx):
    company, admin = pbx
    supervisor = await make_user(company, "supervisor")
    await add_cdr(company, 1, src="+33612345678", dst="700", clid='"Cust" <+33612345678>')  # answered by 1002 (queue)
    await sql.execute(
        "UPDATE cdr SET channel = 'PJSIP/trunk1-00000009', dstchannel = 'PJSIP/1002-0000000a' WHERE sequence = 1"
    )
    await add_cdr(company, 2, src="0612345678", dst="0612345678", clid='"0612345678" <0612345678>')  # old click-to-call
    await sql.execute(
        "UPDATE cdr SET channel = 'PJSIP/1003-0000000b', dstchannel = 'PJSIP/trunk1-0000000c' WHERE sequence = 2"
    )
    await add_cdr(company, 3, src="1001", dst="601")  # not 1002's nor 1003's
    await sql.execute("UPDATE cdr SET dstchannel = '' WHERE sequence = 3")
    await login(client, supervisor.email)
    for ext, expected in (("1002", ["700"]), ("1003", ["0612345678"])):
        page = await client.get("/api/cdr/", params={"search": ext})
        assert page.status_code == 200
        assert [r["dst"] for r in page.json()["items"]] == expected, ext
