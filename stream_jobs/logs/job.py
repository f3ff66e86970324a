"""Batch job: web server access logs → ``page_view`` events in the event lake.

``python -m stream_jobs.logs.job access.log.1 access.log.2.gz --site https://shop.example``

Per file: the format is detected from its first lines (or forced with ``--format``), every line
is numbered, parsed and classified (:mod:`.parsing`), page requests are enriched with the
collector's functions (:mod:`.enrich_requests`) and written to
``events/event_date=…/ingest=log-<hash>/``, rejected lines to ``rejects/logs/ingest=log-<hash>/``
with file name, line number and reason. ``<hash>`` comes from the file's name and content, and
event ids from the content hash and line number, so parsing the same file again replaces exactly
what the previous run wrote. The last line printed is a JSON summary with the counts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession

from stream_jobs.logs.formats import FORMAT_CHOICES
from stream_jobs.logs.input_files import LogFile, LogInputError, Site, prepare_files
from stream_jobs.logs.parsing import LogRules
from tracker.erasure import SuppressionList
from tracker.settings import Settings

# the clock may run ahead of the server's a little; more than this is a broken timestamp
FUTURE_SLACK = timedelta(days=1)


def read_lines(spark: SparkSession, files: Sequence[LogFile]) -> DataFrame:
    """All lines of ``files`` with ``file_index``, the split they were read in and a row id."""
    from functools import reduce

    from pyspark.sql import functions as F

    frames = [
        spark.read.text(f.path).select(
            F.lit(f.index).alias("file_index"),
            F.col("_metadata.file_block_start").alias("block"),
            F.monotonically_increasing_id().alias("rid"),
            "value",
        )
        for f in files
    ]
    return reduce(lambda a, b: a.unionByName(b), frames)


def classified_requests(spark: SparkSession, files: Sequence[LogFile], rules: LogRules,
                        site: Site, now: datetime) -> DataFrame:
    """Every line, parsed and classified, slimmed to what later steps need.

    Lines are not numbered yet (that needs the line count of each split, which the counting
    pass gives for free: :func:`count_lines`); ``block`` and ``rid`` locate them.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    from stream_jobs.logs.formats import JSON_FORMATS, TEXT_FORMATS
    from stream_jobs.logs.parsing import PAGE, REJECT, classify, page_url, parse_lines

    frames = []
    groups: dict[tuple[Any, str], list[LogFile]] = {}
    for f in files:
        parser = f.parser or JSON_FORMATS.get(f.format) or TEXT_FORMATS[f.format]
        groups.setdefault((parser, f.encoding), []).append(f)
    for (parser, encoding), members in groups.items():  # each file is read once
        frames.append(classify(parse_lines(read_lines(spark, members), parser, encoding),
                               rules, now, members[0].format))
    classified = reduce(lambda a, b: a.unionByName(b), frames)
    is_page = F.col("category") == PAGE
    host = F.coalesce(F.col("vhost"), F.lit(site.host))
    scheme = (F.when(F.col("port") == "443", F.lit("https"))
              .when(F.col("port") == "80", F.lit("http")).otherwise(F.lit(site.scheme)))

    def page_only(name: str) -> Column:
        return F.when(is_page, F.col(name)).alias(name)

    return classified.select(
        "file_index", "block", "rid", "category", "reason",
        F.when(F.col("category") == REJECT, F.col("value")).alias("value"),
        page_only("ts"), page_only("ip"), page_only("status"), page_only("referrer"),
        page_only("user_agent"),
        F.when(is_page, page_url(scheme, host, F.col("uri"))).alias("url"),
        F.when(is_page, host).alias("site"),
        F.coalesce(F.when(is_page, F.col("user_agent")), F.lit("")).alias("ua_key"),
    )


