"""``daily_reports`` for real: ``dag.test()`` in a child process (temporary AIRFLOW_HOME, migrated
SQLite DB), the Spark job launched by the DAG's own task, on a small hand-made lake.

The run's logical date is Monday 2025-03-10 01:30 UTC, so it reports Sunday 2025-03-09 and, the
week being complete, the roll-up of 3 to 9 March, all in one Spark job (one JVM per run).
Expected figures, counted by hand from the events below (30-minute gap, a session dated by its
first event, one day of margin read either side):

- Sunday: visitor a has two sessions (10:00 and 10:40, 40 minutes apart), b one with a 30.00
  purchase; e's session started on Saturday 23:50 and is Saturday's although it crosses
  midnight; d's is Monday's: 3 sessions, 2 visitors, 3 page views; 1 customer, 30.00 revenue;
- the week: those 3 plus c's (Saturday) and e's: 5 sessions, 4 visitors, 6 page views.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.dags.conftest import RunResult, airflow_env, run_runner
from tests.stream_jobs.builders import event, lake_frame

pytestmark = [pytest.mark.airflow, pytest.mark.spark]

DAY = "2025-03-09"
WEEK = ("2025-03-03", "2025-03-09")
REPORTS = ["traffic", "customers"]
EVENTS = [
    event(1, "a", "2025-03-09 10:00:00"),
    event(2, "a", "2025-03-09 10:40:00"),
    event(3, "b", "2025-03-09 12:00:00"),
    event(4, "b", "2025-03-09 12:05:00", "purchase", revenue=30.0, order_id="o-b"),
    event(5, "c", "2025-03-08 09:00:00"),
    event(6, "d", "2025-03-10 00:10:00"),
    event(7, "e", "2025-03-08 23:50:00"),
    event(8, "e", "2025-03-09 00:10:00"),
]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def session_dates(sessions: Path) -> dict[str, int]:
    import duckdb

    query = (f"SELECT CAST(session_date AS VARCHAR), count(*) FROM read_parquet("
             f"'{sessions}/**/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL")
    return dict(duckdb.sql(query).fetchall())


@pytest.mark.timeout(1200)
def test_daily_reports_builds_the_day_and_the_week_in_one_spark_job(spark, tmp_path: Path,
                                                                    airflow_home: Path):
    from stream_jobs.lake import LakePaths, write_events

    state = tmp_path / "state"
    lake = LakePaths(state / "lake")
    write_events(lake_frame(spark, EVENTS), lake)

    run: RunResult = run_runner(
        ["test", "daily_reports", "--logical-date", "2025-03-10T01:30:00+00:00",
         "--conf", json.dumps({"reports": REPORTS})],
        airflow_env(airflow_home, {
            "CLICKLOOP_STATE_DIR": str(state),
            "CLICKLOOP_SPARK_MASTER": "local[2]",
            "CLICKLOOP_SPARK_DRIVER_MEMORY": "1g",
            "CLICKLOOP_SPARK_SHUFFLE_PARTITIONS": "2",
        }), timeout=1100)

    errors = "\n".join([line for line in run.output.splitlines()
                        if "Error" in line or "Exception" in line][-30:])
    assert run.result.get("state") == "success", f"{run}\nerror lines:\n{errors}"
    assert run.result["tasks"] == {
        "resolve_config": "success", "report_period": "success",
        "sessionize_and_report": "success",
    }, str(run)
    assert f"reporting {DAY} (week {WEEK[0]}..{WEEK[1]}, complete: True)" in run.output
    # the customers report ranks without a single-partition window (Spark would warn)
    assert "No Partition Defined for Window operation" not in run.output

    # only the reported day's sessions are (re)built
    assert session_dates(lake.sessions) == {DAY: 3}
    reports = lake.reports
    assert sorted(p.name for p in reports.iterdir()) == sorted(REPORTS)
    day, week = f"{DAY}_{DAY}", f"{WEEK[0]}_{WEEK[1]}"
    for name in REPORTS:
        assert sorted(p.name for p in (reports / name).iterdir()) == sorted([day, week])
    traffic = {span: csv_rows(reports / "traffic" / span / "summary.csv")[0]
               for span in (day, week)}
    assert [(t["sessions"], t["visitors"], t["page_views"]) for t in traffic.values()] == [
        ("3", "2", "3"), ("5", "4", "6")]
    customers = csv_rows(reports / "customers" / day / "summary.csv")[0]
    assert (customers["customers"], customers["orders"], float(customers["revenue"])) == (
        "1", "1", 30.0)
