"""Per-app resources of the decision API, kept in ``app.extensions`` (never module globals).

Created in :func:`personalization.api.create_app`, i.e. in each gunicorn worker after the fork:
store connections and the rules file watcher belong to one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from flask import current_app

from personalization.api.decision_log import DecisionLog, LogGate
from personalization.bandit.policy import PolicyView, from_state
from personalization.rules import RulesSource
from personalization.stores import DecisionLogStore, DecisionStore, ErasureStore
from tracker.settings import Settings

EXTENSION = "clickloop_personalization"
POPULAR_TTL_S = 5.0  # popular items change slowly; one store read per process every 5 s
BANDIT_TTL_S = 2.0  # the worker publishes with each checkpoint (every few seconds)


class ApiStore(DecisionStore, DecisionLogStore, ErasureStore, Protocol):
    """What the decision API uses of a store: its reads, the decision log, forgetting."""


@dataclass
class Services:
    settings: Settings
    store: ApiStore
    rules: RulesSource
    clock: Callable[[], float] = time.time
    decisions: DecisionLog = field(init=False)
    gate: LogGate = field(default_factory=LogGate)  # bounds what anonymous calls can log
    _popular: list[dict[str, Any]] = field(default_factory=list)
    _popular_at: float = float("-inf")
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    _bandits: dict[str, PolicyView] = field(default_factory=dict)
    _bandits_at: float = float("-inf")

    def __post_init__(self) -> None:
        self.decisions = DecisionLog(self.store)

    def popular(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        if now - self._popular_at >= POPULAR_TTL_S:
            self._popular = self.store.popular()
            self._popular_at = now
        return self._popular

    def bandits(self) -> dict[str, PolicyView]:
        """The slots' bandit statistics, re-read from the store at most every 2 s (the
        inverses are computed here, once, not per decision)."""
        now = time.monotonic()
        if now - self._bandits_at >= BANDIT_TTL_S:
            self._bandits = {slot: PolicyView(arms)
                             for slot, arms in from_state(self.store.bandit_state()).items()}
            self._bandits_at = now
        return self._bandits


def services() -> Services:
    return current_app.extensions[EXTENSION]
