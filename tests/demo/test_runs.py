"""``clickloop demo``'s plan for a run on a state dir that may hold earlier runs."""

from __future__ import annotations

from datetime import UTC, date, datetime

from demo.runs import plan_run, read_history, record_run, report_dates
from tracker.settings import Settings

NOW = datetime(2026, 11, 23, 12, 0, 30, 123456, tzinfo=UTC)


def test_a_first_run_is_a_day_ending_now_with_seed_one() -> None:
    plan = plan_run([], now=NOW, minutes=None, seed=None)
    assert (plan.run, plan.seed, plan.note) == (1, 1, None)
    assert plan.start == datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)
    assert plan.end == datetime(2026, 11, 23, 12, 0, 30, tzinfo=UTC)
    assert report_dates([], plan) == (date(2026, 11, 22), date(2026, 11, 23))


def test_a_second_run_continues_where_the_first_ended(tmp_path) -> None:
    settings = Settings.from_env({"CLICKLOOP_STATE_DIR": str(tmp_path)})
    record_run(settings, {"run": 1, "seed": 1, "start": "2026-11-20T10:00:00+00:00",
                          "end": "2026-11-23T11:00:00+00:00", "events": 1500})
    history = read_history(settings)
    plan = plan_run(history, now=NOW, minutes=None, seed=None)
    assert (plan.run, plan.seed) == (2, 2)  # new visitors, new event ids
    assert plan.start == datetime(2026, 11, 23, 11, tzinfo=UTC)
    assert plan.minutes == 60.5
    assert plan.note is not None and "2026-11-23 11:00" in plan.note
    # the reports cover the first run too: the lake and the model hold it
    assert report_dates(history, plan) == (date(2026, 11, 20), date(2026, 11, 23))


def test_a_run_right_after_the_last_has_nothing_to_simulate() -> None:
    history = [{"seed": 4, "start": "2026-11-22T12:00:30+00:00",
                "end": "2026-11-23T12:00:30+00:00"}]
    plan = plan_run(history, now=NOW, minutes=30, seed=None)
    assert (plan.seed, plan.minutes) == (5, 0.0)


def test_a_given_seed_and_window_are_kept() -> None:
    plan = plan_run([], now=NOW, minutes=90, seed=42)
    assert (plan.seed, plan.minutes) == (42, 90.0)
