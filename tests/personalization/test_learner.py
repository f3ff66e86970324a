"""The shared learner's state without Kafka: each labels-topic record learned once, whatever
replays it, and records it cannot read counted rather than fatal."""

from __future__ import annotations

import pickle

from personalization.bandit.context import DIM
from personalization.bandit.learning import Pending
from personalization.engine import Labels
from personalization.features import NAMES
from personalization.learner import KEEP_KEYS_S, SharedModel, bandit_record, intent_record


def session(key: str, outcome: bool) -> Labels:
    x = [0.0] * len(NAMES)
    return Labels(key, [x, [1.0] * len(NAMES)], [outcome, outcome], [0.02, 0.02])


def test_a_replayed_session_or_decision_is_learned_once() -> None:
    shared = SharedModel("logreg")
    first = intent_record(session("v1:100.0:close", False), at=2000.0)
    assert shared.learn(first)
    assert not shared.learn(first)  # the same session, published again after a crash
    assert shared.learn(intent_record(session("v2:100.0:close", True), at=2100.0))
    outcome = bandit_record(Pending("d-1", "hero", "discount", [1.0] * DIM), 1.0, at=2200.0)
    assert shared.learn(outcome) and not shared.learn(outcome)
    assert shared.model.learned == 4
    assert (shared.model.metrics.labels, shared.model.metrics.positives) == (4, 2)
    arms = shared.slots["hero"]
    assert (arms.pulls["discount"], arms.rewards["discount"]) == (1, 1.0)
    assert shared.counters["replayed"] == 2
    assert shared.summary()["bandit"] == {"rewarded": 1, "unrewarded": 0}


def test_unreadable_records_are_counted_and_skipped() -> None:
    shared = SharedModel("logreg")
    short = Labels("k2", [[1.0, 2.0]], [True], [0.5])  # another feature set's width
    wrong = Pending("d-9", "hero", "discount", [1.0, 0.0])  # another context's width
    for value in (b"not json", b"[]", b'{"kind": "intent"}', b'{"kind": "x", "key": "k", '
                  b'"at": 1}', intent_record(short, at=1.0), bandit_record(wrong, 1.0, at=1.0)):
        assert not shared.learn(value)
    assert shared.counters["unreadable"] == 6 and shared.model.learned == 0
    assert shared.slots == {}


def test_keys_too_old_to_be_replayed_are_forgotten_and_state_pickles() -> None:
    shared = SharedModel("logreg")
    shared.learn(intent_record(session("old", False), at=0.0))
    shared.learn(intent_record(session("new", False), at=KEEP_KEYS_S + 10.0))
    shared.prune()
    assert set(shared.seen) == {"new"}
    back = pickle.loads(pickle.dumps(shared))
    assert back.model.learned == shared.model.learned == 4
    assert not back.learn(intent_record(session("new", False), at=KEEP_KEYS_S + 20.0))


def test_a_polled_batch_is_learned_as_its_records_one_by_one() -> None:
    # 60 sessions of varied features, a replay inside the same poll, an unreadable record and
    # a bandit outcome among them: learned at once, the same model and counters as in turn
    values = []
    for i in range(60):
        xs = [[float((i * 7 + j * 3) % 5) for j in range(len(NAMES))] for _ in range(1 + i % 4)]
        labels = Labels(f"v{i}:1.0:close", xs, [i % 3 == 0] * len(xs), [0.02] * len(xs))
        values.append(intent_record(labels, at=1000.0 + i))
    values[30:30] = [values[5], b"{not json", bandit_record(
        Pending("d-1", "hero", "discount", [1.0] * DIM), 0.0, at=1100.0)]
    in_turn, at_once = SharedModel("logreg"), SharedModel("logreg")
    learned = [in_turn.learn(value) for value in values]
    assert at_once.learn_all(values) == sum(learned) == 61
    assert at_once.counters == in_turn.counters
    assert at_once.counters["replayed"] == 1 and at_once.counters["unreadable"] == 1
    assert at_once.model.learned == in_turn.model.learned
    a, b = at_once.model.model, in_turn.model.model
    assert abs(a.intercept - b.intercept) < 1e-9 and max(abs(a.weights - b.weights)) < 1e-9
    assert at_once.model.calibration.labels == in_turn.model.calibration.labels
    assert at_once.slots["hero"].pulls == in_turn.slots["hero"].pulls
