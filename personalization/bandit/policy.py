"""What the bandit learns (per-variant ridge regressions) and how a policy chooses from it.

Each variant of a slot has a linear model of its reward given the context vector ``x``
(:mod:`.context`): the sufficient statistics ``A = ridge*I + sum x x'`` and ``b = sum r x``, so
``theta = A^-1 b`` is the ridge estimate and ``x' A^-1 x`` its uncertainty at ``x``. The
statistics do not depend on the policy, so a marketer can switch a slot's policy in the rules
file without losing what was learned. The verbs follow River's bandits: the worker calls
:meth:`LinearArms.update`; the API calls :meth:`PolicyView.pull` on a read-only snapshot.

Policies, for the candidates the rules allow (``mu = theta.x``, ``sigma = sqrt(x' A^-1 x)``):

- ``linucb`` (the default): the highest upper confidence bound ``mu + alpha * sigma``;
- ``thompson``: linear Thompson sampling: the highest ``mu + v * sigma * N(0, 1)``;
- ``epsilon_greedy``: the highest ``mu``, except a share :data:`EPSILON` of random choices.

All three first make a slot's ``explore`` share of choices uniformly at random, a floor that
keeps every allowed variant measured even after the bandit is sure. The constants were chosen
with ``bench/bandit_policy.py`` (figures in ``docs/bandit.md``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from personalization.bandit.context import DIM, VERSION

RIDGE = 1.0
THOMPSON_SCALE = 0.1
LINUCB_ALPHA = 0.25
EPSILON = 0.05


class LinearArms:
    """The statistics of one slot's variants; JSON-able for the stores (see :meth:`as_dict`)."""

    def __init__(self, dim: int = DIM):
        self.dim = dim
        self.A: dict[str, np.ndarray] = {}
        self.b: dict[str, np.ndarray] = {}
        self.pulls: dict[str, int] = {}  # rewards learned (decisions with a known outcome)
        self.rewards: dict[str, float] = {}

    def update(self, arm: str, x: Sequence[float], reward: float) -> None:
        """Learn one outcome of ``arm`` chosen at ``x``."""
        v = np.asarray(x, dtype=float)
        if arm not in self.A:
            self.A[arm] = RIDGE * np.eye(self.dim)
            self.b[arm] = np.zeros(self.dim)
            self.pulls[arm] = 0
            self.rewards[arm] = 0.0
        self.A[arm] += np.outer(v, v)
        self.b[arm] += reward * v
        self.pulls[arm] += 1
        self.rewards[arm] += reward

    def as_dict(self) -> dict[str, Any]:
        return {arm: {"A": self.A[arm].ravel().tolist(), "b": self.b[arm].tolist(),
                      "pulls": self.pulls[arm], "rewards": self.rewards[arm]}
                for arm in sorted(self.A)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], dim: int = DIM) -> LinearArms:
        arms = cls(dim)
        for arm, s in data.items():
            arms.A[arm] = np.asarray(s["A"], dtype=float).reshape(dim, dim)
            arms.b[arm] = np.asarray(s["b"], dtype=float)
            arms.pulls[arm] = int(s["pulls"])
            arms.rewards[arm] = float(s["rewards"])
        return arms


def state_dict(slots: dict[str, LinearArms]) -> dict[str, Any]:
    """The JSON the worker publishes with each checkpoint and the API reads."""
    return {"version": VERSION, "dim": DIM,
            "slots": {slot: arms.as_dict() for slot, arms in sorted(slots.items())}}


def from_state(data: dict[str, Any] | None) -> dict[str, LinearArms]:
    """Parse :func:`state_dict`; statistics of another context version are dropped."""
    if not data or data.get("version") != VERSION or data.get("dim") != DIM:
        return {}
    return {slot: LinearArms.from_dict(arms) for slot, arms in data.get("slots", {}).items()}


class PolicyView:
    """A read-only snapshot of one slot's statistics, with ``theta`` and ``A^-1`` of every
    variant computed once (when the API loads the state) and stacked into one matrix, so a
    choice costs two small matrix products whatever the candidates (numpy's per-call overhead,
    not arithmetic, is what a 24-dimensional choice costs)."""

    def __init__(self, arms: LinearArms | None = None):
        arms = arms or LinearArms()
        self.dim = arms.dim
        names = sorted(arms.A)
        # the last row is the prior, for a variant nothing has been learned about yet
        self._row = {name: i for i, name in enumerate(names)}
        self._prior = len(names)
        self._k = len(names) + 1
        inverses = [np.linalg.inv(arms.A[name]) for name in names]
        inverse = np.stack([*inverses, np.eye(self.dim) / RIDGE])
        theta = np.stack([*(inv @ arms.b[name] for inv, name in zip(inverses, names,
                                                                  strict=True)),
                          np.zeros(self.dim)])
        # rows: theta of each variant, then every variant's A^-1 flattened
        self._stacked = np.vstack([theta, inverse.reshape(-1, self.dim)])
        self.pulls = dict(arms.pulls)

    def _moments(self, x: Sequence[float]) -> tuple[list[float], list[float]]:
        """(mu, sigma) of every stored variant and the prior (last) at ``x``."""
        v = np.asarray(x, dtype=float)
        r = self._stacked @ v
        k = self._k
        variance = r[k:].reshape(k, self.dim) @ v
        return r[:k].tolist(), [math.sqrt(max(0.0, s)) for s in variance.tolist()]

    def scores(self, candidates: Sequence[str], x: Sequence[float]) -> tuple[np.ndarray,
                                                                              np.ndarray]:
        """(mu, sigma) of each candidate at ``x``."""
        mu, sigma = self._moments(x)
        rows = [self._row.get(c, self._prior) for c in candidates]
        return np.array([mu[r] for r in rows]), np.array([sigma[r] for r in rows])

    def pull(self, candidates: Sequence[str], x: Sequence[float], *, policy: str,
             explore: float, rng: np.random.Generator) -> str:
        """The variant to show among ``candidates`` (in the rules' order)."""
        k = len(candidates)
        if k == 1:
            return candidates[0]
        u = rng.random(2 * k + 2).tolist()  # one draw: per-call overhead dominates here
        if u[0] < explore or (policy == "epsilon_greedy" and u[1] < EPSILON):
            return candidates[min(k - 1, int(u[2] * k))]
        mu, sigma = self._moments(x)
        if policy == "thompson":
            noise = [THOMPSON_SCALE * z for z in rng.standard_normal(k).tolist()]
        elif policy == "linucb":
            noise = [LINUCB_ALPHA] * k
        else:
            noise = [0.0] * k
        best, best_score = candidates[0], -math.inf
        for j, name in enumerate(candidates):
            row = self._row.get(name, self._prior)
            # ties (nothing learned yet) are broken at random, not by the rules' order
            score = mu[row] + noise[j] * sigma[row] + u[2 + k + j] * 1e-12
            if score > best_score:
                best, best_score = name, score
        return best
