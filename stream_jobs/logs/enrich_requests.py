"""Enrichment of parsed log requests with the collector's own functions, vectorised.

The collector's enrichment (:mod:`enrichment`) is Python, so the log parser calls it
through pandas UDFs (Arrow batches, not one Python call per Spark row) and only over what
differs: the user-agent table is built over DISTINCT user agents and the address table over
DISTINCT client addresses, then joined back; traffic source (UTM + referrer class) runs per
page row through an LRU cache because a site has few distinct landing URL/referrer pairs.
A log line and a live event from the same browser therefore get the same ``enrichment`` block.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame
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


def user_agent_udf() -> Any:
    """pandas UDF: user agent string → ``enrichment.ua`` struct (None → all-null struct)."""
    ua_type = enrichment_type("ua")
    names = [f.name for f in ua_type.fields]

    @F.pandas_udf(ua_type)  # type: ignore[call-overload]
    def enrich_user_agents(agents: pd.Series) -> pd.DataFrame:
        from enrichment import user_agent_block

        blocks = [(user_agent_block(a) if isinstance(a, str) else None) or {} for a in agents]
        return pd.DataFrame([[b.get(n) for n in names] for b in blocks], columns=names,
                            dtype=object)

    return enrich_user_agents


@cache
def geo_reader(path: str | None) -> Any:
    """One GeoIP reader per Python worker process (workers are reused across tasks)."""
    from enrichment import open_geo_reader

    return open_geo_reader(Path(path)) if path else None


def ip_udf(geoip_db: Path | None, ipv4_prefix: int, ipv6_prefix: int) -> Any:
    """pandas UDF: client address → anonymised address + geo fields (flat struct)."""
    out_type = ip_type()
    names = [f.name for f in out_type.fields]
    db = str(geoip_db) if geoip_db else None

    @F.pandas_udf(out_type)  # type: ignore[call-overload]
    def enrich_addresses(addresses: pd.Series) -> pd.DataFrame:
        from enrichment import anonymise_ip, geo_block
        from stream_jobs.logs.enrich_requests import geo_reader

        reader = geo_reader(db)
        rows = []
        for address in addresses:
            if not isinstance(address, str):
                rows.append([None] * len(names))
                continue
            geo = geo_block(address, reader) or {}
            rows.append([anonymise_ip(address, ipv4_prefix, ipv6_prefix),
                         *[geo.get(n) for n in names[1:]]])
        return pd.DataFrame(rows, columns=names, dtype=object)

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


def user_agents(pages: DataFrame) -> DataFrame:
    """One row per distinct user agent of ``pages`` (``ua_key``, empty when none) with its
    ``ua`` struct: each agent is parsed once, however many requests it made."""
    return (pages.groupBy("ua_key").count()
            .withColumn("ua", user_agent_udf()(F.when(F.col("ua_key") != "", F.col("ua_key"))))
            .select("ua_key", "ua"))


def enrich_pages(pages: DataFrame, agents: DataFrame, geoip_db: Path | None, ipv4_prefix: int,
                 ipv6_prefix: int) -> DataFrame:
    """Page requests with the collector's enrichment: ``ua`` (from :func:`user_agents`),
    ``ip_anon`` and ``geo`` (each address looked up once), ``traffic``, ``utm`` and the
    referrer's class and host."""
    addresses = (pages.select("ip").distinct()
                 .withColumn("ipinfo", ip_udf(geoip_db, ipv4_prefix, ipv6_prefix)(F.col("ip"))))
    return (pages.join(agents, "ua_key", "left").join(addresses, "ip", "left")
            .withColumn("traffic", traffic_udf()(F.col("url"), F.col("referrer")))
            .withColumn("ip_anon", F.col("ipinfo.ip_anon"))
            .withColumn("geo", geo_struct(F.col("ipinfo")))
            .withColumn("utm", utm_struct(F.col("traffic")))
            .withColumn("referrer_class", F.col("traffic.referrer_class"))
            .withColumn("referrer_host", F.col("traffic.referrer_host")))
