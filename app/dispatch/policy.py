"""Who gets the next conversation: small pure functions, one per strategy.

The engine (which locks rows and writes) gathers the candidates, all of them already
eligible: online, active, in the department and under capacity. A strategy only orders them.
Ties always end on the user id, so the choice is deterministic for the same facts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    user_id: int
    open_conversations: int
    capacity: int
    # When the agent last received a conversation (None: never); "idle longest" means oldest.
    last_assigned_at: datetime | None = None

    @property
    def free(self) -> int:
        return self.capacity - self.open_conversations


def _idle_key(c: Candidate) -> tuple:
    return (c.last_assigned_at or EPOCH, c.user_id)


def least_load(candidates: Sequence[Candidate], *, last_agent_id: int | None = None) -> Candidate | None:
    """Fewest open conversations first, then the one idle longest (DESIGN: dispatch rules)."""
    return min(candidates, key=lambda c: (c.open_conversations, *_idle_key(c)), default=None)


def round_robin(candidates: Sequence[Candidate], *, last_agent_id: int | None = None) -> Candidate | None:
    """Strictly in turn: whoever received a conversation longest ago, whatever their load."""
    return min(candidates, key=_idle_key, default=None)


def sticky(candidates: Sequence[Candidate], *, last_agent_id: int | None = None) -> Candidate | None:
    """The customer's last agent when they can take it, else the least loaded."""
    for c in candidates:
        if c.user_id == last_agent_id:
            return c
    return least_load(candidates)


STRATEGIES: dict[str, Callable[..., Candidate | None]] = {
    "least_load": least_load,
    "round_robin": round_robin,
    "sticky": sticky,
}


def choose(
    strategy: str,
    candidates: Sequence[Candidate],
    *,
    last_agent_id: int | None = None,
    exclude: frozenset[int] = frozenset(),
) -> Candidate | None:
    """The agent to assign to, or None (the conversation waits in the queue).

    ``exclude`` removes agents who must not get it again (reinjection never returns a
    conversation to the agent who let it time out). Candidates at capacity are ignored even
    if the caller passed them.
    """
    eligible = [c for c in candidates if c.free > 0 and c.user_id not in exclude]
    return STRATEGIES.get(strategy, least_load)(eligible, last_agent_id=last_agent_id)
