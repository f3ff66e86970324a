"""Benchmark: ``clickloop report all`` on a month of a 10-million-event lake, time per report.

    .venv/bin/python bench/report_all.py [--events 10000000] [--days 30] [--work DIR]

1. DuckDB writes a lake in Clickloop's layout, the same generator as
   ``bench/sessionize_vs_duckdb.py`` (visitors, sessions of page views, cart adds and
   purchases, campaigns, a few duplicates) spread over ``--days`` days; reused when present.
2. In one Spark session (``local[2]``), the steps of ``stream_jobs.reports.job.run``, each
   timed apart: the shared inputs (read the month and a day either side, deduplicate,
   sessionize, persist: forced with a count so its time is not charged to the first report),
   then every report of the registry built and written (Parquet, CSV, HTML).

Output: seconds per step, its share of the total, and which step dominates. There is no
reference engine for the reports, so no ratio: the figure to watch is the inputs step against
the sum of the reports (what one more report costs once the month is sessionized).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = date(2024, 3, 1)


def generate(work: Path, events: int, days: int) -> Path:
    """The lake (events over ``days`` days from START), generated once per size."""
    import duckdb
    from sessionize_vs_duckdb import EVENTS_PER_SESSION, GENERATE  # bench/ is sys.path[0]

    lake = work / "lake"
    marker = lake / f".generated-{events}-{days}"
    if marker.exists():
        return lake
    shutil.rmtree(lake, ignore_errors=True)
    (lake / "events").mkdir(parents=True)
    sessions = events // EVENTS_PER_SESSION
    con = duckdb.connect()
    con.execute(f"SET threads = 2; SET TimeZone = 'UTC'; SET temp_directory = '{work}/tmp'")
    con.execute(GENERATE.format(visitors=max(1, sessions // 3), start=START.isoformat(),
                                days=days, sessions=sessions, per_session=EVENTS_PER_SESSION,
                                events=lake / "events"))
    marker.touch()
    return lake


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--work", type=Path, default=Path("/tmp/clickloop-bench-reports"))
    parser.add_argument("--spark-memory", default="3g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lake = generate(args.work, args.events, args.days)
    print(f"lake: {lake} ({args.events:,} events over {args.days} days; generated in "
          f"{time.perf_counter() - t0:.1f} s or reused)", flush=True)

    os.environ.update({
        "CLICKLOOP_LAKE_DIR": str(lake), "CLICKLOOP_STATE_DIR": str(args.work / "state"),
        "CLICKLOOP_SPARK_MASTER": "local[2]", "CLICKLOOP_SPARK_DRIVER_MEMORY": args.spark_memory,
        "CLICKLOOP_SPARK_SHUFFLE_PARTITIONS": str(args.shuffle_partitions),
    })
    sys.path.insert(0, str(ROOT))
    from stream_jobs.lake import LakePaths
    from stream_jobs.reports.job import report_inputs
    from stream_jobs.reports.output import write_report
    from stream_jobs.reports.registry import REPORTS, report_module
    from stream_jobs.spark_session import build_spark
    from tracker.settings import Settings

    settings = Settings.from_env()
    end = START + timedelta(days=args.days - 1)
    t0 = time.perf_counter()
    spark = build_spark(settings, "bench-report-all")
    spark.range(1).count()  # the JVM is up
    startup = time.perf_counter() - t0
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    inputs = report_inputs(spark, settings, START, end)
    sessions, events = inputs.sessions.count(), inputs.events.count()
    steps["inputs (read, dedup, sessionize, persist)"] = time.perf_counter() - t0
    print(f"inputs: {events:,} events in {sessions:,} sessions "
          f"({steps['inputs (read, dedup, sessionize, persist)']:.1f} s)", flush=True)
    reports_root = LakePaths(settings.lake).reports
    for name in REPORTS:
        t0 = time.perf_counter()
        try:
            module = report_module(name)
        except ImportError as exc:  # a report being added elsewhere
            print(f"{name}: not importable ({exc}); skipped", flush=True)
            continue
        write_report(module.build(inputs), inputs, reports_root)
        steps[f"report {name}"] = time.perf_counter() - t0
        print(f"{name}: {steps[f'report {name}']:.1f} s", flush=True)
    spark.stop()

    total = sum(steps.values())
    print(f"\n{'step':<44} {'seconds':>8} {'share':>7}")
    for step, seconds in steps.items():
        print(f"{step:<44} {seconds:>8.1f} {seconds / total:>6.0%}")
    print(f"{'total (Spark start-up apart: ' + f'{startup:.1f} s)':<44} {total:>8.1f}")
    top = max(steps, key=steps.__getitem__)
    reports_sum = sum(v for k, v in steps.items() if k.startswith("report "))
    print(f"dominates: {top} ({steps[top] / total:.0%}); all reports together "
          f"{reports_sum:.1f} s; {events / total:,.0f} events/s overall "
          f"(load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
