"""``clickloop report``: the lake's Spark reports and the reports of other stores, one command.

The Spark reports (traffic, funnels, …) come from :mod:`stream_jobs.reports.command`; a report
from another store (``uplift``: personalization against the holdout, from the personalization
store) is one line in :data:`EXTRA_REPORTS`. Its module defines ``add_arguments(parser)`` and
``run(args, settings) -> int``, the protocol of :data:`clickloop.cli.COMMANDS`. Composing them
here keeps the components from importing each other.
"""

from __future__ import annotations

import argparse
import importlib

from tracker.settings import Settings

# report -> (module, one-line help); imported only when `clickloop report` runs
EXTRA_REPORTS: dict[str, tuple[str, str]] = {
    "uplift": ("personalization.report_command", "personalization vs the holdout: conversion "
               "and revenue per visitor, with confidence intervals"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from stream_jobs.reports import command as lake_reports

    reports = lake_reports.add_arguments(parser)
    for name, (module, help_text) in EXTRA_REPORTS.items():
        sub = reports.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_extra_report=module)
        importlib.import_module(module).add_arguments(sub)


def run(args: argparse.Namespace, settings: Settings) -> int:
    extra = getattr(args, "_extra_report", None)
    if extra is not None:
        return int(importlib.import_module(extra).run(args, settings) or 0)
    from stream_jobs.reports import command as lake_reports

    return lake_reports.run(args, settings)
