"""``DATABASE_READ_URL``: the CDR search and export, metrics and the wallboard's day totals read
from a streaming replica when one is configured, and from the primary when it is gone."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import asyncpg
import pytest

from app.domain import sql
from app.telephony.cdr import CdrFilter, search_cdr
from tests.factories import make_company, make_user
from tests.helpers import login
from tests.scale.conftest import stop_replica
from tests.telephony.test_cdr import T0, add_cdr


@pytest.fixture
def settings(settings, replica):
    return dataclasses.replace(settings, database_read_url=replica)


async def _caught_up(primary_url: str, replica_url: str) -> None:
    primary, standby = await asyncpg.connect(primary_url), await asyncpg.connect(replica_url)
    try:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
        for _ in range(200):
            if await standby.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the replica did not catch up")
    finally:
        await primary.close()
        await standby.close()


async def test_metrics_are_read_from_the_replica(app, client, replica):
    company = await make_company()
    supervisor = await make_user(company, "supervisor")
    await login(client, supervisor.email)
    reads = sql.READ.reads
    assert (await client.get("/metrics")).status_code == 200
    assert sql.READ.reads > reads


async def test_history_is_read_from_the_replica_then_from_the_primary_when_it_is_gone(
    app, client, database_url, replica
):
    company = await make_company()
    supervisor = await make_user(company, "supervisor")
    for n in range(3):
        await add_cdr(company, n)
    await _caught_up(database_url, replica)
    reads = sql.READ.reads
    assert len((await search_cdr(company.id, CdrFilter())).rows) == 3
    assert sql.READ.reads > reads  # answered by the replica

    # While the replica holds back replay, a new call is on the primary only: reads that
    # belong to the replica do not see it yet, the rest of the app does.
    standby = await asyncpg.connect(replica)
    await standby.execute("SELECT pg_wal_replay_pause()")
    try:
        await add_cdr(company, 10, src="2002", start=T0 + timedelta(hours=1))
        assert len((await search_cdr(company.id, CdrFilter())).rows) == 3
        assert await sql.fetchval("SELECT count(*) FROM cdr WHERE accountcode = $1", f"sb{company.id}") == 4
    finally:
        await standby.execute("SELECT pg_wal_replay_resume()")
        await standby.close()

    # The replica goes away: the history page and export are answered by the primary.
    stop_replica(replica)
    await login(client, supervisor.email)
    page = await client.get("/operator/history")
    assert page.status_code == 200 and page.text.count('<tr><td><time datetime="2026-') == 4
    export = await client.get("/operator/history.csv")
    assert export.status_code == 200 and export.text.count("\n") == 5  # header + 4 calls
    assert not sql.READ.usable()
