"""Benchmark: what the erasure suppression list costs the nightly ``sessionize`` run.

    .venv/bin/python bench/erasure_overhead.py [--events 400000] [--work DIR]

A generated lake of ``--events`` events over 7 days (visitors with sessions of page views, a
fifth of them identifying) is sessionized for one day three times, in one Spark session
(``local[2]``), side by side:

1. reference: an empty suppression list (the run as it was before erasure existed);
2. right after ``forget`` of a user and their visitor id: the whole-lake erasure pass (the person's
   files rewritten) plus the day's sessions with the list applied;
3. the next night: the list is applied to the dates read only.

Printed: wall seconds of each and the ratio to the reference, and the rows removed (which must
be the forgotten people's rows, checked before any figure is printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY = date(2024, 3, 4)


def generate(spark, events: int):
    """Lake-shaped events: 8 per session, sessions spread over 2024-03-01..07."""
    from pyspark.sql import functions as F

    from stream_jobs.lake import lake_event_schema

    schema = lake_event_schema()
    base = spark.range(events).select(
        F.col("id"),
        (F.col("id") / 8).cast("long").alias("sid"),
        (F.col("id") % 8).alias("n"),
    )
    visitor = F.concat(F.lit("v"), (F.abs(F.hash(F.col("sid") * 7919)) % (events // 40))
                       .cast("string"))
    ts = (F.timestamp_seconds(F.lit(1709251200) + F.abs(F.hash("sid")) % (7 * 86400)
                              + F.col("n") * 60))
    identifies = (F.col("n") == 7) & (F.abs(F.hash(F.col("sid") * 3)) % 5 == 0)
    frame = base.select(
        F.lit(1).cast("long").alias("schema_version"),
        F.expr("uuid()").alias("event_id"),
        F.when(identifies, F.lit("identify")).otherwise(F.lit("page_view")).alias("event_type"),
        ts.alias("client_ts"),
        visitor.alias("visitor_id"),
        F.when(identifies, F.concat(F.lit("u"), visitor)).alias("user_id"),
        F.concat(F.lit("https://shop.example/p"), F.col("n").cast("string")).alias("url"),
        F.struct(ts.alias("collector_ts"), ts.alias("derived_ts"), F.lit("js").alias("source"),
                 F.lit("shop.example").alias("site")).alias("enrichment"),
    )
    # every other lake column null, in the lake's order and types
    columns = []
    for field in schema.fields:
        if field.name in frame.columns and field.name != "enrichment":
            columns.append(F.col(field.name).cast(field.dataType).alias(field.name))
        elif field.name == "enrichment":
            enrichment = field.dataType
            columns.append(F.struct(*[
                (F.col(f"enrichment.{f.name}") if f.name in ("collector_ts", "derived_ts",
                                                               "source", "site")
                 else F.lit(None)).cast(f.dataType).alias(f.name)
                for f in enrichment.fields]).alias("enrichment"))
        elif field.name == "event_date":
            columns.append(F.to_date("client_ts").alias("event_date"))
        elif field.name == "ingest":
            columns.append(F.lit("stream").alias("ingest"))
        else:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
    return frame.select(*columns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv)

    from stream_jobs.lake import LakePaths, write_events
    from stream_jobs.sessions.job import run as sessionize
    from stream_jobs.spark_session import build_spark
    from tracker.erasure import SuppressionList
    from tracker.settings import Settings

    work = args.work or Path(tempfile.mkdtemp(prefix="clickloop-erasure-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    settings = dataclasses.replace(
        Settings.from_env({**os.environ, "CLICKLOOP_SPARK_MASTER": "local[2]",
                           "CLICKLOOP_SPARK_SHUFFLE_PARTITIONS": "4"}),
        state_dir=work / "state", lake_dir=work / "lake")
    spark = build_spark(settings, "clickloop-erasure-bench",
                        extra={"spark.ui.showConsoleProgress": "false"})
    try:
        lake = LakePaths(settings.lake)
        write_events(generate(spark, args.events), lake)
        events = spark.read.parquet(str(lake.events))
        total = events.count()
        victim = events.where("user_id is not null").orderBy("event_id").first()
        person = f"visitor_id = '{victim.visitor_id}' or user_id = '{victim.user_id}'"
        theirs = events.where(person).count()

        sessionize(spark, settings, DAY, DAY)  # warm-up (JIT, caches), not timed
        timings = {}
        start = time.perf_counter()
        sessionize(spark, settings, DAY, DAY)
        timings["reference (empty list)"] = time.perf_counter() - start

        SuppressionList(settings.state_dir).add("user", victim.user_id)
        SuppressionList(settings.state_dir).add("visitor", victim.visitor_id)
        start = time.perf_counter()
        first = sessionize(spark, settings, DAY, DAY)
        timings["after forget (whole lake)"] = time.perf_counter() - start
        start = time.perf_counter()
        second = sessionize(spark, settings, DAY, DAY)
        timings["next night (dates read)"] = time.perf_counter() - start

        left = spark.read.parquet(str(lake.events)).where(person).count()
        removed = first["erasure"]["events"]["rows_removed"]
        if left or removed != theirs or second["erasure"]["events"]["rows_removed"]:
            print(f"erasure incomplete: {left} rows left, {removed} removed of {theirs}",
                  file=sys.stderr)
            return 1
        reference = timings["reference (empty list)"]
        print(f"lake: {total} events; forgotten: a user and their visitor, {removed} rows, "
              f"{first['erasure']['events']['files_rewritten']} files rewritten")
        for name, seconds in timings.items():
            print(f"{name:28s} {seconds:7.2f} s   ratio {seconds / reference:5.2f}")
        print(json.dumps({k: round(v, 2) for k, v in timings.items()}))
    finally:
        spark.stop()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
