"""The event lake's layout, schemas and readers/writers (the only module that knows paths).

Layout under ``settings.lake``::

    events/event_date=YYYY-MM-DD/ingest=stream|log-<hash>/*.parquet   raw contract events
    sessions/session_date=YYYY-MM-DD/*.parquet                         authoritative (batch)
    sessions_live/session_date=YYYY-MM-DD/*.parquet                    streaming, provisional
    rejects/stream/seen_date=YYYY-MM-DD/*.json                         raw Kafka records + reason
    rejects/logs/ingest=log-<hash>/*.json                              file, line, reason, text
    reports/<report>/<start>_<end>/                                    Parquet, CSV, HTML

``ingest`` keeps sources apart: re-parsing a log file rewrites exactly its own partitions
(dynamic partition overwrite) and can never touch events that came from Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

STREAM_INGEST = "stream"
LOG_INGEST_PREFIX = "log-"


@dataclass(frozen=True)
class LakePaths:
    """Absolute locations of the lake's tables, derived from its root."""

    root: Path

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def sessions(self) -> Path:
        return self.root / "sessions"

    @property
    def sessions_live(self) -> Path:
        return self.root / "sessions_live"

    @property
    def stream_rejects(self) -> Path:
        return self.root / "rejects" / "stream"

    @property
    def log_rejects(self) -> Path:
        return self.root / "rejects" / "logs"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def staging(self) -> Path:
        """Scratch space for writes that are moved into place (ignored by readers: ``_``)."""
        return self.root / "_staging"


def lake_event_schema() -> StructType:
    """Schema of ``events/``: the enriched contract event plus the two partition columns."""
    from pyspark.sql import types as T

    from tracker.contract.spark import event_struct

    return T.StructType([
        *event_struct().fields,
        T.StructField("event_date", T.DateType(), nullable=True),
        T.StructField("ingest", T.StringType(), nullable=True),
    ])


def session_schema() -> StructType:
    """Schema of ``sessions/`` (and ``sessions_live/``), in column order."""
    from pyspark.sql import types as T

    s, ts, lg, db, bl = T.StringType(), T.TimestampType(), T.LongType(), T.DoubleType(), \
        T.BooleanType()
    columns: list[tuple[str, Any]] = [
        ("session_id", s), ("visitor_id", s), ("user_id", s),
        ("session_start", ts), ("session_end", ts), ("duration_s", db),
        ("events", lg), ("page_views", lg), ("landing_page", s), ("exit_page", s),
        ("referrer_class", s), ("referrer_host", s), ("utm_source", s), ("utm_medium", s),
        ("utm_campaign", s), ("utm_term", s), ("utm_content", s),
        ("device", s), ("browser", s), ("os", s), ("country", s), ("site", s), ("source", s),
        ("is_bot", bl), ("cookieless", bl), ("cart_adds", lg), ("orders", lg),
        ("converted", bl), ("revenue", db), ("bounce", bl), ("session_date", T.DateType()),
    ]
    return T.StructType([T.StructField(name, kind, True) for name, kind in columns])


def with_partition_columns(events: DataFrame, ingest: Column) -> DataFrame:
    """Add ``event_date`` (UTC date of ``enrichment.derived_ts``) and ``ingest`` (a Column)."""
    from pyspark.sql import functions as F

    return events.withColumn("event_date", F.to_date("enrichment.derived_ts")).withColumn(
        "ingest", ingest
    )


def to_lake_columns(events: DataFrame) -> DataFrame:
    """Select exactly the lake's columns in the lake's order (fails loudly on a missing one)."""
    return events.select(*[field.name for field in lake_event_schema().fields])


def read_events(spark: SparkSession, lake: LakePaths, start: date, end: date) -> DataFrame:
    """Events with ``event_date`` in ``[start, end]``; an empty frame when the lake is empty."""
    from pyspark.sql import functions as F

    schema = lake_event_schema()
    if not _has_parquet(lake.events):
        return spark.createDataFrame([], schema)
    frame = spark.read.schema(schema).option("basePath", str(lake.events)).parquet(
        str(lake.events)
    )
    return frame.where(F.col("event_date").between(F.lit(start), F.lit(end)))


def write_events(events: DataFrame, lake: LakePaths) -> None:
    """Write lake events, replacing only the (event_date, ingest) partitions present.

    Event ids are unique: Parquet would hash each into a dictionary, find it no smaller than
    the plain ids and write them plain anyway, so they are written plain from the start.
    """
    (to_lake_columns(events).write.mode("overwrite")
     .option("partitionOverwriteMode", "dynamic")
     .option("parquet.enable.dictionary#event_id", "false")
     .partitionBy("event_date", "ingest").parquet(str(lake.events)))


def read_sessions(spark: SparkSession, path: Path, start: date, end: date) -> DataFrame:
    """Sessions (authoritative or live) with ``session_date`` in ``[start, end]``."""
    from pyspark.sql import functions as F

    schema = session_schema()
    if not _has_parquet(path):
        return spark.createDataFrame([], schema)
    frame = spark.read.schema(schema).option("basePath", str(path)).parquet(str(path))
    return frame.where(F.col("session_date").between(F.lit(start), F.lit(end)))


def write_sessions(sessions: DataFrame, lake: LakePaths) -> None:
    """Replace the ``session_date`` partitions present in ``sessions``."""
    (sessions.select(*[f.name for f in session_schema().fields]).write.mode("overwrite")
     .option("partitionOverwriteMode", "dynamic")
     .partitionBy("session_date").parquet(str(lake.sessions)))


def dates_between(start: date, end: date) -> list[date]:
    """Every date from ``start`` to ``end`` inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _has_parquet(path: Path) -> bool:
    # stop at the first file: a big lake has many
    return path.is_dir() and next(path.rglob("*.parquet"), None) is not None
