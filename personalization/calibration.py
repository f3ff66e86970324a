"""Online calibration of the intent model: a monotone map from its logit to an honest probability.

Why a separate layer. The ``high_intent >= 0.3`` segment reads the score as a probability, but
the online logistic regression ranks better than it estimates: measured prequentially
(``bench/intent_model.py --label-delay``), it under-predicts the purchase rate in almost every
decile, by up to 6 points on the synthetic stream and 6-10 on the simulator's. Three causes were
measured (figures in ``docs/personalization.md``, *Calibration*):

- a slow intercept: it starts at logit(2 %) and learns at 0.002 per label while the snapshot base
  rate is 13-25 %, so it is still climbing half a stream later (by 13 points in the first eighth
  of the labels, 1-3 points in the last). A faster intercept follows the bursts instead: a
  session's snapshots all arrive at its close with one label;
- the shape: buying sessions are long, so their 10-30 correlated snapshots pull the weights
  along one direction at a time; the result is over-confident at the top (simulator: 57 %
  predicted, 50 % observed in the top decile) and too low at the bottom, and not by the same
  factor everywhere (a straight line in logit space, Platt scaling, cannot fit both streams);
- the base rate moves with the time of day (8-18 % per eighth of the simulator's labels).

So the layer is *nonparametric enough* (piecewise linear in the logit, knots at
:data:`KNOTS`), *count-based* rather than SGD (a burst of 30 same-label snapshots moves counts,
not a step size), *forgetful* (decayed with a half-life in labels, so it follows the model as it
learns and the traffic as it shifts), kept *monotone* (every segment's slope at least
:data:`MIN_SLOPE`, so the ranking the model learned is kept within a fit) and *identity until it
has seen enough of both outcomes* (a fresh layer, or one added to an old checkpoint, changes no
score).

How it learns (prequential): :class:`~personalization.intent.IntentModel` gives it each labelled
batch's logits computed by the model *before* the model learns that batch, i.e. out of sample,
as the scores served to visitors were. The pairs go into bins of :data:`BIN_WIDTH` logit
(decayed counts of labels and positives, and the sum of logits for the bin's mean); every
``refit_every`` labels a few damped Newton steps fit the map's parameters to the bins by
maximum likelihood, with a ridge pulling them towards the identity. The scores the layer
produces are then scored when *their* labels arrive, so the progressive calibration figures
measure the layer honestly.

>>> c = OnlineCalibration()
>>> c.transform(-2.0)  # identity until it has seen both outcomes
-2.0
>>> import random
>>> rng = random.Random(1)
>>> for _ in range(200):  # the model's logit l says sigmoid(l); the truth is sigmoid(l + 1)
...     ls = [rng.uniform(-4, 1) for _ in range(20)]
...     c.learn_many(ls, [rng.random() < 1 / (1 + math.exp(-(l + 1))) for l in ls])
>>> round(c.transform(-2.0), 1)
-1.0
>>> c.transform(-3.0) < c.transform(-2.0) < c.transform(0.0)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

KNOTS = (-4.0, -2.5, -1.0, 0.5)  # logits of 1.8 %, 7.6 %, 27 % and 62 %
BIN_WIDTH = 0.25
LOGIT_RANGE = (-10.0, 10.0)  # logits beyond are counted in the end bins
HALF_LIFE = 1000.0  # labels; 500-2000 measured: see docs/personalization.md
MIN_LABELS = 30  # of each outcome (decayed) before the map leaves the identity
REFIT_EVERY = 32  # labels between fits (16 fits no better, at twice the cost)
MIN_SLOPE = 0.2
# ridge towards the identity: intercept, slope, each knot's change of slope (in units of the
# Newton system's curvature, i.e. about labels x p(1-p))
RIDGE = (5.0, 20.0, 20.0)


class OnlineCalibration:
    """Piecewise-linear map logit -> calibrated logit, fit online on decayed binned labels.

    ``__init__`` stores its arguments and the empty state only (picklable, cloneable as
    ``OnlineCalibration(**c.params())``).
    """

    def __init__(self, *, knots: Sequence[float] = KNOTS, half_life: float = HALF_LIFE,
                 min_labels: float = MIN_LABELS, refit_every: int = REFIT_EVERY):
        knots = tuple(float(k) for k in knots)
        if list(knots) != sorted(set(knots)):
            raise ValueError(f"calibration knots must be strictly increasing, got {knots}")
        if not half_life > 0:
            raise ValueError(f"calibration half_life must be > 0 labels, got {half_life}")
        if refit_every < 1:
            raise ValueError(f"calibration refit_every must be >= 1, got {refit_every}")
        self.knots = knots
        self.half_life = float(half_life)
        self.min_labels = float(min_labels)
        self.refit_every = int(refit_every)
        lo, hi = LOGIT_RANGE
        bins = round((hi - lo) / BIN_WIDTH)
        self.count = np.zeros(bins)
        self.positives = np.zeros(bins)
        self.logit_sum = np.zeros(bins)
        # intercept, slope, change of slope at each knot: the identity to start with
        self.theta = [0.0, 1.0, *([0.0] * len(knots))]
        self.fitted = False
        self.since_fit = 0
        self.labels = 0

    def params(self) -> dict[str, Any]:
        return {"knots": self.knots, "half_life": self.half_life,
                "min_labels": self.min_labels, "refit_every": self.refit_every}

    def transform(self, raw: float) -> float:
        """The calibrated logit of the model's logit ``raw`` (pure Python: once per event)."""
        theta = self.theta
        out = theta[0] + theta[1] * raw
        for knot, change in zip(self.knots, theta[2:], strict=True):
            if raw > knot:
                out += change * (raw - knot)
        return out

    def learn_many(self, raws: Sequence[float] | np.ndarray, ys: Sequence[bool]) -> None:
        """Count labelled logits (out-of-sample ones: see the module docstring), refit now and
        then."""
        raws = np.asarray(raws, dtype=float)
        if len(raws) != len(ys):
            raise ValueError(f"calibration got {len(raws)} logits but {len(ys)} outcomes")
        self.learn_batches(raws, ys, [len(raws)])

    def learn_batches(self, raws: Sequence[float] | np.ndarray, ys: Sequence[bool],
                      sizes: Sequence[int]) -> None:
        """:meth:`learn_many` of consecutive batches of ``sizes`` labels, as one call each.

        A batch's call decays what was counted before it by ``0.5 ** (k / half_life)`` and
        may refit after it; so batch after batch is not one big batch (a session's labels
        count alike, and the map is refit at the same labels). The same counts (to rounding)
        and the same refits come from one weighted count per stretch between refits: a label
        in batch j weighs the decay of the batches after it in its stretch."""
        raws = np.asarray(raws, dtype=float)
        k = len(raws)
        if k != len(ys) or k != sum(sizes):
            raise ValueError(f"calibration got {k} logits, {len(ys)} outcomes and batches of "
                             f"{sum(sizes)}")
        if not k:
            return
        lo, hi = LOGIT_RANGE
        # a logit beyond the range counts in an end bin *as the range's end*: a bin's mean
        # must stay inside it, or one wild logit (1e4) drags the whole fit after it
        raws = np.clip(raws, lo, hi)
        outcomes = np.asarray(ys, dtype=float)
        start = end = 0
        stretch: list[int] = []
        for size in sizes:
            if not size:
                continue
            stretch.append(size)
            end += size
            self.since_fit += size
            if self.since_fit >= self.refit_every:
                self._count(raws[start:end], outcomes[start:end], stretch)
                start, stretch = end, []
                self.since_fit = 0
                positives = float(self.positives.sum())
                if min(positives, float(self.count.sum()) - positives) >= self.min_labels:
                    self._fit()
        if stretch:
            self._count(raws[start:end], outcomes[start:end], stretch)

    def _count(self, raws: np.ndarray, outcomes: np.ndarray, sizes: list[int]) -> None:
        """Decay and count consecutive batches of ``sizes`` labels (no refit between them)."""
        total = len(raws)
        keep = 0.5 ** (total / self.half_life)
        self.count *= keep
        self.positives *= keep
        self.logit_sum *= keep
        if len(sizes) == 1:
            weights = None
        else:  # each label decays by the labels of the batches after its own
            after = np.repeat(total - np.cumsum(sizes), sizes)
            weights = 0.5 ** (after / self.half_life)
        index = np.clip(((raws - LOGIT_RANGE[0]) / BIN_WIDTH).astype(int), 0,
                        len(self.count) - 1)
        bins = len(self.count)
        self.count += np.bincount(index, weights, minlength=bins)
        self.positives += np.bincount(
            index, outcomes if weights is None else outcomes * weights, minlength=bins)
        self.logit_sum += np.bincount(
            index, raws if weights is None else raws * weights, minlength=bins)
        self.labels += total

    def _basis(self, x: np.ndarray) -> np.ndarray:
        knots = np.asarray(self.knots)
        return np.column_stack([np.ones_like(x), x, np.maximum(0.0, x[:, None] - knots)])

    def _fit(self, steps: int = 2) -> None:
        """Damped Newton steps on the ridge-penalised log likelihood of the bins, warm-started
        from the current map (which moves little between fits)."""
        used = self.count > 1e-9
        n, pos = self.count[used], self.positives[used]
        x = self._basis(self.logit_sum[used] / n)
        identity = np.zeros(len(self.theta))
        identity[1] = 1.0
        ridge = np.array([RIDGE[0], RIDGE[1], *([RIDGE[2]] * len(self.knots))])
        theta = np.asarray(self.theta, dtype=float)
        for _ in range(steps):
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ theta, -30.0, 30.0)))
            gradient = x.T @ (p * n - pos) + ridge * (theta - identity)
            hessian = (x * (n * p * (1.0 - p))[:, None]).T @ x + np.diag(ridge)
            step = np.linalg.solve(hessian, gradient)
            largest = float(np.abs(step).max())
            if largest > 1.0:  # far from the optimum (or nearly separable bins): damp
                step /= largest
            theta = _monotone(theta - step)
        self.theta = [float(t) for t in theta]
        self.fitted = True

    def summary(self) -> dict[str, Any]:
        """The map for people: calibrated probability at a few model probabilities."""
        shown = (0.01, 0.05, 0.1, 0.3, 0.5, 0.8)
        return {"labels": self.labels, "fitted": self.fitted,
                "map": {f"{p:g}": round(_sigmoid(self.transform(math.log(p / (1 - p)))), 4)
                        for p in shown}}


def _monotone(theta: np.ndarray) -> np.ndarray:
    """Raise slopes below :data:`MIN_SLOPE`, segment by segment from the left."""
    theta = theta.copy()
    theta[1] = max(theta[1], MIN_SLOPE)
    slope = theta[1]
    for j in range(2, len(theta)):
        if slope + theta[j] < MIN_SLOPE:
            theta[j] = MIN_SLOPE - slope
        slope += theta[j]
    return theta


def _sigmoid(raw: float) -> float:
    if raw < -30:
        return 0.0
    if raw > 30:
        return 1.0
    return 1.0 / (1.0 + math.exp(-raw))
