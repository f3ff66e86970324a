"""A standard-scaled logistic regression over a fixed feature vector, in NumPy.

Why not River's ``Pipeline(StandardScaler(), LogisticRegression())``: it walks a dict per step,
which cost about 21 µs of the worker's ~105 µs per event. Our features are a fixed, ordered set
(:data:`personalization.features.NAMES`), so the same arithmetic runs on arrays. It is the same
model, update for update, not an approximation, but for one safeguard:

- the scaler keeps Welford's running mean and population variance per feature, updated *before*
  the example is scaled when learning (River's pipeline order), and maps a feature with zero
  variance to 0 (a relative standard deviation under 1e-7 counts as zero: see
  :func:`_inverse_std`);
- the regression takes one plain SGD step on the log loss of the scaled example, the intercept
  its own step with the same loss gradient, with River's gradient and sigmoid cut-offs;
- the safeguard: scaled values are cut at ±:data:`Z_CLIP` standard deviations. A feature seen
  only as tiny values has a tiny deviation, and the first ordinary value is then thousands of
  deviations out: uncut, that one example decides its own score and takes a step the size of
  hundreds of others (a demo run served a logit of 15,761 this way). ``clip=None`` is River's
  arithmetic exactly.

``tests/personalization/test_logistic.py`` replays a stream through both (uncut) and checks every
prediction agrees to 1e-9 (only the order of floating-point sums differs).

>>> m = ScaledLogistic(("a", "b"), lr=0.1, intercept_init=0.0, intercept_lr=0.1)
>>> m.predict([1.0, 0.0])
0.5
>>> for _ in range(200):
...     m.learn([1.0, 0.0], True)
...     m.learn([0.0, 1.0], False)
>>> m.predict([1.0, 0.0]) > 0.9 > 0.1 > m.predict([0.0, 1.0])
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# scaled values are cut to ±Z_CLIP standard deviations (None: not cut, River's arithmetic)
Z_CLIP: float | None = 10.0
# rows per array product in the batch verbs: past ~64 rows OpenBLAS hands a 43-column product
# to a thread per core, and those threads spin on cores the broker and Spark need
CHUNK = 64


class ScaledLogistic:
    """Running standard scaler + logistic regression trained by SGD, on float vectors."""

    clip: float | None = Z_CLIP  # for models pickled before the cut existed

    def __init__(self, names: Sequence[str], *, lr: float, intercept_init: float,
                 intercept_lr: float, clip: float | None = Z_CLIP):
        if clip is not None and not clip > 0:
            raise ValueError(f"the scaled-value cut must be > 0 standard deviations, got {clip}")
        self.names = tuple(names)
        self.clip = clip
        self.lr = lr
        self.intercept_lr = intercept_lr
        self.intercept = intercept_init
        d = len(self.names)
        self.n = 0
        self.mean = np.zeros(d)
        self.var = np.zeros(d)
        self.inv_std = np.zeros(d)  # 1/sqrt(var) where var > 0, else 0 (feature ignored)
        self.weights = np.zeros(d)

    def _scaled(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        return self._cut((np.asarray(x, dtype=float) - self.mean) * self.inv_std)

    def _cut(self, z: np.ndarray) -> np.ndarray:
        clip = self.clip
        # the method, not np.clip: half the cost on a 43-vector, paid on every prediction
        return z if clip is None else z.clip(-clip, clip, out=z)

    def raw(self, x: Sequence[float] | np.ndarray) -> float:
        """The logit of ``x``."""
        return float(self._scaled(x) @ self.weights) + self.intercept

    def raw_many(self, xs: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """The logits of several examples under the current state (nothing learned)."""
        a = np.asarray(xs, dtype=float)
        if len(a) <= CHUNK:
            return self._scaled(a) @ self.weights + self.intercept
        return np.concatenate([self.raw_many(a[start:start + CHUNK])
                               for start in range(0, len(a), CHUNK)])

    def predict(self, x: Sequence[float] | np.ndarray) -> float:
        """P(y = 1 | x), with River's sigmoid cut-offs at ±30."""
        return _sigmoid(self.raw(x))

    def learn(self, x: Sequence[float] | np.ndarray, y: bool) -> None:
        """Update the scaler with ``x``, then take one SGD step on the scaled example."""
        a = np.asarray(x, dtype=float)
        self.n += 1
        delta = a - self.mean
        self.mean += delta / self.n
        self.var += (delta * (a - self.mean) - self.var) / self.n
        self.inv_std = _inverse_std(self.var, self.mean)
        z = self._cut((a - self.mean) * self.inv_std)
        g = _log_loss_gradient(y, float(z @ self.weights) + self.intercept)
        self.intercept -= self.intercept_lr * g
        self.weights -= (self.lr * g) * z

    def learn_many(self, xs: Sequence[Sequence[float]] | np.ndarray, ys: Sequence[bool]) -> None:
        """The same updates as :meth:`learn`, one after another, at a fraction of the cost.

        Labels come in batches (every snapshot of a closing session), and each SGD step depends
        on the previous one only through scalars: with the batch's scaled examples ``Z`` and
        their Gram matrix ``Z Zᵀ``, the logit of example *i* is its logit under the weights
        before the batch minus the earlier steps' gradients times their dot products. So the
        scaler's running statistics (cumulative Welford) and ``Z`` are computed for the whole
        batch in a few array operations, and only a scalar loop stays sequential.
        """
        k = len(xs)
        if k < 3:
            for x, y in zip(xs, ys, strict=True):
                self.learn(x, y)
            return
        a = np.asarray(xs, dtype=float)
        if k > CHUNK:  # the same steps, :data:`CHUNK` rows at a time
            for start in range(0, k, CHUNK):
                self.learn_many(a[start:start + CHUNK], ys[start:start + CHUNK])
            return
        counts = self.n + np.arange(1, k + 1, dtype=float)[:, None]
        # running mean after each example, and the one before it
        means = (self.mean * self.n + np.cumsum(a, axis=0)) / counts
        before = np.vstack((self.mean, means[:-1]))
        # Welford: n * var grows by (a - mean_before) * (a - mean_after) per example
        m2 = self.var * self.n + np.cumsum((a - before) * (a - means), axis=0)
        # never below 0 in exact arithmetic; a near-constant column's rounding can dip under
        np.maximum(m2, 0.0, out=m2)
        variances = m2 / counts
        z = self._cut((a - means) * _inverse_std(variances, means))
        # logits under the weights before the batch (Python floats: the loop below is scalar)
        base = (z @ self.weights + self.intercept).tolist()
        gram = z @ z.T
        lr, intercept_lr = self.lr, self.intercept_lr
        grads = np.zeros(k)
        total = 0.0  # sum of the earlier steps' gradients
        for i in range(k):
            raw = base[i]
            if i:
                raw -= lr * float(gram[i, :i] @ grads[:i]) + intercept_lr * total
            g = _log_loss_gradient(bool(ys[i]), raw)
            grads[i] = g
            total += g
        self.intercept -= intercept_lr * float(grads.sum())
        self.weights -= lr * (grads @ z)
        self.n += k
        self.mean = means[-1].copy()
        self.var = variances[-1].copy()
        self.inv_std = _inverse_std(self.var, self.mean)


def _inverse_std(var: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """1/std, and 0 for a constant feature (River's rule: zero variance scales to 0).

    "Constant" allows rounding: the batch path's running mean of a constant column can be one
    ulp off the value, which leaves a variance of ~1e-33 where the one-by-one path has exactly
    0; a relative standard deviation under 1e-7 is taken as none in both paths.
    """
    constant = var <= (mean * 1e-7) ** 2
    return np.divide(1.0, np.sqrt(var), out=np.zeros_like(var), where=~constant)


def _sigmoid(raw: float) -> float:
    if raw < -30:
        return 0.0
    if raw > 30:
        return 1.0
    return 1.0 / (1.0 + math.exp(-raw))


def _log_loss_gradient(y: bool, raw: float) -> float:
    """d(log loss)/d(raw) with labels in {-1, 1}, as River's ``optim.losses.Log``."""
    sign = 1 if y else -1
    z = raw * sign
    if z > 18.0:
        return math.exp(-z) * -sign
    if z < -18.0:
        return float(-sign)
    return -sign / (math.exp(z) + 1.0)
