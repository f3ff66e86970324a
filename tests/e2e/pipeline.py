"""Helpers of the end-to-end tests: start the demo stack in a temp dir, read what the pipeline
wrote (Kafka records, lake Parquet via DuckDB, report CSVs), nothing computed by the code under
test."""

from __future__ import annotations

import csv
import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

from demo.stack import Endpoints, Stack
from embedded.ports import free_port
from tracker.settings import Settings


def progress(message: str) -> None:
    """A timestamped line in the test's output: where a slow end-to-end run spends its time."""
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


def stack_settings(state_dir: Path, bootstrap: str, **sections: Any) -> Settings:
    """Settings of a test stack: its own state dir and topics on the run's broker.

    ``sections``: ``spark={"session_gap_minutes": 1}`` replaces fields of that section.
    """
    base = Settings.from_env({})
    topic = f"test.e2e.{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(
        base, state_dir=state_dir, lake_dir=None,
        kafka=dataclasses.replace(base.kafka, bootstrap=bootstrap, topic=topic,
                                  dead_letter_topic=topic + ".bad"))
    for name, changes in sections.items():
        settings = dataclasses.replace(
            settings, **{name: dataclasses.replace(getattr(settings, name), **changes)})
    return settings


def start_stack(settings: Settings, logs: Path) -> Stack:
    """The demo's stack on free ports of 127.0.0.1 (shop, collector and API on one host)."""
    endpoints = Endpoints("127.0.0.1", free_port(), free_port(), free_port())
    stack = Stack(settings, logs=logs, endpoints=endpoints, say=lambda m: print(m, flush=True))
    stack.start(timeout=300)
    return stack


def parquet_rows(folder: Path, where: str = "true", order: str = "1") -> list[dict[str, Any]]:
    """Rows of a hive-partitioned Parquet table of the lake (DuckDB, not Spark)."""
    import duckdb

    files = [p for p in folder.rglob("*.parquet")
             if not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)]
    if not files:
        return []
    con = duckdb.connect()
    try:
        relation = con.sql(
            f"SELECT * FROM read_parquet({[str(f) for f in files]!r}, hive_partitioning = true, "
            f"union_by_name = true) WHERE {where} ORDER BY {order}")
        columns = relation.columns
        return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
    finally:
        con.close()


def report_csv(lake: Path, report: str, start: Any, end: Any, table: str) -> list[dict[str, str]]:
    """A report table as the marketer downloads it."""
    path = lake / "reports" / report / f"{start}_{end}" / f"{table}.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def lake_events(lake: Path) -> list[dict[str, Any]]:
    """The lake's events, one row per ``event_id``, with what the checks need (DuckDB)."""
    import duckdb

    folder = lake / "events"
    files = [str(p) for p in folder.rglob("*.parquet")
             if not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)]
    con = duckdb.connect()
    try:
        relation = con.sql(f"""
            SELECT DISTINCT ON (event_id)
                   event_id, visitor_id, event_type, consent,
                   enrichment.derived_ts AS ts,  -- naive UTC, like the sessions table
                   coalesce(enrichment.ua.is_bot, false) AS is_bot,
                   product.sku AS sku, product.quantity AS quantity, url
            FROM read_parquet({files!r}, hive_partitioning = true, union_by_name = true)
            ORDER BY event_id, enrichment.collector_ts""")
        columns = relation.columns
        return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
    finally:
        con.close()