def count_lines(slim: DataFrame, files: Sequence[LogFile]
                ) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]],
                           list[tuple[int, int, int, int]]]:
    """One pass over the classified lines: per file the lines per category and the rejects
    per reason, and per split ``(file_index, block, lines, first rid)`` for numbering."""
    from pyspark.sql import functions as F

    counts: dict[int, dict[str, int]] = {f.index: {} for f in files}
    reasons: dict[int, dict[str, int]] = {f.index: {} for f in files}
    splits: dict[tuple[int, int], list[int]] = {}
    for row in (slim.groupBy("file_index", "block", "category", "reason")
                .agg(F.count(F.lit(1)).alias("n"), F.min("rid").alias("first_rid")).collect()):
        per_file = counts[row["file_index"]]
        per_file[row["category"]] = per_file.get(row["category"], 0) + row["n"]
        if row["reason"] is not None:
            per_reason = reasons[row["file_index"]]
            per_reason[row["reason"]] = per_reason.get(row["reason"], 0) + row["n"]
        split = splits.setdefault((row["file_index"], row["block"]), [0, row["first_rid"]])
        split[0] += row["n"]
        split[1] = min(split[1], row["first_rid"])
    stats = [(fi, block, n, first) for (fi, block), (n, first) in splits.items()]
    return counts, reasons, stats


def numbered(spark: SparkSession, slim: DataFrame, files: Sequence[LogFile],
             stats: list[tuple[int, int, int, int]]) -> DataFrame:
    """``slim`` with ``line_no`` (1-based, per file) and the file's name, hash and ingest."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from stream_jobs.logs.parsing import number_lines, split_offsets

    offsets = literal_table(spark, split_offsets(stats), T.StructType([
        T.StructField("file_index", T.IntegerType()), T.StructField("block", T.LongType()),
        T.StructField("first_rid", T.LongType()), T.StructField("first_line", T.LongType()),
    ]))
    info = literal_table(
        spark, [(f.index, f.name, f.content_sha256, f.ingest) for f in files],
        T.StructType([T.StructField("file_index", T.IntegerType()),
                      *[T.StructField(name, T.StringType())
                        for name in ("file_name", "content_sha256", "ingest")]]),
    )
    return number_lines(slim, offsets).join(F.broadcast(info), "file_index")


def literal_table(spark: SparkSession, rows: Sequence[tuple[Any, ...]], schema: Any) -> DataFrame:
    """A small table (a few rows per file) built from literals inside the JVM.

    ``spark.createDataFrame(rows)`` would ship pickled rows through Python worker processes,
    which a short parse otherwise never starts (~1 s of a 10,000-line run).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    structs = [F.struct(*[F.lit(value).cast(field.dataType).alias(field.name)
                          for value, field in zip(row, schema.fields, strict=True)])
               for row in rows]
    array = F.array(*structs) if structs else F.array().cast(T.ArrayType(schema))
    return spark.range(1).select(F.inline(array))


def write_log_events(spark: SparkSession, settings: Settings, events: DataFrame,
                     files: Sequence[LogFile]) -> int:
    """Write the files' events, without the people on the suppression list, into their own
    ``ingest`` partitions, and remove the partitions of theirs this run did not write; returns
    the number of events written."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from stream_jobs.erasure.suppression import drop_listed, suppression_frame
    from stream_jobs.lake import LakePaths, write_events

    lake = LakePaths(settings.lake)
    written = Observation("log_events")
    entries = list(SuppressionList(settings.state_dir))
    if entries:  # people who asked to be forgotten (clickloop forget) are not written
        events = drop_listed(events, suppression_frame(spark, entries))
    # (ingest, day) pairs collected as structs, turned into text once: a string per event
    # would format its date
    events = events.observe(
        written, F.count(F.lit(1)).alias("n"),
        F.to_json(F.collect_set(F.struct("ingest", "event_date"))).alias("partitions"),
    )
    # one file per (day, ingest) partition, written by the task that holds it, rather than
    # one per task and partition
    write_events(events, lake)
    metrics = written.get
    _remove_stale_partitions(lake.events, files, {
        (p["ingest"], p["event_date"]) for p in json.loads(metrics["partitions"] or "[]")
    })
    return metrics["n"]


def write_log_rejects(lines: DataFrame, settings: Settings, files: Sequence[LogFile],
                      counts: dict[int, dict[str, int]]) -> None:
    """Replace the files' rejected lines in ``rejects/logs/`` (addresses masked)."""
    from stream_jobs.lake import LakePaths
    from stream_jobs.logs.parsing import log_rejects

    lake = LakePaths(settings.lake)
    for f in files:  # a re-run with fewer rejects must not keep the old ones
        shutil.rmtree(lake.log_rejects / f"ingest={f.ingest}", ignore_errors=True)
    if any(c.get("reject") for c in counts.values()):
        (log_rejects(lines, settings.collector.ipv4_prefix).coalesce(1)
         .write.mode("append").partitionBy("ingest").json(str(lake.log_rejects)))


