"""Telephony figures: AMI events parsed and published per second; CDR search p95 on 1M rows.

Starts an embedded PostgreSQL in a temporary folder. (1) A fake Asterisk (real TCP, CRLF
framing) sends N copies of the captured 1001->1002 call flow to a real ``AmiListener`` (leader
lock, panoramisk parsing, ``LiveState``, per-company snapshots written to ``pbx_live`` with their
NOTIFY); the clock stops when every event was applied and the final snapshot committed.
(2) 1,000,000 CDR rows (900,000 for the measured company) are generated, then 300 history
queries (first pages, number and name prefix searches, date ranges, dispositions, keyset pages
deep in the history) are timed. Run: `.venv/bin/python tests/benchmarks/bench_ami.py`.
The last line is the RESULT.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import db  # noqa: E402
from app.domain import sql  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.telephony import cdr  # noqa: E402
from app.telephony.ami import AmiListener  # noqa: E402
from app.telephony.live import get_live  # noqa: E402
from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.factories import make_company  # noqa: E402
from tests.telephony.fake_ami import FakeAmi, blocks  # noqa: E402

CALLS = 4000
CDR_ROWS = 1_000_000
QUERIES = 300


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def call_flow(i: int) -> list[str]:
    """The captured flow with its ids made unique per copy."""
    out = []
    for b in blocks("real_flow_basic_call_1001_to_1002.txt"):
        b = b.replace("1795314668.0", f"9{i:06d}.0").replace("1795314668.1", f"9{i:06d}.1")
        b = b.replace("-00000000", f"-a{i:07x}").replace("-00000001", f"-b{i:07x}")
        out.append(b)
    return out


async def bench_ami(url: str, tmp: Path) -> tuple[float, int]:
    company = await make_company("Bench Phones")
    for name in ("1001", "1002"):
        await sql.execute(
            "INSERT INTO pbx_object (company_id, kind, name) VALUES ($1, 'extension', $2)", company.id, name
        )
    fake = await FakeAmi().start()
    settings = Settings(
        database_url=url,
        secret_key="bench",
        data_dir=tmp,
        ami_host="127.0.0.1",
        ami_port=fake.port,
        ami_username="console",
        ami_secret="consolepass",
    )
    listener = AmiListener(settings)
    await listener.start()
    for _ in range(200):
        if listener.status == "connected":
            break
        await asyncio.sleep(0.05)
    assert listener.status == "connected", listener.status
    payload: list[str] = []
    for i in range(CALLS):
        payload.extend(call_flow(i))
    total = len(payload)
    version_before = (await get_live(company.id))["version"]
    started = time.perf_counter()
    for k in range(0, total, 2000):
        await fake.push(*payload[k : k + 2000])
    while listener.events < total:
        await asyncio.sleep(0.001)
    await listener.publisher.flush()
    elapsed = time.perf_counter() - started
    live = await get_live(company.id)
    assert live["calls"] == [] and live["version"] > version_before, live
    flushes = live["version"] - version_before
    await listener.close()
    await fake.stop()
    print(f"ami: {total} events ({CALLS} calls) in {elapsed:.2f}s, {flushes} snapshots published")
    return total / elapsed, flushes


GENERATE = """
INSERT INTO cdr (accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, "end",
                 duration, billsec, disposition, amaflags, uniqueid, linkedid, sequence)
