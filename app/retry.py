"""The retry schedule shared by the workers that call out: the message sender
(``app.providers.sender``) and the integrators' webhook sender (``app.providers.webhook_sender``)."""

from __future__ import annotations

import random


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: ``base``, then doubling up to
    ``cap``, each spread by ±20 % so that what failed together does not retry in step."""
    return min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)
