"""The retry schedule of the workers that call out (message sender, integrators' webhooks)."""

import pytest

from app.retry import backoff

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize("attempts, centre", [(0, 5), (1, 5), (2, 10), (3, 20), (10, 60), (50, 60)])
def test_backoff_doubles_up_to_the_cap_with_jitter(attempts, centre):
    delays = [backoff(attempts, 5.0, 60.0) for _ in range(200)]
    assert all(0.8 * centre <= d <= 1.2 * centre for d in delays)
    assert len(set(delays)) > 1  # spread: failures that happened together do not retry together
