"""Customer value: RFM scores and segments, and how much revenue the top 20% bring.

A customer is the purchase's or its session's known ``user_id`` (back-filled to the visitor's
earlier anonymous sessions), else its ``visitor_id``, and ``id_kind`` says which (``user``,
``visitor`` or ``cookieless visitor``: a daily id, so such a customer's purchases on two days
are two customers); only customers with a purchase in the range count. Per customer:
recency = days from the last purchase to the end of the range, frequency = distinct orders,
monetary = revenue. Scores 1 to 5 come from the percent rank among customers (equal values get
equal scores; 5 is best: most recent, most frequent, highest revenue):
``1 + floor(percent_rank * 5)`` capped at 5, reversed for recency.

Segments, first rule that matches (R = recency score, F = frequency score):

============================  ===================
Champions                     R ≥ 4 and F ≥ 4
Loyal                         R ≥ 3 and F ≥ 3
New customers                 R ≥ 4 and F = 1
Potential loyalists           R ≥ 4 and F = 2
Needs attention               R = 3 (F ≤ 2)
At risk                       R ≤ 2 and F ≥ 3
Hibernating                   R ≤ 2 and F ≤ 2
============================  ===================
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from stream_jobs.reports.measures import COOKIELESS_NOTE, money, pct
from stream_jobs.reports.model import Chart, Report, ReportInputs, Table
from stream_jobs.reports.ranking import percent_ranked, ranked, with_total
from stream_jobs.sessions.rules import is_cookieless

NAME = "customers"
TITLE = "Customer value"
SEGMENTS = ("Champions", "Loyal", "New customers", "Potential loyalists", "Needs attention",
            "At risk", "Hibernating")
TOP_SHARE = 0.2


def scored(frame: DataFrame, column: str, name: str, *,
           lower_is_better: bool = False) -> DataFrame:
    """``frame`` with ``name`` = the 1-5 score of ``column`` from its percent rank among all
    rows (a two-phase rank, :mod:`stream_jobs.reports.ranking`: no single-partition window)."""
    out = percent_ranked(frame, column, "_pr")
    raw = F.least(F.lit(5), F.lit(1) + F.floor(F.col("_pr") * 5)).cast("int")
    return out.withColumn(name, (F.lit(6) - raw) if lower_is_better else raw).drop("_pr")


def segment(r: Column, f: Column) -> Column:
    return (F.when((r >= 4) & (f >= 4), "Champions")
            .when((r >= 3) & (f >= 3), "Loyal")
            .when((r >= 4) & (f == 1), "New customers")
            .when(r >= 4, "Potential loyalists")
            .when(r == 3, "Needs attention")
            .when(f >= 3, "At risk")
            .otherwise("Hibernating"))


def customers(inputs: ReportInputs) -> DataFrame:
    """One row per customer with orders in the range: RFM values, scores and segment."""
    purchases = inputs.events.where(F.col("event_type") == "purchase").join(
        inputs.sessions.select("session_id", F.col("user_id").alias("session_user")),
        "session_id", "left")
    user = F.coalesce(F.col("user_id"), F.col("session_user"))
    customer = F.coalesce(user, F.col("visitor_id"))
    kind = (F.when(user.isNotNull(), F.lit("user"))
            .when(is_cookieless(F.col("visitor_id")), F.lit("cookieless visitor"))
            .otherwise(F.lit("visitor")))
    per_customer = purchases.groupBy(customer.alias("customer_id"), kind.alias("id_kind")).agg(
        F.count_distinct(F.coalesce(F.col("order_id"), F.col("event_id"))).alias("orders"),
        money(F.sum("revenue")).alias("revenue"),
        F.max("ts").alias("last_purchase"),
        F.min("ts").alias("first_purchase"),
    ).withColumn("recency_days", F.datediff(F.lit(inputs.end), F.to_date("last_purchase")))
    scores = scored(scored(scored(per_customer, "recency_days", "r_score", lower_is_better=True),
                           "orders", "f_score"), "revenue", "m_score")
    return (scores.withColumn("segment", segment(F.col("r_score"), F.col("f_score")))
            .select("customer_id", "orders", "revenue", "recency_days", "first_purchase",
                    "last_purchase", "r_score", "f_score", "m_score",
                    F.concat(F.col("r_score").cast("string"), F.col("f_score").cast("string"),
                             F.col("m_score").cast("string")).alias("rfm"),
                    "segment", "id_kind")
            .orderBy(F.desc("revenue"), "customer_id"))


def segments(per_customer: DataFrame, spark) -> DataFrame:
    counted = per_customer.groupBy("segment").agg(
        F.count(F.lit(1)).alias("customers"),
        money(F.sum("revenue")).alias("revenue"),
        F.round(F.avg("orders"), 2).alias("avg_orders"),
        F.round(F.avg("recency_days"), 2).alias("avg_recency_days"),
    )
    order = spark.createDataFrame([(i, s) for i, s in enumerate(SEGMENTS)],
                                  "segment_order int, segment string")
    rows = (order.join(counted, "segment", "left")
            .select("segment_order", "segment",
                    F.coalesce("customers", F.lit(0)).cast("long").alias("customers"),
                    F.coalesce("revenue", F.lit(0.0)).alias("revenue"),
                    "avg_orders", "avg_recency_days"))
    return (with_total(rows, "_total", F.sum("revenue"))
            .withColumn("revenue_share_pct", pct(F.col("revenue"), F.col("_total")))
            .orderBy("segment_order").drop("segment_order", "_total"))


def summary(per_customer: DataFrame) -> DataFrame:
    """Customers, orders, revenue, and the share of revenue from the top 20% of customers."""
    by_revenue = ranked(per_customer, -F.col("revenue"),
                        [F.desc("revenue"), F.asc("customer_id")], kind="row_number")
    ranks = with_total(by_revenue, "_k", F.ceil(F.count(F.lit(1)) * TOP_SHARE))
    top_revenue = F.sum(F.when(F.col("_rank") <= F.col("_k"), F.col("revenue")))
    return ranks.agg(
        F.count(F.lit(1)).alias("customers"),
        F.coalesce(F.sum("orders"), F.lit(0)).cast("long").alias("orders"),
        money(F.sum("revenue")).alias("revenue"),
        F.coalesce(F.max("_k"), F.lit(0)).cast("long").alias("top20_customers"),
        money(top_revenue).alias("top20_revenue"),
        pct(top_revenue, F.sum("revenue")).alias("top20_revenue_share_pct"),
    )


def id_kinds(per_customer: DataFrame, spark) -> DataFrame:
    """Customers and revenue by what identifies them: a user id, a visitor id, a daily id."""
    kinds = spark.createDataFrame([(0, "user"), (1, "visitor"), (2, "cookieless visitor")],
                                  "kind_order int, id_kind string")
    counted = per_customer.groupBy("id_kind").agg(F.count(F.lit(1)).alias("customers"),
                                                  money(F.sum("revenue")).alias("revenue"))
    return (kinds.join(counted, "id_kind", "left")
            .select("id_kind", F.coalesce("customers", F.lit(0)).cast("long").alias("customers"),
                    F.coalesce("revenue", F.lit(0.0)).alias("revenue"), "kind_order")
            .orderBy("kind_order").drop("kind_order"))


def build(inputs: ReportInputs) -> Report:
    per_customer = customers(inputs)
    return Report(
        name=NAME, title=TITLE, headline="summary",
        tables=(
            Table("summary", "Summary", summary(per_customer),
                  note="top20: the 20% of customers (rounded up) with the most revenue."),
            Table("segments", "RFM segments", segments(per_customer, inputs.spark)),
            Table("id_kinds", "Customers by identity: users where known, visitors otherwise",
                  id_kinds(per_customer, inputs.spark),
                  note="A user who bought on two devices is one customer. " + COOKIELESS_NOTE),
            Table("customers", "Customers", per_customer, detail=True),
        ),
        charts=(
            Chart("segments", "bar", "segment", ("customers",), "Customers by RFM segment"),
            Chart("segments", "bar", "segment", ("revenue_share_pct",),
                  "Share of revenue by segment (%)"),
        ),
        notes=("Revenue is the sum of order.revenue as sent by the shop (one currency assumed).",),
    )
