"""Ranks over a whole table without moving it into one partition.

``Window.orderBy(...)`` with no ``partitionBy`` makes Spark sort every row on a single task
("No Partition Defined for Window operation! Moving all data to a single partition"), so a
report that ranks customers stops scaling with the cluster. The exact rank is computed in two
phases instead:

1. approximate quantiles of the ordering value (``percentile_approx``, one small aggregate) cut
   the value range into buckets; a bucket is a pure function of the value, so equal values
   always share one and buckets follow the value order;
2. each bucket is ranked on its own (a window partitioned by bucket: many tasks), and the sizes
   of the buckets before it (a tiny per-bucket count, summed with a broadcast join) are added.

The quantiles only balance the buckets; the ranks are exact whatever they are.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

BUCKETS = 32  # buckets per rank: enough tasks for a cluster, few rows in the offset join


def _bucket(key: Column, bounds: Column) -> Column:
    """How many bounds lie below ``key``: the bucket of a value, increasing with it."""
    return F.size(F.filter(bounds, lambda bound: bound < key))


def ranked(frame: DataFrame, key: Column, order: list[Column], *, kind: str = "rank",
           nulls_first: bool = False, name: str = "_rank", buckets: int = BUCKETS) -> DataFrame:
    """``frame`` with ``name`` = the global ``rank()``/``row_number()`` (``kind``) of each row
    in ``order``, whose first column must sort like ``key`` (a numeric column, ascending, with
    nulls first or last as ``nulls_first`` says).
    """
    # the steps below read the frame several times: a plan that holds the frame's whole
    # lineage (sessionization included) that often takes Spark minutes just to analyse, and
    # ranks stacked on ranks multiply it. The rows are checkpointed on the executors instead.
    frame = frame.localCheckpoint(eager=True)
    fractions = [i / buckets for i in range(1, buckets)]
    bounds = frame.agg(F.percentile_approx(key.cast("double"), fractions).alias("_bounds"))
    keyed = (frame.crossJoin(F.broadcast(bounds))
             .withColumn("_bucket", F.when(key.isNull(), F.lit(-1 if nulls_first else buckets))
                         .otherwise(_bucket(key.cast("double"), F.col("_bounds"))))
             .drop("_bounds"))
    local_fn = F.rank() if kind == "rank" else F.row_number()
    local = keyed.withColumn("_local", local_fn.over(
        Window.partitionBy("_bucket").orderBy(*order)))
    sizes = keyed.groupBy("_bucket").agg(F.count(F.lit(1)).alias("_size"))
    before = (sizes.alias("b").join(sizes.alias("a"), F.col("a._bucket") < F.col("b._bucket"),
                                    "left")
              .groupBy(F.col("b._bucket").alias("_bucket"))
              .agg(F.coalesce(F.sum("a._size"), F.lit(0)).alias("_offset")))
    return (local.join(F.broadcast(before), "_bucket")
            .withColumn(name, (F.col("_offset") + F.col("_local")).cast("long"))
            .drop("_bucket", "_local", "_offset"))


def with_total(frame: DataFrame, name: str, total: Column) -> DataFrame:
    """``frame`` with one more column, ``name``, holding the aggregate ``total`` over all its
    rows (what ``Window.partitionBy()`` would give, without one single-partition window)."""
    return frame.crossJoin(F.broadcast(frame.agg(total.alias(name))))


def percent_ranked(frame: DataFrame, column: str, name: str) -> DataFrame:
    """``frame`` with ``name`` = ``percent_rank()`` of ``column`` ascending over all rows:
    ``(rank - 1) / (rows - 1)``, 0 for a single row, as Spark's window function defines it."""
    # Window.orderBy(column) sorts nulls first
    out = ranked(frame, F.col(column), [F.col(column).asc_nulls_first()], nulls_first=True,
                 name="_prank")
    out = with_total(out, "_rows", F.count(F.lit(1)))
    value = F.when(F.col("_rows") > 1, (F.col("_prank") - 1) / (F.col("_rows") - 1)) \
        .otherwise(F.lit(0.0))
    return out.withColumn(name, value.cast("double")).drop("_prank", "_rows")
