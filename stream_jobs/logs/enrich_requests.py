"""Enrichment of parsed log requests with the collector's own functions, over distinct values.

The collector's enrichment (:mod:`enrichment`) is Python. It runs only over what differs: the
DISTINCT user agents, client addresses and (page URL, referrer) pairs of a run's page views
(a site has few of each: 372 user agents in the 10,000-line sample), and the results are
joined back. Where it runs depends on how many there are (:func:`lookups`):

- up to :data:`DRIVER_LOOKUP_LIMIT` in all: on the driver, and the tables go to the JVM through
  Arrow (no Python worker process is started: a short parse saves their start-up, pandas and
  the user-agent rules compiled once per worker);
- more: pandas UDFs on the executors (Arrow batches, not one Python call per Spark row), so a
  big log's enrichment scales out with the cluster.

Both paths call the same per-value functions (:func:`ua_row`, :func:`address_row`,
:func:`traffic_source`) and convert through Arrow with the same types, so they give the same
rows. A log line and a live event from the same browser get the same ``enrichment`` block.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tracker.contract.spark import event_struct

CACHE_SIZE = 65536


def enrichment_type(name: str) -> Any:
    """Spark type of ``enrichment.<name>`` in the contract."""
    enrichment = event_struct()["enrichment"].dataType
    return enrichment[name].dataType


def ip_type() -> T.StructType:
    """Flat result of the address UDF (nested structs do not cross Arrow reliably)."""
    geo = enrichment_type("geo")
    return T.StructType([T.StructField("ip_anon", T.StringType()), *geo.fields])


def traffic_type() -> T.StructType:
    utm = enrichment_type("utm")
    return T.StructType([
        T.StructField("referrer_class", T.StringType()),
        T.StructField("referrer_host", T.StringType()),
        *[T.StructField(f"utm_{f.name}", f.dataType) for f in utm.fields],
    ])


def ua_row(agent: str | None) -> list[Any]:
    """The flat ``enrichment.ua`` fields of one user agent (all None when there is none)."""
    from enrichment import user_agent_block

    block = (user_agent_block(agent) if isinstance(agent, str) else None) or {}
    return [block.get(f.name) for f in enrichment_type("ua").fields]


def user_agent_udf() -> Any:
    """pandas UDF: user agent string → ``enrichment.ua`` struct (None → all-null struct)."""
    ua_type = enrichment_type("ua")
    names = [f.name for f in ua_type.fields]

    @F.pandas_udf(ua_type)  # type: ignore[call-overload]
    def enrich_user_agents(agents: pd.Series) -> pd.DataFrame:
        from stream_jobs.logs.enrich_requests import ua_row

        return pd.DataFrame([ua_row(a) for a in agents], columns=names, dtype=object)

    return enrich_user_agents


@cache
def geo_reader(path: str | None) -> Any:
    """One GeoIP reader per Python worker process (workers are reused across tasks)."""
    from enrichment import open_geo_reader

    return open_geo_reader(Path(path)) if path else None


def address_row(address: str | None, reader: Any, ipv4_prefix: int, ipv6_prefix: int
                ) -> list[Any]:
    """The anonymised address and flat geo fields of one client address (see :func:`ip_type`)."""
    from enrichment import anonymise_ip, geo_block

    names = [f.name for f in ip_type().fields]
    if not isinstance(address, str):
        return [None] * len(names)
    geo = geo_block(address, reader) or {}
    return [anonymise_ip(address, ipv4_prefix, ipv6_prefix), *[geo.get(n) for n in names[1:]]]


def ip_udf(geoip_db: Path | None, ipv4_prefix: int, ipv6_prefix: int) -> Any:
    """pandas UDF: client address → anonymised address + geo fields (flat struct)."""
    out_type = ip_type()
    names = [f.name for f in out_type.fields]
    db = str(geoip_db) if geoip_db else None

    @F.pandas_udf(out_type)  # type: ignore[call-overload]
    def enrich_addresses(addresses: pd.Series) -> pd.DataFrame:
        from stream_jobs.logs.enrich_requests import address_row, geo_reader

        reader = geo_reader(db)
        return pd.DataFrame([address_row(a, reader, ipv4_prefix, ipv6_prefix)
                             for a in addresses], columns=names, dtype=object)

    return enrich_addresses


@lru_cache(maxsize=CACHE_SIZE)
def traffic_source(url: str | None, referrer: str | None) -> tuple[Any, ...]:
    """(referrer_class, referrer_host, utm_source, …, utm_content) of a page view."""
    from enrichment import host_of, referrer_class, utm_block

    utm = utm_block(url) or {}
    return (referrer_class(url, referrer), host_of(referrer),
            *[utm.get(k) for k in ("source", "medium", "campaign", "term", "content")])


def traffic_udf() -> Any:
    """pandas UDF: (page URL, referrer) → referrer class, referrer host and UTM fields."""
    out_type = traffic_type()
    names = [f.name for f in out_type.fields]

    @F.pandas_udf(out_type)  # type: ignore[call-overload]
    def enrich_traffic(urls: pd.Series, referrers: pd.Series) -> pd.DataFrame:
        from stream_jobs.logs.enrich_requests import traffic_source

        rows = [traffic_source(u if isinstance(u, str) else None,
                               r if isinstance(r, str) else None)
                for u, r in zip(urls, referrers, strict=True)]
        return pd.DataFrame(rows, columns=names, dtype=object)

    return enrich_traffic


def geo_struct(info: Column) -> Column:
    """Rebuild ``enrichment.geo`` from the flat address struct (null when nothing is known)."""
    fields = enrichment_type("geo").fields
    anything = F.lit(False)
    for f in fields:
        anything = anything | info[f.name].isNotNull()
    return F.when(anything, F.struct(*[info[f.name].alias(f.name) for f in fields]))


def utm_struct(traffic: Column) -> Column:
    """Rebuild ``enrichment.utm`` from the traffic struct (null when there are no UTM tags)."""
    fields = enrichment_type("utm").fields
    anything = F.lit(False)
    for f in fields:
        anything = anything | traffic[f"utm_{f.name}"].isNotNull()
    return F.when(anything, F.struct(*[traffic[f"utm_{f.name}"].alias(f.name) for f in fields]))


# Distinct user agents + addresses + (URL, referrer) pairs enriched on the driver; more go to
# pandas UDFs on the executors. On 2 cores the driver wins up to roughly this many (a user agent
# takes ~0.7 ms, the rest ~0.02 ms; a Python worker's start-up costs ~2-3 s of CPU).
DRIVER_LOOKUP_LIMIT = 20_000


def warm_up() -> None:
    """Load what enriching on the driver needs (pyarrow; the collector's enrichment with its
    user-agent rules compiled, ~2 s of CPU) ahead of time, e.g. in a thread while Spark's JVM
    starts on the other core."""
    import pyarrow  # noqa: F401  (the Arrow path of createDataFrame)

    from enrichment.user_agent import warm_up as compile_rules

    compile_rules()


def start_warm_up() -> threading.Thread:
    """:func:`warm_up` in a daemon thread, started: call it before ``build_spark`` and join the
    thread once Spark is up (the JVM's start leaves a core idle for it)."""
    thread = threading.Thread(target=warm_up, name="enrichment-warm-up", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True)
class Lookups:
    """The enrichment of a run's distinct values, as tables to join the page requests with.

    ``agents``: ``ua_key``, ``ua`` (struct); ``addresses``: ``ip``, ``ipinfo`` (flat struct,
    :func:`ip_type`); ``traffic``: ``url``, ``referrer``, ``traffic`` (:func:`traffic_type`),
    or None when the traffic source is computed per page row by a pandas UDF.
    """

    agents: DataFrame
    addresses: DataFrame
    traffic: DataFrame | None


def lookups(spark: SparkSession, pages: DataFrame, geoip_db: Path | None, ipv4_prefix: int,
            ipv6_prefix: int, limit: int = DRIVER_LOOKUP_LIMIT) -> Lookups:
    """The enrichment tables of ``pages`` (columns ``ua_key``, ``ip``, ``url``, ``referrer``):
    built on the driver when they have at most ``limit`` distinct values in all (one Spark job
    collects them), else with pandas UDFs on the executors."""
    keys = distinct_keys(pages, limit)
    if keys is None:
        return udf_lookups(pages, geoip_db, ipv4_prefix, ipv6_prefix)
    agents, addresses, pairs = keys
    ua_names = [f.name for f in enrichment_type("ua").fields]
    reader = geo_reader(str(geoip_db) if geoip_db else None)
    agent_table = arrow_table(
        spark, [[a, *ua_row(a or None)] for a in agents],
        T.StructType([T.StructField("ua_key", T.StringType()), *enrichment_type("ua").fields]))
    address_table = arrow_table(
        spark, [[a, *address_row(a, reader, ipv4_prefix, ipv6_prefix)] for a in addresses],
        T.StructType([T.StructField("ip", T.StringType()), *ip_type().fields]))
    traffic_table = arrow_table(
        spark, [[u, r, *traffic_source(u, r)] for u, r in pairs],
        T.StructType([T.StructField("url", T.StringType()),
                      T.StructField("referrer", T.StringType()), *traffic_type().fields]))
    return Lookups(
        agents=F.broadcast(agent_table.select(
            "ua_key", F.struct(*[F.col(n) for n in ua_names]).alias("ua"))),
        addresses=F.broadcast(address_table.select(
            "ip", F.struct(*[F.col(f.name) for f in ip_type().fields]).alias("ipinfo"))),
        traffic=F.broadcast(traffic_table.select(
            F.col("url").alias("_url"), F.col("referrer").alias("_referrer"),
            F.struct(*[F.col(f.name) for f in traffic_type().fields]).alias("traffic"))),
    )


def distinct_keys(pages: DataFrame, limit: int
                  ) -> tuple[list[str], list[str], list[tuple[str, str | None]]] | None:
    """The distinct user agents (``ua_key``), addresses (non-null) and (URL, referrer) pairs of
    ``pages``; None when there are more than ``limit`` in all."""
    none = F.lit(None).cast("string")
    tagged = (pages.select(F.lit(0).alias("kind"), F.col("ua_key").alias("a"), none.alias("b"))
              .unionByName(pages.where(F.col("ip").isNotNull())
                           .select(F.lit(1).alias("kind"), F.col("ip").alias("a"), none.alias("b")))
              .unionByName(pages.select(F.lit(2).alias("kind"), F.col("url").alias("a"),
                                        F.col("referrer").alias("b"))))
    rows = tagged.distinct().limit(limit + 1).collect()
    if len(rows) > limit:
        return None
    by_kind: dict[int, list[tuple[str, str | None]]] = {0: [], 1: [], 2: []}
    for row in rows:
        by_kind[row["kind"]].append((row["a"], row["b"]))
    return [a for a, _ in by_kind[0]], [a for a, _ in by_kind[1]], by_kind[2]


def arrow_table(spark: SparkSession, rows: list[list[Any]], schema: T.StructType) -> DataFrame:
    """``rows`` as a DataFrame sent to the JVM through Arrow (the conversion the pandas UDFs'
    results go through), without Python worker processes."""
    frame = pd.DataFrame(rows, columns=[f.name for f in schema.fields], dtype=object)
    return spark.createDataFrame(frame, schema)


def udf_lookups(pages: DataFrame, geoip_db: Path | None, ipv4_prefix: int, ipv6_prefix: int
                ) -> Lookups:
    """The enrichment tables computed by pandas UDFs on the executors: one row per distinct
    user agent and address, each parsed once; the traffic source per page row."""
    agents = (pages.groupBy("ua_key").count()
              .withColumn("ua", user_agent_udf()(F.when(F.col("ua_key") != "", F.col("ua_key"))))
              .select("ua_key", "ua"))
    addresses = (pages.select("ip").distinct()
                 .withColumn("ipinfo", ip_udf(geoip_db, ipv4_prefix, ipv6_prefix)(F.col("ip"))))
    return Lookups(agents, addresses, None)


def enrich_pages(pages: DataFrame, tables: Lookups) -> DataFrame:
    """Page requests with the collector's enrichment: ``ua``, ``ip_anon`` and ``geo``,
    ``traffic``, ``utm`` and the referrer's class and host (from :func:`lookups`)."""
    joined = pages.join(tables.agents, "ua_key", "left").join(tables.addresses, "ip", "left")
    if tables.traffic is None:
        joined = joined.withColumn("traffic", traffic_udf()(F.col("url"), F.col("referrer")))
    else:  # every page's pair is in the table (a missing value matches a missing one)
        joined = (joined.join(tables.traffic,
                              F.col("url").eqNullSafe(F.col("_url"))
                              & F.col("referrer").eqNullSafe(F.col("_referrer")), "left")
                  .drop("_url", "_referrer"))
    return (joined
            .withColumn("ip_anon", F.col("ipinfo.ip_anon"))
            .withColumn("geo", geo_struct(F.col("ipinfo")))
            .withColumn("utm", utm_struct(F.col("traffic")))
            .withColumn("referrer_class", F.col("traffic.referrer_class"))
            .withColumn("referrer_host", F.col("traffic.referrer_host")))
