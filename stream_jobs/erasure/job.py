"""Batch job: remove the people on the suppression list from the lake's events and sessions.

``python -m stream_jobs.erasure.job [--start D --end D]`` rewrites the Parquet files of
``events/`` and ``sessions/`` that hold a row of a listed person (:mod:`.suppression` says
which rows are theirs) and leaves every other file alone. Without dates it covers the whole
lake. ``stream_jobs.sessions.job`` calls :func:`run` first, so the nightly DAGs apply erasures
without a task of their own: the first run after a new ``clickloop forget`` covers the whole
lake, later runs only the dates they read (``<state_dir>/privacy/lake_applied.json`` holds the
keys already applied everywhere — keys, never ids).

Files are rewritten one by one rather than by partition overwrite: the streaming job keeps
moving new files into today's ``ingest=stream`` partition, and replacing the partition would
drop the files it moved in meanwhile. Each listed file is read, filtered, written to
``_staging/`` and its survivors moved in under new names before the original is deleted (a
crash in between leaves duplicate ``event_id`` s, which every reader deduplicates, and the next
run finds the file again). The audit log is not touched: ``clickloop forget`` wrote it.

``sessions_live/`` is the streaming job's own file sink (its ``_spark_metadata`` log lists the
files, so they cannot be rewritten behind its back); its rows are provisional and reports never
read them (docs/sessionization.md).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from tracker.erasure import Suppression, SuppressionList, privacy_dir
from tracker.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

MARGIN = timedelta(days=1)
EVERYTHING = (date(1900, 1, 1), date(9999, 12, 31))  # what "the whole lake" reads


def applied_path(state_dir: Path) -> Path:
    """The keys already applied to the whole lake."""
    return privacy_dir(state_dir) / "lake_applied.json"


def read_applied(state_dir: Path) -> set[str]:
    path = applied_path(state_dir)
    try:
        return set(json.loads(path.read_text(encoding="utf-8"))["keys"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()  # missing or unreadable: apply everything again (safe, only slower)


def write_applied(state_dir: Path, keys: set[str]) -> None:
    path = applied_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    scratch.write_text(json.dumps({"keys": sorted(keys)}), encoding="utf-8")
    os.replace(scratch, path)


@contextlib.contextmanager
def erasure_lock(state_dir: Path) -> Iterator[None]:
    """One erasure pass at a time on this host: ``web_logs`` and ``daily_reports`` can both
    reach ``sessionize`` at once, and two passes rewriting the same file would race. (Jobs on
    several hosts share a lake through an Airflow pool of one slot instead:
    docs/sessionization.md.)"""
    path = privacy_dir(state_dir) / "erasure.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, even on a crash
        yield


def local_path(uri: str) -> Path:
    """``input_file_name()`` (``file:///…``, percent-encoded) → a local path."""
    return Path(unquote(urlparse(uri).path))


def rewrite_files(spark: SparkSession, table: Path, schema: StructType, files: Sequence[str],
                  keep: Callable[[DataFrame], DataFrame], partitions: Sequence[str],
                  staging: Path) -> dict[str, int]:
    """Replace each of ``files`` (URIs under ``table``) by its rows that ``keep`` retains.

    ``keep``: DataFrame → DataFrame. Returns rows removed and files rewritten.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    if not files:
        return {"rows_removed": 0, "files_rewritten": 0}
    token = secrets.token_hex(6)
    stage = staging / f"erasure-{token}"
    originals = spark.read.schema(schema).option("basePath", str(table)).parquet(*files)
    counted = Observation("erasure")
    kept = keep(originals).observe(counted, F.count(F.lit(1)).alias("kept"))
    before = originals.count()
    kept.select(*schema.fieldNames()).write.mode("overwrite").partitionBy(*partitions) \
        .parquet(str(stage))
    after = int(counted.get["kept"])
    glob = "/".join(f"{p}=*" for p in partitions)
    for part_dir in sorted(stage.glob(glob)):
        target = table / part_dir.relative_to(stage)
        target.mkdir(parents=True, exist_ok=True)
        for n, source in enumerate(sorted(part_dir.glob("*.parquet"))):
            os.replace(source, target / f"part-erased-{token}-{n:05d}.snappy.parquet")
    for uri in files:
        path = local_path(uri)
        path.unlink(missing_ok=True)
        for folder in (path.parent, *path.parent.parents):  # partitions left empty
            if folder == table or not folder.is_relative_to(table):
                break
            if any(folder.iterdir()):
                break
            folder.rmdir()
    shutil.rmtree(stage, ignore_errors=True)
    return {"rows_removed": before - after, "files_rewritten": len(files)}


def erase_events(spark: SparkSession, settings: Settings, suppressed: DataFrame, start: date,
                 end: date) -> tuple[dict[str, int], list[str]]:
    """Rewrite the event files of ``[start, end]`` holding a listed person's events; returns
    the summary and the ids of the sessions attributed to a listed person."""
    from pyspark.sql import functions as F

    from stream_jobs.erasure.suppression import drop_listed, listed_rows
    from stream_jobs.lake import LakePaths, lake_event_schema, read_events
    from stream_jobs.sessions.rules import (
        assign_sessions,
        dedupe_events,
        event_rows,
        stitch_users,
        summarize_sessions,
    )

    lake = LakePaths(settings.lake)
    raw = read_events(spark, lake, start, end).withColumn("_file", F.input_file_name())
    direct = listed_rows(raw, suppressed).select("_file", "visitor_id").persist()
    try:
        if direct.isEmpty():  # the usual night: nobody listed is in these dates (one scan)
            return {"rows_removed": 0, "files_rewritten": 0}, []
        # attribution is per visitor: only the visitors with a listed id need sessionizing
        visitors = [(r.visitor_id,) for r in direct.where(F.col("visitor_id").isNotNull())
                    .select("visitor_id").distinct().collect()]
        direct_files = {r._file for r in direct.select("_file").distinct().collect()}
    finally:
        direct.unpersist()
    theirs = raw.join(F.broadcast(spark.createDataFrame(visitors, "visitor_id string")),
                      "visitor_id", "left_semi")
    assigned = assign_sessions(dedupe_events(event_rows(theirs)),
                               settings.spark.session_gap_minutes)
    sessions = stitch_users(summarize_sessions(assigned))
    gone_session_ids = [r.session_id for r in listed_rows(sessions, suppressed)
                        .select("session_id").distinct().collect()]
    gone_sessions = F.broadcast(spark.createDataFrame([(i,) for i in gone_session_ids],
                                                      "session_id string"))
    # the person's events that carry none of their ids: anonymous ones attributed to them
    gone_ids = [r.event_id for r in assigned.join(gone_sessions, "session_id", "left_semi")
                .select("event_id").distinct().collect()]
    gone = spark.createDataFrame([(i,) for i in gone_ids], "event_id string")
    files = sorted(direct_files | {
        r._file for r in theirs.join(F.broadcast(gone), "event_id", "left_semi")
        .select("_file").distinct().collect()})

    def keep(frame: DataFrame) -> DataFrame:
        return drop_listed(frame, suppressed).join(F.broadcast(gone), "event_id", "left_anti")

    return rewrite_files(spark, lake.events, lake_event_schema(), files, keep,
                         ("event_date", "ingest"), lake.staging), gone_session_ids


def erase_sessions(spark: SparkSession, settings: Settings, suppressed: DataFrame, start: date,
                   end: date, session_ids: Sequence[str] = ()) -> dict[str, int]:
    """Rewrite the files of ``sessions/`` (``[start, end]``) holding a listed person's sessions.

    Sessions carry the stitched user, so their own ids say whose they are; ``session_ids``
    (from :func:`erase_events`) also catches a session written before its user was known.
    """
    from pyspark.sql import functions as F

    from stream_jobs.erasure.suppression import drop_listed, listed_rows
    from stream_jobs.lake import LakePaths, read_sessions, session_schema

    lake = LakePaths(settings.lake)
    sessions = read_sessions(spark, lake.sessions, start, end).withColumn(
        "_file", F.input_file_name())
    gone = F.broadcast(spark.createDataFrame([(i,) for i in session_ids], "session_id string"))
    hit = listed_rows(sessions, suppressed).select("_file").unionByName(
        sessions.join(gone, "session_id", "left_semi").select("_file"))
    files = sorted(r._file for r in hit.distinct().collect())
    return rewrite_files(spark, lake.sessions, session_schema(), files,
                         lambda frame: drop_listed(frame, suppressed)
                         .join(gone, "session_id", "left_anti"),
                         ("session_date",), lake.staging)


def run(spark: SparkSession, settings: Settings, start: date | None = None,
        end: date | None = None, entries: list[Suppression] | None = None) -> dict[str, Any]:
    """Apply the suppression list to the lake; returns the JSON summary. ``entries``: the list
    as the caller already read it (default: read it here).

    The whole lake when ``start`` is None or when the list has keys not applied everywhere
    yet; else ``[start - 1 day, end + 1 day]`` (what ``sessionize`` reads).
    """

    if start is not None and end is not None and end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    if entries is None:
        entries = list(SuppressionList(settings.state_dir))
    keys = {e.key for e in entries}
    summary: dict[str, Any] = {"job": "apply_erasure", "suppressed_ids": len(keys),
                               "scope": None, "events": {}, "sessions": {}}
    if not keys:
        return summary
    with erasure_lock(settings.state_dir):
        return _apply(spark, settings, entries, keys, start, end, summary)


def _apply(spark: SparkSession, settings: Settings, entries: list[Suppression], keys: set[str],
           start: date | None, end: date | None, summary: dict[str, Any]) -> dict[str, Any]:
    from stream_jobs.erasure.suppression import suppression_frame

    # read under the lock: a pass that just finished may have applied these keys everywhere
    whole = start is None or end is None or bool(keys - read_applied(settings.state_dir))
    first, last = EVERYTHING if whole else (start - MARGIN, end + MARGIN)  # type: ignore[operator]
    summary["scope"] = "lake" if whole else f"{first.isoformat()}..{last.isoformat()}"
    suppressed = suppression_frame(spark, entries).persist()
    try:
        summary["events"], session_ids = erase_events(spark, settings, suppressed, first, last)
        summary["sessions"] = erase_sessions(spark, settings, suppressed, first, last,
                                             session_ids)
    finally:
        suppressed.unpersist()
    if whole:
        write_applied(settings.state_dir, keys)
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stream_jobs.erasure.job",
        description="Remove the people on the suppression list (clickloop forget) from the "
                    "lake's events and sessions.",
    )
    parser.add_argument("--start", type=date.fromisoformat, default=None,
                        help="first date (YYYY-MM-DD, UTC; default: the whole lake)")
    parser.add_argument("--end", type=date.fromisoformat, default=None,
                        help="last date, inclusive (needed with --start)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``python -m stream_jobs.erasure.job`` or spark-submit)."""
    from stream_jobs.spark_session import run_job

    args = build_parser().parse_args(argv)
    if (args.start is None) != (args.end is None):
        print("apply_erasure: give both --start and --end, or neither (whole lake)",
              file=sys.stderr)
        return 2
    if args.start is not None and args.end < args.start:
        print(f"apply_erasure: --end {args.end} is before --start {args.start}",
              file=sys.stderr)
        return 2
    settings = Settings.from_env()
    return run_job(settings, "clickloop-apply-erasure",
                   lambda spark: run(spark, settings, args.start, args.end))


if __name__ == "__main__":
    sys.exit(main())
