"""
### daily_reports: yesterday's sessions and marketer reports, and a weekly roll-up

Runs every day at 01:30 UTC, after the hourly `web_logs` runs and the streaming job have had
time to land the previous day's late events. Each run:

1. **resolve_config**: lake, Spark master and memory, interpreter (run params, then the
   `clickloop_spark` connection, then the worker's `CLICKLOOP_*` settings).
2. **report_period**: the day before the run's logical date (or the `day` param), and its ISO
   week.
3. **sessionize_and_report**: one Spark job (`stream_jobs.orchestration.batch_job`, one JVM for
   the whole run) rebuilds that day's sessions from the lake (the authoritative pass after late
   data), then builds the day's marketer reports (traffic, funnels, paths, campaigns, customer
   value, or those named in the `reports` param; Parquet, CSV and HTML) and, when the day is a
   Sunday, the same reports over its Monday-to-Sunday week. Its JSON summary (the XCom) has one
   part per step: `sessionize`, `reports`, `rollup` (null on other days).

Every job overwrites exactly the dates it covers, so a run can be repeated safely.

**Catch-up and backfill.** `catchup=False`: deploying the DAG does not replay every day since
`start_date`. Rebuild past days deliberately with a backfill, e.g. after loading old logs through
`web_logs`: `airflow backfill create --dag-id daily_reports --from-date 2015-05-18 --to-date
2015-05-22` builds the reports of 17 to 20 May 2015 (the runs of 18 to 21 May at 01:30, each
reporting the day before its date; the dates given are midnights), one day at a time
(`max_active_runs=1`, Spark gets the machine to itself).
"""

from __future__ import annotations

import datetime as dt

from _clickloop_pipeline import (
    LAKE_EVENTS,
    LAKE_REPORTS,
    LAKE_SESSIONS,
    job_summary,
    report_params,
    spark_params,
)
from airflow.sdk import CronTriggerTimetable, Param, dag, task


@dag(
    dag_id="daily_reports",
    schedule=CronTriggerTimetable("30 1 * * *", timezone="UTC"),
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=6),
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["clickloop", "reports"],
    doc_md=__doc__,
    params={
        "day": Param("", type="string", title="Day to report",
                     description="YYYY-MM-DD; empty: the day before the run's logical date."),
        **spark_params(),
        **report_params(),
    },
)
def daily_reports():
    @task
    def resolve_config(params: dict | None = None) -> dict:
        """Where the lake is and how jobs are launched, decided once for the whole run."""
        from stream_jobs.orchestration.job_launch import resolve_in_airflow_task

        config = resolve_in_airflow_task(params or {})
        print(f"lake={config['lake']} spark master={config['spark_master']} "
              f"driver memory={config['driver_memory']} chosen from: {config['sources']}")
        return config

    @task
    def report_period(params: dict | None = None, logical_date=None, dag_run=None) -> dict:
        """The day this run reports on, and its ISO week."""
        from stream_jobs.orchestration.job_launch import report_period as period_of

        when = logical_date or dag_run.run_after
        period = period_of(when, (params or {}).get("day") or None)
        print(f"reporting {period['day']} (week {period['week_start']}..{period['week_end']}, "
              f"complete: {period['week_complete']})")
        return period

    @task.bash(inlets=[LAKE_EVENTS], outlets=[LAKE_SESSIONS, LAKE_REPORTS],
               output_processor=job_summary)
    def sessionize_and_report(config: dict, period: dict) -> str:
        """The day's sessions and reports, and the week's on a Sunday: one Spark start."""
        from stream_jobs.orchestration.job_launch import batch_args, job_command

        return job_command(config, "batch", batch_args(config, period))

    sessionize_and_report(resolve_config(), report_period())


daily_reports()
