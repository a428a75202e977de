"""Call history: company scoping by accountcode, filters, keyset pages, CSV, API."""

from datetime import datetime, timedelta

import pytest

from app.domain import sql
from tests.factories import make_company, make_user
from tests.helpers import login

T0 = datetime(2026, 11, 20, 9, 0, 0)


async def add_cdr(
    company, n, *, src="1001", dst="1002", clid='"Alice" <1001>', disposition="ANSWERED", duration=30, start=None
):
    await sql.execute(
        """INSERT INTO cdr (accountcode, src, dst, clid, channel, dstchannel, start, answer, "end", duration, billsec,
             disposition, uniqueid, linkedid, sequence)
           VALUES ($1, $2, $3, $4, 'PJSIP/1001-1', 'PJSIP/1002-2', $5::timestamp, $5::timestamp, $5::timestamp + interval '30 seconds', $6, $6, $7, $8, $8, $9)""",
        f"sb{company.id}",
        src,
        dst,
        clid,
        start or T0 + timedelta(minutes=n),
        duration,
        disposition,
        f"17953{n:05d}.{n}",
        n,
    )


@pytest.fixture
async def history(app):
    company = await make_company()
    other = await make_company()
    for n in range(60):
        await add_cdr(company, n, disposition="ANSWERED" if n % 3 else "NO ANSWER", duration=n)
    await add_cdr(
        company,
        100,
        src="+33612345678",
        clid='"=HYPERLINK(1)" <+33612345678>',
        dst="0102",
        start=T0 - timedelta(days=3),
    )
    await add_cdr(other, 200, src="5555", clid='"Mallory" <5555>')
    return company, await make_user(company, "supervisor"), await make_user(other, "supervisor")


async def test_history_pages_newest_first_with_keyset(client, history):
    company, supervisor, _ = history
    await login(client, supervisor.email)
    first = await client.get("/operator/history")
    assert first.status_code == 200
    assert first.text.count('<tr><td><time datetime="2026-') == 25
    assert 'datetime="2026-11-20T09:59:00' in first.text and "Mallory" not in first.text
    older = first.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = await client.get(older)
    assert 'datetime="2026-11-20T09:34:00' in second.text and 'datetime="2026-11-20T09:35:00' not in second.text


async def test_filters_and_bad_input(client, history):
    company, supervisor, _ = history
    await login(client, supervisor.email)
    r = await client.get("/operator/history", params={"q": "+336"})
    assert r.text.count('<tr><td><time datetime="2026-') == 1 and "+33612345678" in r.text
    r = await client.get("/operator/history", params={"q": "ali"})  # caller-id name prefix
    assert r.text.count('<tr><td><time datetime="2026-') == 25
    r = await client.get("/operator/history", params={"from": "2026-11-17", "to": "2026-11-17"})
    assert r.text.count('<tr><td><time datetime="2026-') == 1
    r = await client.get("/operator/history", params={"disposition": "NO ANSWER", "min_duration": "50"})
    assert r.text.count('<tr><td><time datetime="2026-') == 3  # 51, 54, 57
    r = await client.get("/operator/history", params={"q": "%"})
    assert r.text.count('<tr><td><time datetime="2026-') == 0  # wildcards are literal
    for bad in (
        {"from": "yesterday"},
        {"from": "2026-11-20", "to": "2026-11-01"},
        {"disposition": "WHATEVER"},
        {"min_duration": "-1"},
        {"q": "x" * 81},
        {"cursor": "!!!"},
    ):
        assert (await client.get("/operator/history", params=bad)).status_code == 400, bad


async def test_csv_export_is_scoped_and_safe(client, history):
    company, supervisor, intruder = history
    await login(client, supervisor.email)
    r = await client.get("/operator/history.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("start,answer,end,src,dst") and len(lines) == 62
    assert "Mallory" not in r.text
    assert '\'"=HYPERLINK(1)"' not in r.text and '"""=HYPERLINK(1)"" <+33612345678>"' in r.text
    assert ",+33612345678," in r.text  # phone numbers are not mangled
    await login(client, intruder.email)
    theirs = (await client.get("/operator/history.csv")).text.strip().splitlines()
    assert len(theirs) == 2 and "Mallory" in theirs[1] and "Alice" not in "".join(theirs)


async def test_cdr_api(client, history):
    company, supervisor, _ = history
    agent = await make_user(company, "agent")
    await login(client, agent.email)
    assert (await client.get("/api/cdr/")).status_code == 403
    await login(client, supervisor.email)
    r = await client.get(
        "/api/cdr/",
        params={"page": 2, "limit": 15, "search": "1001", "startDate": "2026-11-20", "endDate": "2026-11-20"},
    )
    body = r.json()
    assert r.status_code == 200 and len(body["items"]) == 15 and body["items"][0]["start"] == "2026-11-20T09:44:00"
    nxt = await client.get("/api/cdr/", params={"cursor": body["next_cursor"], "limit": 15})
    assert nxt.json()["items"][0]["start"] == "2026-11-20T09:29:00"
    for bad in (
        {"limit": "0"},
        {"limit": "abc"},
        {"page": "0"},
        {"startDate": "20/11/2026"},
    ):  # pages above 100 exist (issue 19)
        r = await client.get("/api/cdr/", params=bad)
        assert r.status_code == 400 and r.json()["error"]["status"] == 400, bad


def test_csv_cell_guard():
    from app.telephony.cdr import _cell

    assert _cell("=cmd()") == "'=cmd()" and _cell("@x") == "'@x" and _cell("-x") == "'-x"
    assert _cell("+33612345678") == "+33612345678" and _cell(None) == ""


async def test_history_times_are_in_the_company_timezone(client, history):
    company, supervisor, _ = history
    from app.domain import sql

    await sql.execute("UPDATE company SET timezone = 'Europe/Paris' WHERE id = $1", company.id)
    await login(client, supervisor.email)
    page = await client.get("/operator/history")
    # 09:59 UTC on 20 November is 10:59 in Paris (UTC+1 in winter).
    row = page.text.split('datetime="2026-11-20T09:59:00')[1].split("</time>")[0]
    assert "10:59" in row and "09:59" not in row
