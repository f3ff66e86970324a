"""The online intent model: P(this session still ends in a purchase | the visitor's state).

A thin wrapper over a River classifier so the candidates are swappable (same verbs: ``predict``,
``learn``) and the worker need not know which one runs. Which one runs by default was chosen by
measurement (``bench/intent_model.py``, figures in ``docs/personalization.md``): a standard-scaled
logistic regression. The adaptive random forest ranks no better on our streams and costs an order of
magnitude more per event.

Cold start: the logistic regression's intercept starts at the logit of :data:`PRIOR`, so a fresh
model says "about 2 %" rather than the meaningless 50 % of all-zero weights; a forest that has not
learned anything yet answers :data:`PRIOR` too.

Learning is from *delayed* labels only (see :mod:`personalization.engine`): ``learn`` takes the
features and the probability predicted back then, updates the progressive metrics with that
probability, then learns. ``learn_one`` returns nothing in River ≥ 0.21, so it is called on its
own line.

>>> m = IntentModel("logreg")
>>> round(m.predict({"cart_items": 1.0}), 3)
0.02
>>> for _ in range(1500):
...     m.learn({"cart_items": 1.0}, True, 0.02)
...     m.learn({"cart_items": 0.0}, False, 0.02)
>>> m.predict({"cart_items": 1.0}) > 0.5 > m.predict({"cart_items": 0.0})
True
>>> m.learned
3000
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from river import compose, forest, linear_model, optim, preprocessing, tree

from personalization.progressive import ProgressiveMetrics, binned_auc

PRIOR = 0.02


def _logreg() -> Any:
    return compose.Pipeline(
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(
            optimizer=optim.SGD(0.002),
            intercept_init=math.log(PRIOR / (1 - PRIOR)),
            intercept_lr=0.002,
        ),
    )


def _forest() -> Any:
    return forest.ARFClassifier(n_models=10, seed=7, grace_period=100)


def _tree() -> Any:
    return tree.HoeffdingAdaptiveTreeClassifier(grace_period=100, seed=7)


# name -> factory of a fresh River classifier; the bench compares every entry
MODELS: dict[str, Callable[[], Any]] = {
    "logreg": _logreg,
    "forest": _forest,
    "tree": _tree,
}


class IntentModel:
    """A named River classifier plus its progressive metrics and counters (all picklable)."""

    def __init__(self, kind: str = "logreg"):
        if kind not in MODELS:
            raise ValueError(f"unknown intent model {kind!r}; choose one of {sorted(MODELS)}")
        self.kind = kind
        self.model = MODELS[kind]()
        self.metrics = ProgressiveMetrics()
        self.learned = 0
        # the "cart not empty" rule scored on the same examples: [positives, negatives] per
        # rule score (0: empty cart, 1: items in the cart), so the model's AUC has a yardstick
        self.cart_rule = [[0, 0], [0, 0]]

    def clone(self) -> IntentModel:
        """A fresh, untrained model of the same kind."""
        return IntentModel(self.kind)

    def predict(self, x: dict[str, float]) -> float:
        """Probability that the session ends in a purchase (``PRIOR`` before any learning)."""
        proba = self.model.predict_proba_one(x)
        if not proba:
            return PRIOR
        return float(proba.get(True, 0.0))

    def learn(self, x: dict[str, float], y: bool, predicted: float) -> None:
        """Learn one delayed label; ``predicted`` is what the model said before knowing it."""
        self.metrics.update(y, predicted)
        # setdefault: a checkpoint pickled before the rule was kept has no counts yet
        counts = self.__dict__.setdefault("cart_rule", [[0, 0], [0, 0]])
        counts[0 if y else 1][1 if x.get("cart_items", 0.0) > 0 else 0] += 1
        self.model.learn_one(x, y)
        self.learned += 1

    def summary(self) -> dict[str, Any]:
        counts = self.__dict__.get("cart_rule", [[0, 0], [0, 0]])
        cart_auc = binned_auc(counts[0], counts[1])
        return {"model": self.kind, "learned": self.learned, **self.metrics.summary(),
                "cart_rule_auc": None if cart_auc is None else round(cart_auc, 4)}
