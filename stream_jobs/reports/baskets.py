"""Basket (cart) analysis: what is bought together, what is carted and not bought, basket sizes.

Over the purchases whose event time falls in the range — tracked and imported alike
(:mod:`.order_history`). A basket is one order; it *holds* a product when any of its lines has
the product's sku (quantities do not matter for pairs). For a pair of products A and B
(A < B by sku) and N baskets:

- ``support`` = baskets holding both / N
- ``confidence_a_b`` = baskets holding both / baskets holding A (and ``confidence_b_a``)
- ``lift`` = support / (support(A) * support(B)); above 1, A and B go together more often
  than chance would have them.

Pairs held by fewer than ``max(MIN_PAIR_BASKETS, ceil(MIN_SUPPORT * N))`` baskets are left out
(noise, and it bounds the pairs enumerated); the top ``top_n`` by baskets (then lift) are
kept. The same for categories, where items have one.
Carted and not bought: per product, the visitors who added it to a cart in the range, and how
many of them bought it in the range at or after their first add.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stream_jobs.reports.measures import all_dates, money, pct, ratio
from stream_jobs.reports.model import Chart, Report, ReportInputs, Table
from stream_jobs.reports.order_history import (
    lake_options,
    order_lines,
    orders,
    read_commerce_events,
)

NAME = "baskets"
TITLE = "Baskets"
MIN_PAIR_BASKETS = 3
MIN_SUPPORT = 0.02  # of all baskets


def min_pair_baskets(n_baskets: int) -> int:
    """The fewest baskets a reported pair is held by.

    >>> min_pair_baskets(100), min_pair_baskets(2574)
    (3, 52)
    """
    return max(MIN_PAIR_BASKETS, math.ceil(MIN_SUPPORT * n_baskets))


def pairs(lines: DataFrame, key: str, n_baskets: int, *, min_baskets: int | None = None,
          top_n: int = 20) -> DataFrame:
    """Pairs of ``key`` values (sku or category) held by the same baskets, with support,
    confidence and lift. Values held by fewer than ``min_baskets`` baskets cannot make such a
    pair, so they are dropped before the self-join (the Apriori cut)."""
    if min_baskets is None:
        min_baskets = min_pair_baskets(n_baskets)
    held = lines.where(F.col(key).isNotNull()).select("order_id", F.col(key).alias("item")) \
        .distinct()
    counts = held.groupBy("item").agg(F.count(F.lit(1)).alias("baskets"))
    frequent = counts.where(F.col("baskets") >= min_baskets)
    held = held.join(frequent.select("item"), "item", "left_semi")
    a, b = held.alias("a"), held.alias("b")
    together = (a.join(b, (F.col("a.order_id") == F.col("b.order_id"))
                       & (F.col("a.item") < F.col("b.item")))
                .groupBy(F.col("a.item").alias("item_a"), F.col("b.item").alias("item_b"))
                .agg(F.count(F.lit(1)).alias("baskets"))
                .where(F.col("baskets") >= min_baskets))
    ca = frequent.select(F.col("item").alias("item_a"), F.col("baskets").alias("baskets_a"))
    cb = frequent.select(F.col("item").alias("item_b"), F.col("baskets").alias("baskets_b"))
    n = F.lit(float(n_baskets))
    return (together.join(ca, "item_a").join(cb, "item_b")
            .select(F.col("item_a").alias(f"{key}_a"), F.col("item_b").alias(f"{key}_b"),
                    "baskets", "baskets_a", "baskets_b",
                    F.round(F.col("baskets") / n, 6).alias("support"),
                    ratio(F.col("baskets"), F.col("baskets_a"), 4).alias("confidence_a_b"),
                    ratio(F.col("baskets"), F.col("baskets_b"), 4).alias("confidence_b_a"),
                    F.round(F.col("baskets") * n / (F.col("baskets_a") * F.col("baskets_b")), 4)
                    .alias("lift"))
            .orderBy(F.desc("baskets"), F.desc("lift"), f"{key}_a", f"{key}_b")
            .limit(top_n))


def named_pairs(product_pairs: DataFrame, lines: DataFrame) -> DataFrame:
    """Product pairs with each product's name (the alphabetically first name of its sku)."""
    names = lines.groupBy("sku").agg(F.min("name").alias("name"))
    na = names.select(F.col("sku").alias("sku_a"), F.col("name").alias("name_a"))
    nb = names.select(F.col("sku").alias("sku_b"), F.col("name").alias("name_b"))
    return (product_pairs.join(na, "sku_a", "left").join(nb, "sku_b", "left")
            .select("sku_a", "name_a", "sku_b", "name_b", "baskets", "baskets_a", "baskets_b",
                    "support", "confidence_a_b", "confidence_b_a", "lift")
            .orderBy(F.desc("baskets"), F.desc("lift"), "sku_a", "sku_b"))


