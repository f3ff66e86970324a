"""Idempotent writes of a streaming micro-batch into a partitioned table.

Spark's file sink keeps its own ``_spark_metadata`` log, and a directory with that log is read
*through* it: files written by anyone else (our log parser's partitions) would vanish from
reads. So the stream writes with ``foreachBatch`` instead, and makes each micro-batch
idempotent itself: the batch is written to a staging folder, then its files are moved into the
table under names derived from the batch id. A batch that Spark replays after a crash first
removes whatever an earlier attempt of the same batch left, then moves its files in again, so a
killed and restarted job neither loses nor duplicates rows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def batch_prefix(batch_id: int) -> str:
    """File-name prefix of one micro-batch's files (sortable by batch)."""
    return f"part-b{batch_id:012d}-"


def write_batch(
    frame: DataFrame,
    *,
    batch_id: int,
    staging: Path,
    table: Path,
    partition_column: str,
    leaf: str = "",
    fmt: str = "parquet",
) -> int:
    """Write ``frame`` as ``<table>/<partition_column>=<v>/<leaf>/part-b<id>-<n>.<ext>``.

    Returns the number of files moved in. ``leaf`` is a fixed sub-partition such as
    ``ingest=stream``.
    """
    stage = staging / f"b{batch_id:012d}"
    shutil.rmtree(stage, ignore_errors=True)
    (frame.write.mode("overwrite").partitionBy(partition_column).format(fmt)
     .option("compression", "snappy" if fmt == "parquet" else "none").save(str(stage)))
    prefix = batch_prefix(batch_id)
    pattern = f"{partition_column}=*/{leaf + '/' if leaf else ''}{prefix}*"
    for stale in table.glob(pattern):  # an earlier, interrupted attempt of this batch
        stale.unlink()
    moved = 0
    for part_dir in sorted(stage.glob(f"{partition_column}=*")):
        files = sorted(p for p in part_dir.iterdir()
                       if p.is_file() and not p.name.startswith((".", "_")))
        target_dir = table / part_dir.name / leaf if leaf else table / part_dir.name
        target_dir.mkdir(parents=True, exist_ok=True)
        for n, source in enumerate(files):
            suffix = "".join(source.suffixes[-2:]) if fmt == "parquet" else source.suffix
            os.replace(source, target_dir / f"{prefix}{n:05d}{suffix}")
            moved += 1
    shutil.rmtree(stage, ignore_errors=True)
    return moved
