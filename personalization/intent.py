"""The online intent model: P(this session still ends in a purchase | the visitor's state).

A thin wrapper over a classifier so the candidates are swappable (same verbs: ``predict``,
``learn``) and the worker need not know which one runs. Which one runs by default was chosen by
measurement (``bench/intent_model.py``, figures in ``docs/personalization.md``): a standard-scaled
logistic regression, run as :class:`~personalization.logistic.ScaledLogistic` (River's
pipeline's arithmetic on NumPy vectors: same predictions, a fraction of the cost). The adaptive
random forest (River) ranks no better on our streams and costs an order of magnitude more per
event.

The engine talks in *vectors* (:data:`personalization.features.NAMES` order: ``predict_vector``,
``learn_vector``); the dict verbs remain for tools and tests. A model remembers the feature names
it was built for (:attr:`IntentModel.names`), so a checkpoint from another feature set is
recognised and replaced rather than mis-read.

Cold start: the logistic regression's intercept starts at the logit of :data:`PRIOR`, so a fresh
model says "about 2 %" rather than the meaningless 50 % of all-zero weights; a forest that has not
learned anything yet answers :data:`PRIOR` too.

Learning is from *delayed* labels only (see :mod:`personalization.engine`): ``learn`` takes the
features and the probability predicted back then, updates the progressive metrics with that
probability, then learns. ``learn_one`` returns nothing in River ≥ 0.21, so it is called on its
own line.

Calibration: what is served is the classifier's logit passed through an
:class:`~personalization.calibration.OnlineCalibration` (a monotone map learned online, kept in
the model, so the worker, the learner and ``clickloop personalization evaluate`` all serve and
checkpoint it). Each labelled batch first teaches the calibration the logits the classifier
gives it *before* learning it (out of sample, like the scores served), then the classifier
learns. Why, and the figures: :mod:`personalization.calibration`. ``IntentModel(kind,
calibrated=False)`` serves the classifier's own probabilities (the benchmark's "before").
By default only ``logreg`` is calibrated (:data:`CALIBRATED`): on the forest and the tree the
layer made the largest decile gap worse (forest 5.7 -> 14.5 points on the synthetic stream,
7.6 -> 13.4 on the simulator's; the tree stays at 20-23 either way), since their probabilities
are coarse steps whose logits the map's knots do not fit; ``calibrated=True`` still applies it.

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
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from river import compose, forest, linear_model, optim, preprocessing, tree

from personalization.calibration import OnlineCalibration
from personalization.features import NAMES
from personalization.logistic import Z_CLIP, ScaledLogistic
from personalization.progressive import ProgressiveMetrics, binned_auc

PRIOR = 0.02
LEARNING_RATE = 0.002
CART = NAMES.index("cart_items")
# a River classifier's probability is clipped before its logit is taken (a tree says 0 or 1)
CLIP = 1e-4
# kinds whose scores the online calibration layer improves (measured: see the docstring)
CALIBRATED = frozenset({"logreg"})


def river_logreg() -> Any:
    """The River pipeline :class:`ScaledLogistic` reproduces (the equivalence test's reference)."""
    return compose.Pipeline(
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(
            optimizer=optim.SGD(LEARNING_RATE),
            intercept_init=math.log(PRIOR / (1 - PRIOR)),
            intercept_lr=LEARNING_RATE,
        ),
    )


def scaled_logreg(clip: float | None = Z_CLIP) -> ScaledLogistic:
    """The default classifier; ``clip``: the cut of scaled values (``None``: River's
    arithmetic, as the equivalence test and the bench's comparison need)."""
    return ScaledLogistic(NAMES, lr=LEARNING_RATE, intercept_init=math.log(PRIOR / (1 - PRIOR)),
                          intercept_lr=LEARNING_RATE, clip=clip)


def _forest() -> Any:
    return forest.ARFClassifier(n_models=10, seed=7, grace_period=100)


def _tree() -> Any:
    return tree.HoeffdingAdaptiveTreeClassifier(grace_period=100, seed=7)


# name -> factory of a fresh River classifier; the bench compares every entry
MODELS: dict[str, Callable[[], Any]] = {
    "logreg": scaled_logreg,
    "forest": _forest,
    "tree": _tree,
}


class IntentModel:
    """A named classifier, its calibration, progressive metrics and counters (all picklable)."""

    def __init__(self, kind: str = "logreg", *, calibrated: bool | None = None):
        if kind not in MODELS:
            raise ValueError(f"unknown intent model {kind!r}; choose one of {sorted(MODELS)}")
        self.kind = kind
        self.names = NAMES
        self.model = MODELS[kind]()
        self._vector = isinstance(self.model, ScaledLogistic)
        if calibrated is None:
            calibrated = kind in CALIBRATED
        self.calibration: OnlineCalibration | None = OnlineCalibration() if calibrated else None
        self.metrics = ProgressiveMetrics()
        self.learned = 0
        # the "cart not empty" rule scored on the same examples: [positives, negatives] per
        # rule score (0: empty cart, 1: items in the cart), so the model's AUC has a yardstick
        self.cart_rule = [[0, 0], [0, 0]]

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a checkpoint pickled before the cart rule, or before models knew their features
        state.setdefault("cart_rule", [[0, 0], [0, 0]])
        # a checkpoint from before calibration: a fresh layer is the identity until it has
        # learned, so the restored model scores exactly as it did
        if "calibration" not in state:
            state["calibration"] = (OnlineCalibration() if state.get("kind") in CALIBRATED
                                    else None)
        state["_vector"] = isinstance(state.get("model"), ScaledLogistic)
        if not state["_vector"]:
            state.setdefault("names", NAMES)  # River models read dicts: any feature set works
        self.__dict__.update(state)

    def clone(self) -> IntentModel:
        """A fresh, untrained model of the same kind (calibrated if this one is)."""
        return IntentModel(self.kind, calibrated=self.calibration is not None)

    def fits(self, names: tuple[str, ...]) -> bool:
        """Whether this model reads vectors of ``names`` (False for a checkpoint of another
        feature set, or from before models knew theirs)."""
        return getattr(self, "names", None) == names

    def predict_vector(self, v: list[float]) -> float:
        """Probability that the session ends in a purchase (``PRIOR`` before any learning)."""
        if self.calibration is None:
            if self._vector:
                return self.model.predict(v)
            return self._river_predict(dict(zip(self.names, v, strict=True)))
        return _sigmoid(self.calibration.transform(self._raw(v)))

    def predict_many(self, vs: list[list[float]]) -> list[float]:
        """:meth:`predict_vector` of each vector (the linear model's logits in one product)."""
        if not self._vector or not vs:
            return [self.predict_vector(v) for v in vs]
        raws = self.model.raw_many(np.asarray(vs, dtype=float)).tolist()
        if self.calibration is None:
            return [_sigmoid(raw) for raw in raws]
        transform = self.calibration.transform
        return [_sigmoid(transform(raw)) for raw in raws]

    def _raw(self, v: list[float]) -> float:
        """The classifier's logit of ``v`` (a River classifier's clipped probability's)."""
        if self._vector:
            return self.model.raw(v)
        p = min(1.0 - CLIP, max(CLIP, self._river_predict(dict(zip(self.names, v, strict=True)))))
        return math.log(p / (1.0 - p))

    def learn_vector(self, v: list[float], y: bool, predicted: float) -> None:
        """Learn one delayed label; ``predicted`` is what the model said before knowing it."""
        self.metrics.update(y, predicted)
        self.cart_rule[0 if y else 1][1 if v[CART] > 0 else 0] += 1
        if self.calibration is not None:  # before the classifier learns it: out of sample
            self.calibration.learn_many([self._raw(v)], [y])
        if self._vector:
            self.model.learn(v, y)
        else:
            self.model.learn_one(dict(zip(self.names, v, strict=True)), y)
        self.learned += 1

    def learn_many(self, vs: list[list[float]], ys: list[bool], predicted: list[float]) -> None:
        """:meth:`learn_vector` for each example in order (the linear model in one pass)."""
        self.learn_batches([(vs, ys, predicted)])

    def learn_batches(self, batches: Sequence[tuple[list[list[float]], list[bool], list[float]]]
                      ) -> None:
        """:meth:`learn_many` of several labelled batches ``(features, outcomes, predictions
        then)`` in order, at the cost of about one.

        The linear model takes the same steps as batch after batch. The calibration is taught
        as if batch by batch, each with the logits from before all of them
        (:meth:`OnlineCalibration.learn_batches`): its decay and refits are counted per batch,
        and one batch of all would move its map (and every score served after)."""
        if not self._vector:
            for vs, ys, ps in batches:
                for v, y, p in zip(vs, ys, ps, strict=True):
                    self.learn_vector(v, y, p)
            return
        all_vs = [v for vs, _, _ in batches for v in vs]
        all_ys = [y for _, ys, _ in batches for y in ys]
        if not all_vs:
            return
        self.metrics.update_many(all_ys, [p for _, _, ps in batches for p in ps])
        rule = self.cart_rule
        for v, y in zip(all_vs, all_ys, strict=True):
            rule[0 if y else 1][1 if v[CART] > 0 else 0] += 1
        xs = np.asarray(all_vs, dtype=float)  # converted once for the calibration and the model
        if self.calibration is not None:  # the logits before the classifier learns them
            self.calibration.learn_batches(self.model.raw_many(xs), all_ys,
                                           [len(ys) for _, ys, _ in batches])
        self.model.learn_many(xs, all_ys)
        self.learned += len(all_vs)

    def predict(self, x: dict[str, float]) -> float:
        """:meth:`predict_vector` of a feature dict (missing features 0, unknown ones ignored)."""
        return self.predict_vector([x.get(name, 0.0) for name in self.names])

    def learn(self, x: dict[str, float], y: bool, predicted: float) -> None:
        """:meth:`learn_vector` of a feature dict."""
        self.learn_vector([x.get(name, 0.0) for name in self.names], y, predicted)

    def _river_predict(self, x: dict[str, float]) -> float:
        proba = self.model.predict_proba_one(x)
        if not proba:
            return PRIOR
        return float(proba.get(True, 0.0))

    def summary(self) -> dict[str, Any]:
        counts = self.cart_rule
        cart_auc = binned_auc(counts[0], counts[1])
        return {"model": self.kind, "learned": self.learned, **self.metrics.summary(),
                "cart_rule_auc": None if cart_auc is None else round(cart_auc, 4),
                "calibration_map": None if self.calibration is None
                else self.calibration.summary()}


def _sigmoid(raw: float) -> float:
    if raw < -30:
        return 0.0
    if raw > 30:
        return 1.0
    return 1.0 / (1.0 + math.exp(-raw))
