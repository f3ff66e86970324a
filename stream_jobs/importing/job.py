"""Batch job: an import file -> ``<lake>/events/event_date=…/ingest=import-<hash>/``.

``python -m stream_jobs.importing.job orders|events FILE [--mapping FILE] [--rejects FILE]``.
The file is read and checked on the driver (:mod:`.reading`); the accepted events go through a
staging JSON-lines file into Spark with the contract's schema, minus the people on the erasure
suppression list, and replace exactly this import's partitions (partitions of it that this run
did not write are removed), so importing the same file again changes nothing. Rejected rows go
to ``<lake>/rejects/imports/ingest=import-<hash>/rejects.jsonl`` (line, reason, text) and, with
``--rejects``, to that file too.

Then, so the personalization profiles hold the history too (segments such as ``lapsed`` from
the start), the same events go to the events topic with the ``clickloop-import`` header
(:mod:`.publish`): by default when a broker is configured or running, always with
``--profiles``, never with ``--no-profiles``. The workers skip event ids they have applied, so
this part is idempotent as well; a failure to publish exits 1 and says what failed. The last
line printed is a JSON summary (``published``: events the broker acknowledged).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from stream_jobs.importing.orders import Reject

KINDS = ("orders", "events", "costs")


@dataclass(frozen=True)
class ReadImport:
    """What the driver read: the events to write, the rejects, and the import's name."""

    kind: str
    path: Path
    ingest: str
    rows: int
    events: list[dict[str, Any]]
    rejects: list[Reject]


def read_import(kind: str, path: Path, mapping_file: Path | None = None, *,
                progress: bool = True) -> ReadImport:
    """Read and check ``path`` (raises ImportFileError/MappingError before any Spark work)."""
    from stream_jobs.importing import reading

    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}; known: {', '.join(KINDS)}")
    if not path.is_file():
        raise reading.ImportFileError(f"{path}: no such file")
    try:
        return _read(kind, path, mapping_file, progress)
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt gzip, a bad disk
        raise reading.ImportFileError(f"{path}: cannot read: {exc}") from exc


def _read(kind: str, path: Path, mapping_file: Path | None, progress: bool) -> ReadImport:
    from stream_jobs.importing import reading
    from stream_jobs.importing.mapping import load_mapping

    callback = reading.stderr_progress(f"import {kind}") if progress else None
    sha = reading.content_sha256(path)
    if kind == "costs":
        from stream_jobs.importing.costs import read_costs

        events, rejects, rows = read_costs(path)
        ingest = reading.ingest_name(kind, sha)
    elif kind == "orders":
        mapping = load_mapping(mapping_file)
        events, rejects, rows = reading.read_orders(path, mapping, callback)
        ingest = reading.ingest_name(kind, sha, mapping)
    else:
        events, rejects, rows = reading.read_events(path, callback)
        ingest = reading.ingest_name(kind, sha)
    return ReadImport(kind, path, ingest, rows, events, rejects)


def rejects_path(settings: Settings, ingest: str) -> Path:
    return settings.lake / "rejects" / "imports" / f"ingest={ingest}" / "rejects.jsonl"


def write_rejects(read: ReadImport, settings: Settings, copy_to: Path | None) -> Path:
    """Replace this import's rejects file (an empty file when nothing was rejected)."""
    target = rejects_path(settings, read.ingest)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        for reject in read.rejects:
            handle.write(json.dumps({"file": read.path.name, **reject.record()},
                                    ensure_ascii=False) + "\n")
    if copy_to is not None:
        copy_to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, copy_to)
    return target


