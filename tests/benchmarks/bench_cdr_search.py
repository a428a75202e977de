"""Contains-search of the call history (seed 004's search box) on 1M CDR rows, with the total.

Starts an embedded PostgreSQL in a temporary folder, generates ``CDR_ROWS`` rows (default
1,000,000; 900,000 for the measured company, the same generator as bench_ami.py), builds the
indexes (the 3-gram GIN index of sb_0036 is rebuilt over the loaded rows, as its migration does on an
existing history), then times searches that match the middle of a number (rare: 6-7 digits; frequent:
3-4 digits), a callee, a name fragment, and the same with the ``total`` the API answers. Run:
`.venv/bin/python tests/benchmarks/bench_cdr_search.py` (``CDR_ROWS=200000`` for a quick run).
The last line is the RESULT.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import db  # noqa: E402
from app.domain import sql  # noqa: E402
from app.telephony import cdr  # noqa: E402
from tests.benchmarks.bench_ami import GENERATE, pct  # noqa: E402
from tests.benchmarks.database import embedded_database  # noqa: E402
from tests.factories import make_company  # noqa: E402

CDR_ROWS = int(os.environ.get("CDR_ROWS", "1000000"))
QUERIES = int(os.environ.get("QUERIES", "200"))


async def main() -> None:
    tmp, server, url = await embedded_database("sb-bench-cdr-")
    await db.open_pool()
    try:
        company = await make_company("Bench History")
        other = await make_company("Other")
        started = time.perf_counter()
        # As on a server upgraded with a full history: the migration builds the index over
        # existing rows in bulk (row-by-row maintenance is for Asterisk's inserts afterwards).
        definition = await sql.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = 'cdr_grams_idx'")
        await sql.execute("DROP INDEX cdr_grams_idx")
        await sql.execute(GENERATE, f"sb{company.id}", f"sb{other.id}", CDR_ROWS)
        generated_s = time.perf_counter() - started
        await sql.execute("SET maintenance_work_mem = '256MB'")
        await sql.execute(definition)
        print(f"cdr: 3-gram index built in {time.perf_counter() - started - generated_s:.1f}s")
        await sql.execute("ANALYZE cdr")
        load_s = time.perf_counter() - started
        size = await sql.fetchval("SELECT pg_size_pretty(pg_relation_size('cdr_grams_idx'))")
        print(f"cdr: {CDR_ROWS} rows generated, indexed and analysed in {load_s:.1f}s; 3-gram index {size}")
        rnd = random.Random(11)
        numbers = [r["src"] for r in await sql.fetch("SELECT src FROM cdr ORDER BY random() LIMIT 100")]
        kinds = {
            "number middle 7": lambda: rnd.choice(numbers)[2:9],
            "number middle 6": lambda: rnd.choice(numbers)[3:9],
            "number middle 4": lambda: rnd.choice(numbers)[4:8],
            "3 digits": lambda: f"{rnd.randrange(1000):03d}",
            "callee": lambda: str(1000 + rnd.randrange(900)),
            "name fragment": lambda: rnd.choice(["lic", "rol", "ve 99", "ank 1", "eidi 5"]),
        }
        search_ms: dict[str, list[float]] = {k: [] for k in kinds}
        total_ms: dict[str, list[float]] = {k: [] for k in kinds}
        names = list(kinds)
        for i in range(QUERIES):
            kind = names[i % len(names)]
            f = cdr.CdrFilter(search=kinds[kind]())
            t = time.perf_counter()
            page = await cdr.search_cdr(company.id, f, limit=25)
            t2 = time.perf_counter()
            if page.total is None:  # as the API does
                await cdr.count_cdr(company.id, f)
            t3 = time.perf_counter()
            search_ms[kind].append((t2 - t) * 1000)
            total_ms[kind].append((t3 - t) * 1000)
        for kind in kinds:
            print(
                f"cdr {kind:<16} page p50 {statistics.median(search_ms[kind]):6.1f} ms"
                f" p95 {pct(search_ms[kind], 0.95):6.1f} ms"
                f" | page+total p50 {statistics.median(total_ms[kind]):6.1f} ms p95 {pct(total_ms[kind], 0.95):6.1f} ms"
            )
        page = [v for values in search_ms.values() for v in values]
        with_total = [v for values in total_ms.values() for v in values]
    finally:
        await db.close_pool()
        server.cleanup()
    print(
        f"RESULT cdr_contains rows={CDR_ROWS} queries={QUERIES} page_p95_ms={pct(page, 0.95):.1f} "
        f"page_total_p95_ms={pct(with_total, 0.95):.1f} load_s={load_s:.0f} loadavg={os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