def run(spark: SparkSession, settings: Settings, files: Sequence[LogFile], *,
        rules: LogRules | None = None, site: Site | None = None,
        now: datetime | None = None, progress: Any = None,
        lookup_limit: int | None = None) -> dict[str, Any]:
    """Parse ``files`` (from :func:`prepare_files`) into the lake; returns the JSON summary.

    Passes: read, classify and count every line (kept in memory); collect the page views'
    distinct user agents, addresses and (URL, referrer) pairs and enrich them on the driver
    (when there are at most ``lookup_limit``, default
    :data:`~stream_jobs.logs.enrich_requests.DRIVER_LOOKUP_LIMIT`; else pandas UDFs enrich
    them on the executors while writing); write the enriched page views; write the rejects
    (when there are any). ``progress``: a :class:`~stream_jobs.logs.progress.Progress` told
    of each step.
    """
    import time

    from pyspark import StorageLevel
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from stream_jobs.logs.enrich_requests import DRIVER_LOOKUP_LIMIT, enrich_pages, lookups
    from stream_jobs.logs.parsing import PAGE, REJECT, log_events
    from tracker.contract.spark import event_struct

    lookup_limit = DRIVER_LOOKUP_LIMIT if lookup_limit is None else lookup_limit
    rules = rules or LogRules()
    site = site or Site()
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    collector = settings.collector
    if any(f.encoding for f in files):  # decode() with any Java charset, not only UTF-*
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    slim = classified_requests(spark, files, rules, site, now + FUTURE_SLACK)
    slim = slim.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        if progress:
            progress.step("reading", files)
        counts, reasons, stats = count_lines(slim, files)
        timings = {"read_parse_count_s": time.perf_counter() - started}
        read = sum(sum(c.values()) for c in counts.values())
        if progress:  # its own step: a scan of every line, quick, that writing must not count
            progress.step("enriching", files, read)
        tables = lookups(spark, slim.where(F.col("category") == PAGE), collector.geoip_db,
                         collector.ipv4_prefix, collector.ipv6_prefix, lookup_limit)
        if progress:
            progress.step("writing", files, read)
        lines = numbered(spark, slim, files, stats)
        enriched = enrich_pages(lines.where(F.col("category") == PAGE), tables)
        bots = Observation("log_bots")
        is_bot = F.coalesce(F.col("ua.is_bot"), F.lit(False))
        enriched = enriched.observe(bots, F.lit(0).alias("none"), *[
            F.sum(F.when(is_bot & (F.col("file_index") == f.index), 1).otherwise(0))
            .alias(f"f{f.index}") for f in files])
        if rules.drop_bots:
            enriched = enriched.where(~is_bot)
        written = write_log_events(spark, settings, log_events(enriched, event_struct()), files)
        for f in files:
            counts[f.index]["bots"] = bots.get.get(f"f{f.index}") or 0
        timings["enrich_write_events_s"] = time.perf_counter() - started - sum(timings.values())
        write_log_rejects(lines.where(F.col("category") == REJECT), settings, files, counts)
        timings["write_rejects_s"] = time.perf_counter() - started - sum(timings.values())
    finally:
        slim.unpersist()
    summary = _summary(files, counts, reasons, written, rules)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return summary


def _remove_stale_partitions(events_dir: Path, files: Sequence[LogFile],
                             keep: set[tuple[str, ...]]) -> None:
    """Drop partitions of these files' ingests that this run did not write (dates that no
    longer have events, e.g. after a re-run with ``--drop-bots``). ``keep``: (ingest, date)."""
    for f in files:
        for folder in events_dir.glob(f"event_date=*/ingest={f.ingest}"):
            day = folder.parent.name.removeprefix("event_date=")
            if (f.ingest, day) not in keep:
                shutil.rmtree(folder, ignore_errors=True)


