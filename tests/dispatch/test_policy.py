"""The dispatch strategies, as pure functions."""

from datetime import UTC, datetime, timedelta

import pytest

from app.dispatch.policy import Candidate, choose

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def c(user_id, open_, capacity=5, minutes_ago=None):
    at = None if minutes_ago is None else NOW - timedelta(minutes=minutes_ago)
    return Candidate(user_id=user_id, open_conversations=open_, capacity=capacity, last_assigned_at=at)


def test_least_load_prefers_fewest_open():
    assert choose("least_load", [c(1, 3), c(2, 1), c(3, 2)]).user_id == 2


def test_least_load_ties_go_to_the_longest_idle_then_lowest_id():
    assert choose("least_load", [c(1, 1, minutes_ago=5), c(2, 1, minutes_ago=30), c(3, 1, minutes_ago=10)]).user_id == 2
    assert choose("least_load", [c(4, 0), c(3, 0)]).user_id == 3  # never assigned: both "idle forever"
    assert choose("least_load", [c(1, 0, minutes_ago=1), c(2, 0)]).user_id == 2


def test_full_agents_are_never_chosen():
    assert choose("least_load", [c(1, 5, capacity=5), c(2, 0, capacity=0)]) is None
    assert choose("round_robin", [c(1, 2, capacity=2), c(2, 9, capacity=10, minutes_ago=1)]).user_id == 2


def test_no_candidates_means_queue():
    assert choose("least_load", []) is None


def test_round_robin_ignores_load():
    assert choose("round_robin", [c(1, 0, minutes_ago=1), c(2, 4, minutes_ago=60)]).user_id == 2


def test_sticky_returns_the_last_agent_if_available():
    agents = [c(1, 0), c(2, 4, minutes_ago=1)]
    assert choose("sticky", agents, last_agent_id=2).user_id == 2
    assert choose("sticky", agents, last_agent_id=99).user_id == 1
    assert choose("sticky", [c(1, 0), c(2, 5, capacity=5)], last_agent_id=2).user_id == 1


def test_exclude_for_reinjection():
    assert choose("least_load", [c(1, 0), c(2, 3)], exclude=frozenset({1})).user_id == 2
    assert choose("least_load", [c(1, 0)], exclude=frozenset({1})) is None


@pytest.mark.parametrize("strategy", ["least_load", "round_robin", "sticky", "unknown"])
def test_simulated_arrivals_stay_balanced(strategy):
    """Assigning one by one with least load keeps loads within one of each other."""
    loads = {n: 0 for n in range(1, 8)}
    last = {n: None for n in loads}
    for step in range(40):
        chosen = choose(strategy, [Candidate(n, loads[n], 10, last[n]) for n in loads], last_agent_id=None)
        loads[chosen.user_id] += 1
        last[chosen.user_id] = NOW + timedelta(seconds=step)
    assert max(loads.values()) - min(loads.values()) <= 1
