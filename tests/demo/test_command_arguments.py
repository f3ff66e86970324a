"""``clickloop demo``'s own arguments: ``--until`` ends the simulated window at a given time (so
a run can be reproduced), and a time it cannot use is refused before anything starts."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clickloop.cli import main
from demo.command import plan_for
from tracker.settings import PREFIX


def test_until_ends_the_window_there_and_a_later_run_continues_from_it() -> None:
    # relative to the clock: a later run continues from a run that ended within the last day
    # (a fixed date here failed once the day had passed)
    until = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    args = argparse.Namespace(until=until, minutes=None, seed=None)
    plan = plan_for(args, [])
    assert (plan.start, plan.end, plan.seed) == (until - timedelta(days=1), until, 1)
    later = plan_for(argparse.Namespace(until=None, minutes=None, seed=None),
                     [{"seed": 1, "end": until.isoformat()}])
    assert later.start == until and later.seed == 2
    assert later.end > until


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(f"{PREFIX}STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_a_time_in_the_future_is_refused_before_anything_starts(state: Path, capsys) -> None:
    ahead = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert main(["demo", "--until", ahead, "--events", "10", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "--until" in err and "is in the future" in err
    assert not (state / "demo").exists()  # no lock, no logs, no stack


def test_a_time_that_is_not_iso_8601_is_refused_naming_it(state: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--until", "yesterday 4pm"])
    assert exit_.value.code == 2
    assert "--until: not an ISO 8601 time: 'yesterday 4pm'" in capsys.readouterr().err