def carted_not_bought(commerce: DataFrame, lines: DataFrame, top_n: int = 20) -> DataFrame:
    """Per product: visitors who carted it, how many bought it then, the cart-to-purchase rate."""
    adds = (commerce.where((F.col("event_type") == "add_to_cart") & F.col("sku").isNotNull())
            .groupBy("visitor_id", "sku").agg(F.min("ts").alias("first_add")))
    bought_by = (commerce.where(F.col("event_type") == "purchase")
                 .select("visitor_id", "order_id", "ts"))
    bought = (lines.select("order_id", "sku").distinct()
              .join(bought_by.withColumnRenamed("ts", "bought_at"), "order_id")
              .select("visitor_id", "sku", "bought_at"))
    joined = adds.join(bought, ["visitor_id", "sku"], "left").groupBy("visitor_id", "sku").agg(
        F.max(F.col("bought_at") >= F.col("first_add")).alias("bought"))
    return (joined.groupBy("sku").agg(
                F.count(F.lit(1)).alias("carted_visitors"),
                F.count_if(F.coalesce("bought", F.lit(False))).alias("bought_visitors"))
            .withColumn("not_bought", F.col("carted_visitors") - F.col("bought_visitors"))
            .withColumn("cart_to_purchase_pct",
                        pct(F.col("bought_visitors"), F.col("carted_visitors")))
            .orderBy(F.desc("not_bought"), "sku").limit(top_n))


def basket_days(inputs: ReportInputs, purchases: DataFrame, lines: DataFrame) -> DataFrame:
    """Per day: orders, units and distinct products per basket, and basket value."""
    per_order = lines.groupBy("order_id").agg(
        F.sum("quantity").alias("units"), F.count_distinct("sku").alias("products"))
    per_day = (purchases.select("order_id", "day", "revenue")
               .join(per_order, "order_id", "left")
               .groupBy(F.col("day").alias("date")).agg(
                   F.count(F.lit(1)).alias("orders"),
                   money(F.sum("revenue")).alias("revenue"),
                   ratio(F.sum(F.coalesce("units", F.lit(0))), F.count(F.lit(1)))
                   .alias("avg_units"),
                   ratio(F.sum(F.coalesce("products", F.lit(0))), F.count(F.lit(1)))
                   .alias("avg_products"),
                   ratio(F.sum("revenue"), F.count(F.lit(1))).alias("avg_value")))
    return (all_dates(inputs.spark, inputs.start, inputs.end).join(per_day, "date", "left")
            .select("date", F.coalesce("orders", F.lit(0)).cast("long").alias("orders"),
                    F.coalesce("revenue", F.lit(0.0)).alias("revenue"),
                    "avg_units", "avg_products", "avg_value")
            .orderBy("date"))


def build(inputs: ReportInputs) -> Report:
    lake, state_dir = lake_options(inputs)
    commerce = read_commerce_events(inputs.spark, lake, state_dir, inputs.start, inputs.end,
                                    include_bots=inputs.include_bots).persist()
    purchases = orders(commerce).persist()
    lines = order_lines(purchases).persist()
    n = purchases.count()
    summary = purchases.agg(
        F.count(F.lit(1)).alias("baskets"),
        money(F.sum("revenue")).alias("revenue"),
        ratio(F.sum("revenue"), F.count(F.lit(1))).alias("avg_value"),
    ).crossJoin(lines.agg(F.count_distinct("sku").alias("products"),
                          ratio(F.sum("quantity"), F.count_distinct("order_id"))
                          .alias("avg_units")))
    return Report(
        name=NAME, title=TITLE, headline="product_pairs",
        tables=(
            Table("summary", "Baskets", summary),
            Table("product_pairs", f"Top {inputs.top_n} products bought together",
                  named_pairs(pairs(lines, "sku", n, top_n=inputs.top_n), lines),
                  note=f"Pairs in at least {min_pair_baskets(n)} baskets ({MIN_SUPPORT:.0%}, "
                       f"at least {MIN_PAIR_BASKETS}). support = share of "
                       "baskets holding both; confidence_a_b = share of baskets with A that "
                       "also hold B; lift > 1: bought together more often than chance."),
            Table("category_pairs", f"Top {inputs.top_n} categories bought together",
                  pairs(lines, "category", n, top_n=inputs.top_n)),
            Table("carted_not_bought", f"Top {inputs.top_n} products added to carts and "
                  "not bought", carted_not_bought(commerce, lines, inputs.top_n),
                  note="Visitors who added the product to a cart in the range; bought = they "
                       "bought it in the range at or after their first add."),
            Table("daily", "Basket size and value by day", basket_days(inputs, purchases, lines)),
        ),
        charts=(
            Chart("product_pairs", "bar", "sku_a", ("lift",), "Lift of the top pairs"),
            Chart("daily", "line", "date", ("avg_value",), "Average basket value by day"),
            Chart("daily", "line", "date", ("avg_units", "avg_products"),
                  "Units and products per basket by day"),
        ),
        notes=("Orders tracked on the site and orders imported with `clickloop import orders` "
               "alike; refunds are not subtracted.",),
    )
