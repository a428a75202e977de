"""Three hosts behind nginx on PostgreSQL over TCP (scripts/cluster.py): the host leading the
dispatcher is killed with SIGKILL under a steady webhook load. Another host takes the lead, no
acknowledged message is lost, no conversation is stranded, and every stream the kill cut
reconnects through nginx; the AMI listener's leadership moves too when that host held it. The
figures are tests/benchmarks/bench_failover.py's."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from app import db
from tests.benchmarks import bench_failover


@pytest.mark.slow
@pytest.mark.timeout(400)  # a minute and a half at load 13, more on a busier machine
async def test_killing_the_leading_host_loses_nothing(database_url):
    # Not under pytest's basetemp (private to root): PostgreSQL runs as user "pgserver" there.
    folder = Path(tempfile.mkdtemp(prefix="switchboard-cluster-test-"))
    folder.chmod(0o755)
    try:
        result = await bench_failover.run(
            folder / "cluster", hosts=3, streams_n=6, rate=25, before_s=3, after_s=5, settle_s=18
        )
    finally:
        db.configure(database_url)  # the other tests' database
        shutil.rmtree(folder, ignore_errors=True)
    bench_failover.report(result)
    assert result["new_leader"] is not None and result["new_leader"] != result["killed"]
    assert result["acked"] == result["sent"]  # the provider's retries got every message in
    assert result["lost"] == 0
    assert result["stranded"] == 0, result["stranded_rows"]
    assert result["still_cut"] == 0
    if result["ami_leader"] == result["killed"]:  # the AMI listener's leadership moved too
        assert result["ami_leader_s"] == result["ami_leader_s"], "no other host logged in to the AMI"
