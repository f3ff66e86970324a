"""The policies and the statistics they choose from (:mod:`personalization.bandit.policy`)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from personalization.bandit.context import DIM, VERSION
from personalization.bandit.policy import PolicyView, from_state, state_dict
from tests.personalization.bandit.support import trained


@pytest.mark.parametrize("policy", ["thompson", "linucb", "epsilon_greedy"])
def test_a_policy_prefers_what_converts_and_keeps_exploring(policy: str) -> None:
    view = PolicyView(trained("b", ["a", "c"]))
    rng = np.random.default_rng(5)
    x = [1.0] + [0.0] * (DIM - 1)
    picks = Counter(view.pull(["a", "b", "c"], x, policy=policy, explore=0.15, rng=rng)
                    for _ in range(3000))
    assert picks["b"] > 2400
    # the explore floor: 15 % uniformly random, so each other variant gets about 5 %
    assert picks["a"] > 90 and picks["c"] > 90
    assert set(picks) == {"a", "b", "c"}
    assert view.pull(["c"], x, policy=policy, explore=0.15, rng=rng) == "c"


def test_the_statistics_survive_the_json_round_trip_and_another_version_is_dropped() -> None:
    slots = {"hero": trained("b", ["a"], n=50)}
    data = json.loads(json.dumps(state_dict(slots)))
    restored = from_state(data)
    x = [1.0, *([0.5] * (DIM - 1))]
    assert np.allclose(PolicyView(restored["hero"]).scores(["a", "b"], x),
                       PolicyView(slots["hero"]).scores(["a", "b"], x))
    assert from_state({**data, "version": VERSION + 1}) == {}
    assert from_state(None) == {}
