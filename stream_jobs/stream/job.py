"""Streaming job: Kafka topic → raw event lake + live sessions (+ rejects).

Two checkpointed queries read the topic:

- ``lake``: parse and check each record (:mod:`.kafka_records`), drop ``event_id`` duplicates seen
  within ``--dedup-minutes`` of processing time (client retries and spool replays arrive close
  together in processing time, however old their event time), then write each micro-batch
  idempotently (:mod:`stream_jobs.batch_files`) into ``events/event_date=…/ingest=stream/`` and the
  rejects into ``rejects/stream/``. Events late in *event* time are kept: the lake is complete.
- ``sessions_live``: ``session_window`` over event time with a ``--late-minutes`` watermark
  (:mod:`.live_sessions`); events behind the watermark are left out of
  live sessions and picked up by the nightly batch ``stream_jobs.sessions.job``.

Run ``python -m stream_jobs.stream.job`` (continuous) or with ``--available-now`` (process
what is in the topic, then exit: what the Airflow DAG does). The last line printed is a JSON
summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

from tracker.settings import Settings

QUERY_LAKE = "lake"
QUERY_LIVE = "sessions_live"


@dataclass(frozen=True)
class StreamOptions:
    """Everything the queries need besides the SparkSession (resolved from args + settings)."""

    bootstrap: str
    topic: str
    lake: Path
    checkpoints: Path
    gap_minutes: int = 30
    dedup_minutes: int = 60
    late_minutes: int = 30
    trigger_seconds: float = 10.0
    available_now: bool = False
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    fail_on_data_loss: bool = True
    live_sessions: bool = True


@dataclass
class BatchCounts:
    """Rows written by the lake query's micro-batches (this process only)."""

    batches: int = 0
    events: int = 0
    rejects: int = 0
    by_batch: dict[int, tuple[int, int]] = field(default_factory=dict)

    def record(self, batch_id: int, events: int, rejects: int) -> None:
        # a replayed batch replaces its earlier count, like its files
        self.by_batch[batch_id] = (events, rejects)
        self.batches = len(self.by_batch)
        self.events = sum(e for e, _ in self.by_batch.values())
        self.rejects = sum(r for _, r in self.by_batch.values())


def kafka_records(spark: SparkSession, options: StreamOptions) -> DataFrame:
    """The topic as a streaming DataFrame (Kafka source columns), without the records
    ``clickloop import`` published for the profiles: the import wrote those to the lake."""
    from pyspark.sql import functions as F

    from tracker.topic_headers import IMPORT_HEADER

    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", options.bootstrap)
              .option("subscribe", options.topic)
              .option("startingOffsets", options.starting_offsets)
              .option("failOnDataLoss", str(options.fail_on_data_loss).lower())
              .option("includeHeaders", "true"))
    if options.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(options.max_offsets_per_trigger))
    imported = F.exists(F.col("headers"), lambda h: h["key"] == F.lit(IMPORT_HEADER))
    return reader.load().where(~F.coalesce(imported, F.lit(False)))


