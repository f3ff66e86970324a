"""The reports' outputs on disk: which runs exist, which one serves a date range, their tables.

``stream_jobs.reports.output`` writes ``<lake>/reports/<name>/<start>_<end>[_with_bots]/`` with
``<table>.parquet`` + ``<table>.csv`` per small table and a ``<table>.parquet/`` folder for
detail tables. This module only reads that layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

RUN_FOLDER = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})(_with_bots)?$")
TABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class ReportRun:
    """One written run of a report."""

    name: str
    start: date
    end: date
    with_bots: bool
    folder: Path

    @property
    def run_id(self) -> str:
        return self.folder.name

    def tables(self) -> list[str]:
        """Small tables in the order they were written (the report's own order)."""
        files = [p for p in self.folder.glob("*.parquet") if p.is_file()]
        return [p.stem for p in sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))]

    def detail_tables(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.parquet") if p.is_dir())

    def csv_path(self, table: str) -> Path | None:
        """The table's CSV, or None (also for a name that is not a plain table name)."""
        if not TABLE_NAME.match(table):
            return None
        path = self.folder / f"{table}.csv"
        return path if path.is_file() else None

    def read(self, table: str) -> tuple[list[str], list[dict[str, Any]]]:
        """Columns and rows of a small table (from its Parquet file: typed values)."""
        import pyarrow.parquet as pq

        arrow = pq.read_table(self.folder / f"{table}.parquet")
        return list(arrow.column_names), arrow.to_pylist()


def report_runs(reports_root: Path) -> dict[str, list[ReportRun]]:
    """Every report's runs, newest range end first (bot-free runs before ``_with_bots``)."""
    found: dict[str, list[ReportRun]] = {}
    if not reports_root.is_dir():
        return found
    for report_dir in sorted(p for p in reports_root.iterdir() if p.is_dir()):
        for folder in report_dir.iterdir():
            match = RUN_FOLDER.match(folder.name)
            if not folder.is_dir() or match is None:
                continue
            found.setdefault(report_dir.name, []).append(ReportRun(
                report_dir.name, date.fromisoformat(match[1]), date.fromisoformat(match[2]),
                bool(match[3]), folder))
    for runs in found.values():
        runs.sort(key=lambda r: (-r.end.toordinal(), r.with_bots, -r.start.toordinal()))
    return found


def pick_run(runs: list[ReportRun], start: date, end: date) -> tuple[ReportRun | None, bool]:
    """The run for ``[start, end]``: the exact range (exact=True), else the narrowest run that
    covers it, else the newest run; bot-free runs first."""
    plain = [r for r in runs if not r.with_bots] or runs
    for run in plain:
        if (run.start, run.end) == (start, end):
            return run, True
    covering = [r for r in plain if r.start <= start and r.end >= end]
    if covering:
        return min(covering, key=lambda r: (r.end - r.start, -r.end.toordinal())), False
    return (plain[0] if plain else None), False