def _summary(files: Sequence[LogFile], counts: dict[int, dict[str, int]],
             reasons: dict[int, dict[str, int]], written: int, rules: LogRules
             ) -> dict[str, Any]:
    per_file = []
    for f in files:
        c = counts[f.index]
        per_file.append({
            "file": f.path, "format": f.format, "ingest": f.ingest,
            "lines": sum(v for k, v in c.items() if k != "bots"),
            "page_views": c.get("page", 0), "static": c.get("static", 0),
            "filtered": c.get("filtered", 0), "bots": c.get("bots", 0),
            "rejects": c.get("reject", 0), "reject_reasons": dict(sorted(
                reasons[f.index].items(), key=lambda kv: -kv[1])),
        })
    totals = {key: sum(p[key] for p in per_file)
              for key in ("lines", "page_views", "static", "filtered", "bots", "rejects")}
    all_reasons: dict[str, int] = {}
    for p in per_file:
        for reason, n in p["reject_reasons"].items():
            all_reasons[reason] = all_reasons.get(reason, 0) + n
    return {"job": "parse_logs", **totals, "reject_reasons": all_reasons,
            "events_written": written, "bots_dropped": rules.drop_bots, "files": per_file}


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``python -m stream_jobs.logs.job`` and ``clickloop logs parse``."""
    defaults = LogRules()
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="access logs (plain, .gz or .bz2)")
    parser.add_argument("--format", choices=FORMAT_CHOICES, default="auto",
                        help="log format (default: detected per file from its first lines)")
    parser.add_argument("--format-regex", metavar="REGEX",
                        help="your own line pattern with named groups: ip, time (or epoch), "
                             "status, request (or method and uri), optional referrer, "
                             "user_agent, vhost, port, bytes (see docs/logs.md)")
    parser.add_argument("--date-format", metavar="PATTERN",
                        help="time stamp pattern, strftime (%%d/%%b/%%Y:%%H:%%M:%%S %%z) or "
                             "Java (dd/MMM/yyyy:HH:mm:ss Z), tried before the format's own")
    parser.add_argument("--encoding", default="",
                        help="the files' text encoding when not UTF-8 (e.g. big5, cp1252); "
                             "default: UTF-8, and Latin-1 for a line that is not UTF-8")
    parser.add_argument("--site", type=Site.parse, default=Site(),
                        help="site the logs belong to, e.g. https://shop.example (page URLs "
                             "and internal referrers); vhost formats use the logged host")
    parser.add_argument("--drop-bots", action="store_true",
                        help="leave bot page views out of the lake (default: keep, flagged)")
    parser.add_argument("--page-extensions", type=_csv, default=defaults.page_extensions,
                        help="extensions that are pages; any other extension is static "
                             f"(default: {','.join(defaults.page_extensions)})")
    parser.add_argument("--page-methods", type=_csv, default=defaults.page_methods,
                        help=f"methods of page views (default: {','.join(defaults.page_methods)})")
    parser.add_argument("--page-statuses", default=defaults.page_statuses,
                        type=lambda t: tuple(int(s) for s in _csv(t)),
                        help="statuses of page views (default: 200,304)")
    parser.add_argument("--redirects", action="store_true",
                        help="count redirects (301, 302, 303, 307, 308) as page views too")
    parser.add_argument("--max-line-bytes", type=int, default=defaults.max_line_bytes,
                        help="longer lines are rejected")


def rules_from(args: argparse.Namespace) -> LogRules:
    return LogRules(
        page_extensions=tuple(e.lower().lstrip(".") for e in args.page_extensions),
        page_methods=tuple(m.upper() for m in args.page_methods),
        page_statuses=tuple(args.page_statuses),
        redirects=args.redirects,
        max_line_bytes=args.max_line_bytes,
        drop_bots=args.drop_bots,
    )


def prepare_from(args: argparse.Namespace) -> list[LogFile]:
    """:func:`prepare_files` with the command line's format options."""
    return prepare_files(args.files, args.format, format_regex=args.format_regex,
                         date_format=args.date_format, encoding=args.encoding)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``python -m stream_jobs.logs.job`` or spark-submit)."""
    from stream_jobs.spark_session import run_job

    parser = argparse.ArgumentParser(prog="stream_jobs.logs.job",
                                     description="Parse web server access logs into the lake.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:  # fail on unusable input before paying for Spark
        files = prepare_from(args)
    except LogInputError as exc:
        print(f"parse_logs: {exc}", file=sys.stderr)
        return 2
    return run_job(settings, "clickloop-parse-logs",
                   lambda spark: run(spark, settings, files, rules=rules_from(args),
                                     site=args.site))


if __name__ == "__main__":
    sys.exit(main())