def write_lake_events(spark: SparkSession, settings: Settings, read: ReadImport) -> int:
    """Write the events into this import's partitions; returns how many were written."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from stream_jobs.erasure.suppression import drop_listed, suppression_frame
    from stream_jobs.lake import LakePaths, with_partition_columns, write_events
    from tracker.contract.spark import event_struct
    from tracker.erasure import SuppressionList

    lake = LakePaths(settings.lake)
    lake.staging.mkdir(parents=True, exist_ok=True)
    staging = lake.staging / f"{read.ingest}-{os.getpid()}.jsonl"
    try:
        with staging.open("w", encoding="utf-8") as handle:
            for event in read.events:
                handle.write(json.dumps(event, ensure_ascii=False) + "\n")
        events = spark.read.schema(event_struct()).option("mode", "FAILFAST").json(str(staging))
        events = with_partition_columns(events, F.lit(read.ingest))
        entries = list(SuppressionList(settings.state_dir))
        if entries:  # people who asked to be forgotten are not imported again
            events = drop_listed(events, suppression_frame(spark, entries))
        written = Observation("import_events")
        events = events.observe(written, F.count(F.lit(1)).alias("n"))
        # this import's old partitions go first: dates it no longer has must not linger
        _remove_partitions(lake.events, read.ingest)
        if not read.events:
            return 0
        write_events(events, lake)
        return int(written.get["n"])
    finally:
        staging.unlink(missing_ok=True)


def costs_dir(settings: Settings) -> Path:
    return settings.lake / "costs"


def write_costs(settings: Settings, read: ReadImport) -> int:
    """``<lake>/costs/<ingest>.parquet`` (campaign, date, cost, imported_at); replaces the same
    import's file. Readers take the latest ``imported_at`` per (campaign, date)."""
    from datetime import UTC, datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = costs_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    table = pa.Table.from_pylist(
        [{**row, "imported_at": now} for row in read.events],
        schema=pa.schema([("campaign", pa.string()), ("date", pa.date32()),
                          ("cost", pa.float64()), ("imported_at", pa.timestamp("us", "UTC"))]))
    scratch = folder / f"_{read.ingest}.parquet"
    pq.write_table(table, scratch)
    scratch.replace(folder / f"{read.ingest}.parquet")  # readers never see half a file
    return table.num_rows


def _remove_partitions(events_dir: Path, ingest: str) -> None:
    """Drop every partition of this import."""
    for folder in events_dir.glob(f"event_date=*/ingest={ingest}"):
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class ProfilesTarget:
    """Where imported events go to reach the personalization profiles: the events topic."""

    bootstrap: str
    topic: str


class ProfilesError(RuntimeError):
    """The lake has the import but the profiles did not get it (no broker, a failed produce)."""


def profiles_target(settings: Settings, wanted: bool | None) -> tuple[ProfilesTarget | None, str]:
    """Whether (and where) to publish for the profiles, and a word on why.

    ``wanted`` is ``--profiles`` (True: the configured cluster, else the embedded broker,
    started if need be), ``--no-profiles`` (False) or neither (None: the configured cluster,
    else the embedded broker if it runs; with no broker at all there is no worker to feed).
    """
    from embedded import kafka_broker

    topic = settings.kafka.topic
    if wanted is False:
        return None, "skipped (--no-profiles)"
    if settings.kafka.bootstrap:
        return ProfilesTarget(settings.kafka.bootstrap, topic), "published"
    if wanted:
        try:
            return ProfilesTarget(kafka_broker.ensure_kafka(settings), topic), "published"
        except Exception as exc:  # the broker's own words: no Java, a port taken, …
            raise ProfilesError(f"cannot start the embedded Kafka broker: {exc}") from exc
    status = kafka_broker.status(settings)
    if status.running and status.bootstrap:
        return ProfilesTarget(status.bootstrap, topic), "published"
    return None, ("skipped: no Kafka broker configured (CLICKLOOP_KAFKA_BOOTSTRAP) or running "
                  "(clickloop kafka); import again with --profiles to start one and publish")


def publish_for_profiles(settings: Settings, read: ReadImport, target: ProfilesTarget) -> int:
    """Produce the import's events (minus forgotten people, as in the lake) to the events
    topic for the personalization workers; returns how many the broker acknowledged."""
    from embedded.kafka_topics import KafkaError, ensure_topics
    from stream_jobs.importing.publish import PublishError, not_forgotten, publish_events
    from tracker.erasure import SuppressionList

    events = not_forgotten(read.events, SuppressionList(settings.state_dir))
    print(f"import {read.kind}: publishing {len(events):,} events to Kafka topic "
          f"{target.topic} for the profiles", file=sys.stderr, flush=True)
    try:
        ensure_topics(target.bootstrap, [target.topic], settings.kafka.partitions,
                      settings.kafka.replication)
        return publish_events(target.bootstrap, target.topic, read.ingest, events,
                              lambda n: print(f"import {read.kind}: {n:,} events published",
                                              file=sys.stderr, flush=True))
    except (KafkaError, PublishError) as exc:
        raise ProfilesError(str(exc)) from exc


