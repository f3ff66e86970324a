"""What every request of the dashboard reads: the settings, the lake's folders, the cache.

Kept apart from :mod:`dashboard.app` so the pages can reach it without importing the module
that registers them (no import cycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app

from tracker.settings import Settings

CHART_JS = Path(__file__).resolve().parent / "assets" / "node_modules" / "chart.js" / "dist" / \
    "chart.umd.min.js"


@dataclass
class DashboardState:
    """What every request reads: the settings, the lake's folders, the answer cache."""

    settings: Settings
    lake: Path
    cache: Any = field(default=None)

    @property
    def reports_root(self) -> Path:
        return self.lake / "reports"

    @property
    def sessions_dir(self) -> Path:
        return self.lake / "sessions"


def state() -> DashboardState:
    return current_app.extensions["dashboard"]
