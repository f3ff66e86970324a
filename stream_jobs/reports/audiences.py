"""Audiences: the members of a segment, as ids the shop can match, for an e-mail tool.

Two kinds of audience:

- ``segment:<RFM segment>``: customers in that segment of the lifecycle report as of a day
  (:mod:`.lifecycle`, the whole order history up to it);
- ``cart_abandoners``: people who added something to a cart in the last ``hours`` and bought
  nothing after their last add.

Only **user ids** are exported (the shop's own ids: an imported order's customer, a logged-in
buyer): never visitor ids, so cookieless and anonymous visitors can never be in an audience.
People on the erasure suppression list are left out, and so is anyone whose latest event with
a consent state says ``denied``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from stream_jobs.reports.order_history import HISTORY_START, orders, read_commerce_events

CONSENT_LOOKBACK = timedelta(days=400)
IDENTITY_LOOKBACK = timedelta(days=90)


def segment_members(commerce: DataFrame, segment: str, as_of) -> DataFrame:
    """``user_id, detail`` of the users in RFM ``segment`` on ``as_of``."""
    from stream_jobs.reports.lifecycle import rfm_customers

    purchases = orders(commerce).select("order_id", "customer_id", "id_kind", "day", "revenue")
    per = rfm_customers(purchases, as_of)
    return (per.where((F.col("segment") == segment) & (F.col("id_kind") == "user"))
            .select(F.col("customer_id").alias("user_id"),
                    F.concat_ws(" ", F.lit("rfm"), F.concat(F.col("r_score").cast("string"),
                                                           F.col("f_score").cast("string"),
                                                           F.col("m_score").cast("string")))
                    .alias("detail")))


def cart_abandoners(commerce: DataFrame, since: datetime) -> DataFrame:
    """``user_id, detail`` (the skus left in the cart) of users whose last add is after
    ``since`` with no purchase after it. A visitor's adds count for the user it last bought as
    (in ``commerce``: 90 days back); adds of never-identified visitors are left out."""
    known = (commerce.where(F.col("user_id").isNotNull())
             .groupBy("visitor_id").agg(F.max_by("user_id", "ts").alias("known_user")))
    rows = commerce.join(known, "visitor_id", "left").withColumn(
        "person", F.coalesce(F.col("user_id"), F.col("known_user")))
    adds = rows.where((F.col("event_type") == "add_to_cart") & F.col("person").isNotNull())
    last_add = adds.groupBy("person").agg(F.max("ts").alias("last_add"),
                                          F.array_sort(F.collect_set("sku")).alias("skus"))
    bought = rows.where(F.col("event_type") == "purchase").groupBy("person").agg(
        F.max("ts").alias("last_buy"))
    return (last_add.where(F.col("last_add") >= F.lit(since))
            .join(bought, "person", "left")
            .where(F.col("last_buy").isNull() | (F.col("last_buy") < F.col("last_add")))
            .select(F.col("person").alias("user_id"),
                    F.concat(F.lit("cart "), F.array_join("skus", " ")).alias("detail")))


def without_denied_consent(members: DataFrame, events: DataFrame) -> DataFrame:
    """Members whose latest event carrying a consent state did not deny it."""
    latest = Window.partitionBy("user_id").orderBy(F.desc("ts"), F.desc("event_id"))
    denied = (events.where(F.col("consent").isNotNull() & F.col("user_id").isNotNull())
              .withColumn("_n", F.row_number().over(latest)).where("_n = 1")
              .where(F.col("consent") == "denied").select("user_id"))
    return members.join(denied, "user_id", "left_anti")


def consent_events(spark: SparkSession, lake: Path, state_dir: Path, first, last) -> DataFrame:
    """``user_id, consent, ts, event_id`` of every lake event with a consent state."""
    from stream_jobs.lake import LakePaths, read_events

    raw = read_events(spark, LakePaths(lake), first, last)
    return raw.where(F.col("consent").isNotNull()).select(
        "user_id", "consent", F.col("enrichment.derived_ts").alias("ts"), "event_id")


def audience(spark: SparkSession, lake: Path, state_dir: Path, name: str,
             now: datetime, hours: int = 24) -> DataFrame:
    """The members of audience ``name`` (``segment:<name>`` or ``cart_abandoners``) now:
    ``audience, user_id, detail``, sorted by user id."""
    end = now.date()
    if name.startswith("segment:"):
        commerce = read_commerce_events(spark, lake, state_dir, HISTORY_START, end)
        members = segment_members(commerce, name.split(":", 1)[1], end)
    elif name == "cart_abandoners":
        since = now - timedelta(hours=hours)
        # a longer look back finds the user behind a visitor (an earlier purchase, say)
        commerce = read_commerce_events(spark, lake, state_dir,
                                        since.date() - IDENTITY_LOOKBACK, end)
        commerce = commerce.where(F.col("ts") <= F.lit(now))
        members = cart_abandoners(commerce, since)
    else:
        raise ValueError(f"unknown audience {name!r}: segment:<RFM segment> or cart_abandoners")
    consents = consent_events(spark, lake, state_dir, end - CONSENT_LOOKBACK, end)
    return (without_denied_consent(members, consents)
            .select(F.lit(name).alias("audience"), "user_id", "detail").orderBy("user_id"))
