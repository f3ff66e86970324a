"""Per-app resources of the decision API, kept in ``app.extensions`` (never module globals).

Created in :func:`personalization.api.create_app`, i.e. in each gunicorn worker after the fork:
store connections and the rules file watcher belong to one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from personalization.rules import RulesSource
from personalization.stores import Store
from tracker.settings import Settings

EXTENSION = "clickloop_personalization"
POPULAR_TTL_S = 5.0  # popular items change slowly; one store read per process every 5 s


@dataclass
class Services:
    settings: Settings
    store: Store
    rules: RulesSource
    clock: Callable[[], float] = time.time
    _popular: list[dict[str, Any]] = field(default_factory=list)
    _popular_at: float = float("-inf")

    def popular(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        if now - self._popular_at >= POPULAR_TTL_S:
            self._popular = self.store.popular()
            self._popular_at = now
        return self._popular


def services() -> Services:
    return current_app.extensions[EXTENSION]
