"""The demo's runs on one state dir: which run this is, its seed and simulated window.

``<state>/demo/runs.json`` remembers every run, so a second ``clickloop demo`` continues where
the first stopped (the worker and the live sessions keep time by the events they see) and the
reports cover every run the lake holds. ``<state>/demo/demo.lock`` keeps two demos off one
state dir.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta  # noqa: F401 - UTC is used by the doctests
from pathlib import Path
from typing import Any

from tracker.settings import Settings

DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class RunPlan:
    """This run's number, seed and simulated window."""

    run: int
    seed: int
    start: datetime
    end: datetime
    note: str | None = None

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


def plan_run(history: list[dict[str, Any]], *, now: datetime, minutes: float | None,
             seed: int | None) -> RunPlan:
    """The next run after ``history`` (earlier runs, oldest first): a window of ``minutes``
    ending ``now`` that never reaches back before the last run's end.

    >>> now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    >>> p = plan_run([], now=now, minutes=None, seed=None)
    >>> p.run, p.seed, p.start.isoformat()
    (1, 1, '2026-11-22T12:00:00+00:00')
    >>> p = plan_run([{"seed": 1, "end": "2026-11-23T11:00:00+00:00"}], now=now, minutes=None,
    ...              seed=None)
    >>> p.run, p.seed, p.start.isoformat(), p.minutes
    (2, 2, '2026-11-23T11:00:00+00:00', 60.0)
    """
    wanted = DAY_MINUTES if minutes is None else minutes
    now = now.replace(microsecond=0)
    start = now - timedelta(minutes=wanted)
    note = None
    if history:
        last_end = datetime.fromisoformat(history[-1]["end"])
        if last_end > start:
            start = min(last_end, now)
            note = (f"the last run's simulated window ended at {last_end:%Y-%m-%d %H:%M} UTC; "
                    f"this run continues from there ({(now - start).total_seconds() / 60:.0f} "
                    f"simulated minutes instead of {wanted:g})")
    used = [int(h["seed"]) for h in history]
    return RunPlan(run=len(history) + 1,
                   seed=seed if seed is not None else max(used, default=0) + 1,
                   start=start, end=now, note=note)


def report_dates(history: list[dict[str, Any]], plan: RunPlan) -> tuple[date, date]:
    """First and last date the reports cover: every run on the state dir, from the first one's
    start to this one's end, because the lake and the model hold them all.

    >>> plan = RunPlan(run=2, seed=2, start=datetime(2026, 11, 23, 11, tzinfo=UTC),
    ...                end=datetime(2026, 11, 23, 12, tzinfo=UTC))
    >>> report_dates([{"start": "2026-11-20T09:00:00+00:00"}], plan)
    (datetime.date(2026, 11, 20), datetime.date(2026, 11, 23))
    """
    starts = [plan.start, *(datetime.fromisoformat(h["start"]) for h in history)]
    return min(starts).date(), plan.end.date()


def _runs_file(settings: Settings) -> Path:
    return Path(settings.state_dir) / "demo" / "runs.json"


def read_history(settings: Settings) -> list[dict[str, Any]]:
    try:
        data = json.loads(_runs_file(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(data.get("runs", [])) if isinstance(data, dict) else []


def record_run(settings: Settings, entry: dict[str, Any]) -> None:
    path = _runs_file(settings)
    history = [*read_history(settings), entry]
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps({"runs": history}, indent=2) + "\n", encoding="utf-8")
    scratch.replace(path)


@contextlib.contextmanager
def exclusive_state(settings: Settings) -> Iterator[bool]:
    """Hold ``<state>/demo/demo.lock``; yields False when another demo holds it (two streaming
    jobs must never share one checkpoint dir)."""
    path = Path(settings.state_dir) / "demo" / "demo.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
