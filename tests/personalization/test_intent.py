"""Conformance of every intent model candidate (as River's test_estimators does for its own)
and of the progressive metrics."""

from __future__ import annotations

import pickle
import random

import pytest

from personalization.features import NAMES
from personalization.intent import MODELS, PRIOR, IntentModel
from personalization.progressive import ProgressiveMetrics


def stream(n: int, seed: int = 0) -> list[tuple[dict[str, float], bool]]:
    """Features where a cart (and checkout) makes a purchase likely."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = dict.fromkeys(NAMES, 0.0)
        x["cart_items"] = float(rng.random() < 0.3)
        x["s_checkout"] = float(x["cart_items"] and rng.random() < 0.5)
        x["s_product_views"] = rng.random() * 2
        p = 0.05 + 0.4 * x["cart_items"] + 0.4 * x["s_checkout"]
        out.append((x, rng.random() < p))
    return out


@pytest.fixture(params=sorted(MODELS), scope="module")
def trained(request: pytest.FixtureRequest) -> IntentModel:
    model = IntentModel(request.param)
    for x, y in stream(600):
        model.learn(x, y, model.predict(x))
    return model


def test_an_untrained_model_says_the_prior() -> None:
    for kind in MODELS:
        assert IntentModel(kind).predict(dict.fromkeys(NAMES, 0.0)) == pytest.approx(PRIOR)


def test_unknown_model_kind_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="forest"):
        IntentModel("deep-net")


def test_pickle_round_trip_predicts_the_same(trained: IntentModel) -> None:
    back = pickle.loads(pickle.dumps(trained))
    for x, _ in stream(50, seed=1):
        assert back.predict(x) == trained.predict(x)
    assert back.summary() == trained.summary()


def test_clone_is_untrained_and_of_the_same_kind(trained: IntentModel) -> None:
    clone = trained.clone()
    assert clone.kind == trained.kind and clone.learned == 0
    assert clone.predict(stream(1)[0][0]) == pytest.approx(PRIOR)


def test_feature_order_does_not_matter(trained: IntentModel) -> None:
    for x, _ in stream(20, seed=2):
        shuffled = dict(reversed(list(x.items())))
        assert trained.predict(shuffled) == pytest.approx(trained.predict(x))


def test_unseen_features_do_not_break_prediction(trained: IntentModel) -> None:
    x = {**stream(1, seed=3)[0][0], "a_feature_from_the_future": 3.0}
    assert 0.0 <= trained.predict(x) <= 1.0


def test_a_trained_model_ranks_carts_above_browsing(trained: IntentModel) -> None:
    browse = dict.fromkeys(NAMES, 0.0)
    cart = {**browse, "cart_items": 1.0, "s_checkout": 1.0}
    assert trained.predict(cart) > trained.predict(browse)
    assert trained.learned == 600


def exact_auc(pairs: list[tuple[bool, float]]) -> float:
    pos = [p for y, p in pairs if y]
    neg = [p for y, p in pairs if not y]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def test_progressive_auc_matches_the_exact_value() -> None:
    rng = random.Random(7)
    pairs = []
    for _ in range(2000):
        y = rng.random() < 0.2
        p = min(0.999, max(0.0, rng.gauss(0.25 if y else 0.12, 0.08)))
        pairs.append((y, p))
    metrics = ProgressiveMetrics()
    for y, p in pairs:
        metrics.update(y, p)
    assert metrics.roc_auc() == pytest.approx(exact_auc(pairs), abs=2e-3)


def test_the_cart_rule_is_scored_on_the_same_examples() -> None:
    m = IntentModel()
    assert m.summary()["cart_rule_auc"] is None  # no positives and negatives yet
    # positives: cart, cart, empty; negatives: empty, empty, cart -> (4 wins + 4 ties/2) / 9
    for cart, y in [(1.0, True), (2.0, True), (0.0, True),
                    (0.0, False), (0.0, False), (1.0, False)]:
        m.learn({"cart_items": cart}, y, 0.5)
    assert m.summary()["cart_rule_auc"] == round(6 / 9, 4)


def test_a_checkpoint_from_before_the_cart_rule_still_learns_and_reports() -> None:
    m = IntentModel()
    del m.__dict__["cart_rule"]  # what unpickling an older checkpoint gives
    old = pickle.loads(pickle.dumps(m))
    assert old.summary()["cart_rule_auc"] is None
    old.learn({"cart_items": 1.0}, True, 0.5)
    old.learn({"cart_items": 0.0}, False, 0.5)
    assert old.summary()["cart_rule_auc"] == 1.0


def test_calibration_and_no_skill_reference_are_reported() -> None:
    metrics = ProgressiveMetrics()
    for y, p in [(True, 0.85), (False, 0.8), (False, 0.05), (False, 0.02)]:
        metrics.update(y, p)
    summary = metrics.summary()
    assert summary["base_rate"] == 0.25
    assert summary["no_skill_log_loss"] == pytest.approx(0.5623, abs=1e-4)
    assert summary["calibration"] == [
        {"bin": "0.0-0.1", "count": 2, "mean_predicted": 0.035, "observed_rate": 0.0},
        {"bin": "0.8-0.9", "count": 2, "mean_predicted": 0.825, "observed_rate": 0.5},
    ]
