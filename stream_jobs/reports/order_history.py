"""Orders as the lake holds them, for the reports that need items or the whole history.

The session-based inputs (:class:`~stream_jobs.reports.model.ReportInputs`) carry no order
items and only the report's range; basket analysis needs the items and the customer lifecycle
needs every purchase before the range. This module reads ``purchase``, ``refund`` and
``add_to_cart`` events straight from the lake — tracked and imported alike — deduplicated on
``event_id`` (the copy the collector got first), without the people on the erasure suppression
list and, unless the report counts them, without bots.

A customer is the event's own ``user_id`` (a logged-in purchase, an imported order's customer),
else its ``visitor_id``.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from stream_jobs.reports.model import ReportInputs

HISTORY_START = date(1970, 1, 1)
KINDS = ("purchase", "refund", "add_to_cart")


def lake_options(inputs: ReportInputs) -> tuple[Path, Path]:
    """(lake root, state dir) from the inputs' options (set by ``stream_jobs.reports.job``)."""
    try:
        return Path(inputs.options["lake"]), Path(inputs.options["state_dir"])
    except KeyError as exc:
        raise ValueError("this report reads the lake: ReportInputs.options needs 'lake' and "
                         "'state_dir'") from exc


def read_commerce_events(spark: SparkSession, lake: Path, state_dir: Path, first: date,
                         last: date, *, include_bots: bool = False) -> DataFrame:
    """Purchase, refund and add-to-cart events with event dates in ``[first, last]`` (a day of
    margin is read each side, then cut by the UTC date of ``derived_ts``)."""
    from stream_jobs.erasure.suppression import drop_listed, suppression_frame
    from stream_jobs.lake import LakePaths, read_events
    from tracker.erasure import SuppressionList

    raw = read_events(spark, LakePaths(lake), first - timedelta(days=1), last + timedelta(days=1))
    raw = raw.where(F.col("event_type").isin(*KINDS))
    entries = list(SuppressionList(state_dir))
    if entries:
        raw = drop_listed(raw, suppression_frame(spark, entries))
    return commerce_rows(raw, first, last, include_bots=include_bots)


def customer_id(user_id: Column, visitor_id: Column) -> Column:
    return F.coalesce(user_id, visitor_id)


def commerce_rows(raw: DataFrame, first: date, last: date, *,
                  include_bots: bool = False) -> DataFrame:
    """Lake events -> one row per distinct event: ``event_id, event_type, customer_id, id_kind,
    user_id, visitor_id, consent, ts, day, order_id, revenue, items, sku`` (the added
    product's sku). ``id_kind`` is ``user`` for a shop id (matchable), else ``visitor``."""
    first_copy = Window.partitionBy("event_id").orderBy(
        F.col("enrichment.collector_ts").asc_nulls_last(), F.col("ingest").asc_nulls_last())
    rows = raw.where(F.col("visitor_id").isNotNull()
                     & F.col("enrichment.derived_ts").isNotNull())
    if not include_bots:
        rows = rows.where(~F.coalesce(F.col("enrichment.ua.is_bot"), F.lit(False)))
    rows = rows.withColumn("_n", F.row_number().over(first_copy)).where("_n = 1")
    ts = F.col("enrichment.derived_ts")
    return (rows.where(F.to_date(ts).between(F.lit(first), F.lit(last)))
            .select("event_id", "event_type",
                    customer_id(F.col("user_id"), F.col("visitor_id")).alias("customer_id"),
                    F.when(F.col("user_id").isNotNull(), F.lit("user"))
                    .otherwise(F.lit("visitor")).alias("id_kind"),
                    "user_id", "visitor_id", "consent", ts.alias("ts"), F.to_date(ts).alias("day"),
                    F.col("order.order_id").alias("order_id"),
                    F.col("order.revenue").alias("revenue"),
                    F.col("order.items").alias("items"),
                    F.col("product.sku").alias("sku")))


def orders(commerce: DataFrame, event_type: str = "purchase") -> DataFrame:
    """One row per order id of ``event_type`` (the earliest event of an order id wins; an
    event without an order id is its own order)."""
    kept = commerce.where(F.col("event_type") == event_type).withColumn(
        "order_id", F.coalesce(F.col("order_id"), F.col("event_id")))
    earliest = Window.partitionBy("order_id").orderBy("ts", "event_id")
    return (kept.withColumn("_n", F.row_number().over(earliest)).where("_n = 1").drop("_n")
            .withColumn("revenue", F.coalesce(F.col("revenue"), F.lit(0.0))))


def order_lines(purchases: DataFrame) -> DataFrame:
    """One row per item of each order: ``order_id, customer_id, ts, day, sku, name,
    category, quantity, price``."""
    return (purchases.select("order_id", "customer_id", "ts", "day",
                             F.explode("items").alias("item"))
            .select("order_id", "customer_id", "ts", "day", F.col("item.sku").alias("sku"),
                    F.col("item.name").alias("name"), F.col("item.category").alias("category"),
                    F.coalesce(F.col("item.quantity"), F.lit(1)).alias("quantity"),
                    F.col("item.price").alias("price"))
            .where(F.col("sku").isNotNull()))