def lake_batch_writer(lake: Path, counts: BatchCounts) -> Callable[[DataFrame, int], None]:
    """The ``foreachBatch`` function of the lake query (idempotent per batch id)."""
    from pyspark.sql import functions as F

    from stream_jobs.batch_files import write_batch
    from stream_jobs.lake import STREAM_INGEST, LakePaths, to_lake_columns, with_partition_columns
    from stream_jobs.stream.kafka_records import stream_rejects, valid_events

    paths = LakePaths(lake)

    def write(batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            events = to_lake_columns(
                with_partition_columns(valid_events(batch), F.lit(STREAM_INGEST))
            ).drop("ingest")
            rejects = stream_rejects(batch)
            stats = {row["ok"]: row["count"] for row in
                     batch.groupBy(F.col("reason").isNull().alias("ok")).count().collect()}
            n_events, n_rejects = stats.get(True, 0), stats.get(False, 0)
            if n_events:
                write_batch(events, batch_id=batch_id, staging=paths.staging / "stream-events",
                            table=paths.events, partition_column="event_date",
                            leaf=f"ingest={STREAM_INGEST}")
            if n_rejects:
                write_batch(rejects, batch_id=batch_id, staging=paths.staging / "stream-rejects",
                            table=paths.stream_rejects, partition_column="seen_date", fmt="json")
            counts.record(batch_id, n_events, n_rejects)
        finally:
            batch.unpersist()

    return write


def start_queries(spark: SparkSession, options: StreamOptions, counts: BatchCounts
                  ) -> list[StreamingQuery]:
    """Start the lake query (and the live sessions query); returns the running queries."""
    from pyspark.sql import functions as F

    from stream_jobs.lake import STREAM_INGEST, LakePaths
    from stream_jobs.sessions.rules import event_rows
    from stream_jobs.stream.kafka_records import deduplicated, parse_records, valid_events
    from stream_jobs.stream.live_sessions import live_sessions

    paths = LakePaths(options.lake)
    parsed = parse_records(kafka_records(spark, options))

    def trigger(writer: DataStreamWriter) -> DataStreamWriter:
        if options.available_now:
            return writer.trigger(availableNow=True)
        return writer.trigger(processingTime=f"{options.trigger_seconds} seconds")

    lake_query = trigger(
        deduplicated(parsed, options.dedup_minutes).writeStream
        .queryName(QUERY_LAKE)
        .option("checkpointLocation", str(options.checkpoints / QUERY_LAKE))
        .foreachBatch(lake_batch_writer(options.lake, counts))
    ).start()
    queries = [lake_query]
    if options.live_sessions:
        rows = (event_rows(valid_events(parsed).withColumn("ingest", F.lit(STREAM_INGEST)))
                .withWatermark("ts", f"{int(options.late_minutes)} minutes")
                .dropDuplicatesWithinWatermark(["event_id"]))
        live_query = trigger(
            live_sessions(rows, options.gap_minutes).writeStream
            .queryName(QUERY_LIVE)
            .outputMode("append")
            .format("parquet")
            .partitionBy("session_date")
            .option("checkpointLocation", str(options.checkpoints / QUERY_LIVE))
            .option("path", str(paths.sessions_live))
        ).start()
        queries.append(live_query)
    return queries


def summary(queries: list[StreamingQuery], counts: BatchCounts) -> dict[str, Any]:
    """The job's JSON summary: rows read and written by this run."""
    read = 0
    for query in queries:
        if query.name == QUERY_LAKE:
            read = sum(p.get("numInputRows", 0) for p in query.recentProgress)
    return {"job": "stream_events", "records_read": read, "batches": counts.batches,
            "events_written": counts.events, "rejects": counts.rejects}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stream_jobs.stream.job",
        description="Stream the events topic into the lake and live sessions.",
    )
    parser.add_argument("--available-now", action="store_true",
                        help="process everything in the topic now, then exit")
    parser.add_argument("--trigger-seconds", type=float, default=10.0,
                        help="micro-batch interval when running continuously")
    parser.add_argument("--starting-offsets", choices=("earliest", "latest"),
                        default="earliest", help="where a new checkpoint starts reading")
    parser.add_argument("--max-offsets-per-trigger", type=int, default=None)
    parser.add_argument("--dedup-minutes", type=int, default=60,
                        help="how long an event_id is remembered for deduplication")
    parser.add_argument("--late-minutes", type=int, default=30,
                        help="watermark delay of live sessions (event time)")
    parser.add_argument("--gap-minutes", type=int, default=None,
                        help="session inactivity gap (default: CLICKLOOP_SESSION_GAP_MINUTES)")
    parser.add_argument("--topic", default=None, help="default: CLICKLOOP_KAFKA_TOPIC")
    parser.add_argument("--bootstrap", default=None, help="default: CLICKLOOP_KAFKA_BOOTSTRAP")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="default: <state_dir>/checkpoints")
    parser.add_argument("--no-live-sessions", action="store_true",
                        help="write the lake only")
    parser.add_argument("--allow-data-loss", action="store_true",
                        help="continue when Kafka has deleted offsets we had not read yet")
    return parser


def options_from(args: argparse.Namespace, settings: Settings) -> StreamOptions:
    """Resolve command-line arguments against settings (arguments win)."""
    bootstrap = args.bootstrap
    if not bootstrap:
        from embedded import kafka_broker

        # the configured cluster, else the embedded broker (started if it is not running)
        bootstrap = kafka_broker.ensure_kafka(settings)
    return StreamOptions(
        bootstrap=bootstrap,
        topic=args.topic or settings.kafka.topic,
        lake=settings.lake,
        checkpoints=args.checkpoint_dir or settings.state_dir / "checkpoints",
        gap_minutes=args.gap_minutes or settings.spark.session_gap_minutes,
        dedup_minutes=args.dedup_minutes,
        late_minutes=args.late_minutes,
        trigger_seconds=args.trigger_seconds,
        available_now=args.available_now,
        starting_offsets=args.starting_offsets,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        fail_on_data_loss=not args.allow_data_loss,
        live_sessions=not args.no_live_sessions,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``python -m stream_jobs.stream.job`` or spark-submit)."""
    from stream_jobs.spark_session import build_spark, launched_by_spark_submit

    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        options = options_from(args, settings)
    except (RuntimeError, OSError) as exc:
        print(f"stream_events: {exc}", file=sys.stderr)
        return 2
    spark = build_spark(settings, "clickloop-stream-events",
                        under_spark_submit=launched_by_spark_submit(os.environ))
    counts = BatchCounts()
    queries = start_queries(spark, options, counts)
    try:
        if options.available_now:
            for query in queries:
                query.awaitTermination()
        else:
            spark.streams.awaitAnyTermination()
    except KeyboardInterrupt:
        for query in queries:
            query.stop()
    failed = [q for q in queries if q.exception() is not None]
    for query in failed:
        print(f"stream_events: query {query.name} failed: {query.exception()}", file=sys.stderr)
    print(json.dumps(summary(queries, counts)), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
