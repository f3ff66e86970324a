"""The reports ``clickloop report`` and ``stream_jobs.reports.job`` know, by name.

Each entry points to a module with ``NAME``, ``TITLE`` and ``build(inputs) -> Report``; modules
are imported only when their report runs. Another package registers a report by adding one line
here (``"uplift": "personalization.uplift_report"``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

REPORTS: dict[str, str] = {
    "traffic": "stream_jobs.reports.traffic",
    "funnels": "stream_jobs.reports.funnels",
    "paths": "stream_jobs.reports.paths",
    "campaigns": "stream_jobs.reports.campaigns",
    "customers": "stream_jobs.reports.customers",
    "lifecycle": "stream_jobs.reports.lifecycle",
    "baskets": "stream_jobs.reports.baskets",
    "campaign_roi": "stream_jobs.reports.campaign_roi",
}


def report_module(name: str) -> ModuleType:
    """The module of report ``name`` (KeyError naming the known reports otherwise)."""
    if name not in REPORTS:
        raise KeyError(f"unknown report {name!r}; known: {', '.join(REPORTS)}")
    return importlib.import_module(REPORTS[name])