def run(spark: SparkSession, settings: Settings, read: ReadImport,
        rejects_copy: Path | None = None, profiles: ProfilesTarget | None = None,
        profiles_note: str = "skipped") -> dict[str, Any]:
    """Write a read import into the lake and its rejects, then (with ``profiles``) publish it
    for the personalization profiles; returns the JSON summary."""
    if read.events:
        print(f"import {read.kind}: writing {len(read.events):,} events to the lake",
              file=sys.stderr, flush=True)
    written = write_lake_events(spark, settings, read)
    rejects = write_rejects(read, settings, rejects_copy)
    published = 0 if profiles is None else publish_for_profiles(settings, read, profiles)
    return {"job": "import", "kind": read.kind, "file": str(read.path), "ingest": read.ingest,
            "rows": read.rows, "events": written, "rejects": len(read.rejects),
            "rejects_file": str(rejects_copy or rejects), "published": published,
            "profiles": profiles_note if profiles is None
            else f"{profiles_note} to {profiles.topic} at {profiles.bootstrap}"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``KIND FILE [--mapping] [--rejects]``, shared with ``clickloop import``."""
    parser.add_argument("file", type=Path, help="the file to import (plain or .gz)")
    parser.add_argument("--mapping", type=Path, default=None,
                        help="orders only: TOML naming the CSV's columns (default: the Online "
                             "Retail layout, see docs/dashboard.md)")
    parser.add_argument("--rejects", type=Path, default=None,
                        help="also copy the rejected rows (JSON lines: line, reason, text) here")
    parser.add_argument("--profiles", action=argparse.BooleanOptionalAction, default=None,
                        help="orders and events: also publish the events to the events topic "
                             "so the personalization profiles (segments such as lapsed or "
                             "repeat_customer) hold the history; default: when a Kafka broker "
                             "is configured or running. --profiles starts the embedded one "
                             "if need be; a failure to publish is an error (exit 1)")


def execute(kind: str, args: argparse.Namespace, settings: Settings) -> int:
    """Check the file, then run the Spark write; exit code 2 on a file that cannot be used."""
    from stream_jobs.importing.mapping import MappingError
    from stream_jobs.importing.reading import ImportFileError
    from stream_jobs.spark_session import run_job

    if kind != "orders" and args.mapping is not None:
        print("import events: --mapping is for orders CSV files", file=sys.stderr)
        return 2
    profiles = getattr(args, "profiles", None)  # callers building their own Namespace
    if kind == "costs" and profiles:
        print("import costs: --profiles is for orders and events", file=sys.stderr)
        return 2
    try:
        read = read_import(kind, args.file, args.mapping)
    except (ImportFileError, MappingError) as exc:
        print(f"import {kind}: {exc}", file=sys.stderr)
        return 2
    if kind == "costs":  # a small table: no Spark
        written = write_costs(settings, read)
        rejects = write_rejects(read, settings, args.rejects)
        print(json.dumps({"job": "import", "kind": kind, "file": str(read.path),
                          "ingest": read.ingest, "rows": read.rows, "costs": written,
                          "rejects": len(read.rejects),
                          "rejects_file": str(args.rejects or rejects)}), flush=True)
        return 0
    try:
        target, note = profiles_target(settings, profiles)
    except ProfilesError as exc:
        print(f"import {kind}: {exc}; nothing imported (or pass --no-profiles)",
              file=sys.stderr, flush=True)
        return 1
    if target is None:
        print(f"import {kind}: profiles {note}", file=sys.stderr, flush=True)
    try:
        return run_job(settings, f"clickloop-import-{kind}",
                       lambda spark: run(spark, settings, read, args.rejects, target, note))
    except ProfilesError as exc:
        print(f"import {kind}: the personalization profiles did not get this import: {exc}. "
              f"The lake part is written; run the same import again (nothing is counted twice) "
              f"or pass --no-profiles", file=sys.stderr, flush=True)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``python -m stream_jobs.importing.job orders|events FILE``)."""
    parser = argparse.ArgumentParser(prog="stream_jobs.importing.job",
                                     description="Import order history or events into the lake.")
    parser.add_argument("kind", choices=KINDS)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return execute(args.kind, args, Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