SELECT CASE WHEN g % 10 = 0 THEN $2 ELSE $1 END,
       '06' || lpad(((g::bigint * 7919) % 100000000)::text, 8, '0'),
       (1000 + (g * 7) % 900)::text, 'internal',
       '"' || (ARRAY['Alice','Bob','Carol','Dave','Eve','Frank','Grace','Heidi'])[1 + g % 8] || ' ' || (g % 997) || '" <06'
           || lpad(((g::bigint * 7919) % 100000000)::text, 8, '0') || '>',
       'PJSIP/trunk-' || lpad(to_hex(g), 8, '0'), 'PJSIP/' || (1000 + (g * 7) % 900) || '-' || lpad(to_hex(g), 8, '0'),
       'Dial', 'PJSIP/' || (1000 + (g * 7) % 900) || ',30',
       timestamp '2026-01-01' + g * interval '27 seconds',
       timestamp '2026-01-01' + g * interval '27 seconds' + interval '5 seconds',
       timestamp '2026-01-01' + g * interval '27 seconds' + (g % 600) * interval '1 second',
       g % 600, greatest(g % 600 - 5, 0),
       (ARRAY['ANSWERED','ANSWERED','ANSWERED','NO ANSWER','BUSY','FAILED','CONGESTION'])[1 + g % 7], 'DOCUMENTATION',
       '1767225600.' || g, '1767225600.' || g, g
FROM generate_series(1, $3) AS g
"""


async def bench_cdr(company_id: int, other_id: int) -> list[float]:
    started = time.perf_counter()
    await sql.execute(GENERATE, f"sb{company_id}", f"sb{other_id}", CDR_ROWS)
    await sql.execute("ANALYZE cdr")
    print(f"cdr: {CDR_ROWS} rows generated and analysed in {time.perf_counter() - started:.1f}s")
    rnd = random.Random(7)
    deep_cursors = []
    page = await cdr.search_cdr(company_id, cdr.CdrFilter(), limit=25, offset=200_000)
    deep_cursors.append(page.next_cursor)
    page = await cdr.search_cdr(company_id, cdr.CdrFilter(), limit=25, offset=700_000)
    deep_cursors.append(page.next_cursor)
    kinds = {
        "first page": lambda: (cdr.CdrFilter(), None),
        "number prefix": lambda: (cdr.CdrFilter(search="06" + str(rnd.randrange(100, 999))), None),
        "callee": lambda: (cdr.CdrFilter(search=str(1000 + rnd.randrange(900))), None),
        "name prefix": lambda: (cdr.CdrFilter(search=rnd.choice(["ali", "Bob 1", "carol 99", "Eve"])), None),
        "date range": lambda: (
            cdr.CdrFilter(start_date=date(2026, rnd.randrange(1, 9), rnd.randrange(1, 28)), end_date=date(2026, 9, 1)),
            None,
        ),
        "disposition+duration": lambda: (
            cdr.CdrFilter(disposition=rnd.choice(cdr.DISPOSITIONS), min_duration=rnd.randrange(0, 500)),
            None,
        ),
        "search+dates": lambda: (
            cdr.CdrFilter(
                search="06" + str(rnd.randrange(10, 99)), start_date=date(2026, 3, 1), end_date=date(2026, 6, 30)
            ),
            None,
        ),
        "deep keyset page": lambda: (cdr.CdrFilter(), rnd.choice(deep_cursors)),
    }
    timings: dict[str, list[float]] = {k: [] for k in kinds}
    names = list(kinds)
    for i in range(QUERIES):
        kind = names[i % len(names)]
        f, cursor = kinds[kind]()
        t = time.perf_counter()
        await cdr.search_cdr(company_id, f, cursor=cursor, limit=25)
        timings[kind].append((time.perf_counter() - t) * 1000)
    for kind, values in timings.items():
        print(f"cdr {kind:<22} median {statistics.median(values):6.2f} ms  p95 {pct(values, 0.95):6.2f} ms")
    return [v for values in timings.values() for v in values]


async def main() -> None:
    tmp, server, url = await embedded_database("sb-bench-ami-")
    await db.open_pool()
    try:
        events_per_s, _ = await bench_ami(url, tmp)
        company = await make_company("Bench History")
        other = await make_company("Other")
        all_ms = await bench_cdr(company.id, other.id)
    finally:
        await db.close_pool()
        server.cleanup()
    print(f"RESULT ami events_per_s={events_per_s:.0f} cdr_search_p95_ms={pct(all_ms, 0.95):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
