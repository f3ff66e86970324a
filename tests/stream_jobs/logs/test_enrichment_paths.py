"""The two places log enrichment runs give the same lake rows.

A run with few distinct user agents, addresses and (URL, referrer) pairs enriches them on the
driver; one with many uses pandas UDFs on the executors (``lookup_limit`` picks the path). The
expected blocks are the collector's own functions called directly on hand-written lines, so a
path that drifts from the collector (or from the other path) fails here.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest

from enrichment import anonymise_ip, referrer_class, user_agent_block
from stream_jobs.lake import LakePaths
from stream_jobs.logs.input_files import Site, prepare_files
from stream_jobs.logs.job import run
from stream_jobs.spark_session import (
    BATCH_JAVA_OPTIONS,
    EXECUTOR_JAVA_OPTIONS,
    SHORT_JOB_JAVA_OPTIONS,
    spark_conf,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
BING = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
LINES = [
    f'81.2.69.142 - - [09/Mar/2024:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5 "-" '
    f'"{FIREFOX}"',
    f'81.2.69.142 - - [09/Mar/2024:10:00:05 +0000] "GET /shop?utm_source=news&utm_medium=email '
    f'HTTP/1.1" 200 5 "https://www.google.com/search?q=x" "{FIREFOX}"',
    f'2001:db8:85a3::8a2e:370:7334 - - [09/Mar/2024:10:01:00 +0000] "GET /about HTTP/1.1" 304 0 '
    f'"https://shop.example/index.html" "{BING}"',
    '- - - [09/Mar/2024:10:02:00 +0000] "GET /no-agent HTTP/1.1" 200 5 "-" "-"',
    '81.2.69.142 - - [09/Mar/2024:10:03:00 +0000] "GET /empty-agent HTTP/1.1" 200 5 "-" ""',
    '81.2.69.142 - - [09/Mar/2024:10:04:00 +0000] "GET /a.css HTTP/1.1" 200 5 "-" "x"',
]


def lake_rows(spark, settings):
    events = spark.read.parquet(str(LakePaths(settings.lake).events))
    return sorted(events.drop("ingest").collect(), key=lambda r: r.url)


@pytest.mark.spark
def test_driver_and_udf_enrichment_write_the_same_rows(spark, spark_settings, tmp_path):
    log = tmp_path / "site.log"
    log.write_text("\n".join(LINES) + "\n")
    written = {}
    for name, limit in (("driver", 1000), ("udf", 0)):
        settings = dataclasses.replace(spark_settings, lake_dir=tmp_path / name)
        summary = run(spark, settings, prepare_files([log], "auto"),
                      site=Site("https", "shop.example"), now=NOW, lookup_limit=limit)
        assert (summary["page_views"], summary["static"], summary["bots"]) == (5, 1, 2)
        written[name] = lake_rows(spark, settings)
    assert written["driver"] == written["udf"]

    by_url = {r.url: r for r in written["driver"]}
    shop = by_url["https://shop.example/shop?utm_source=news&utm_medium=email"]
    ua = shop.enrichment.ua.asDict()
    assert {k: v for k, v in ua.items() if v is not None} == user_agent_block(FIREFOX)
    assert shop.enrichment.ip_anon == anonymise_ip("81.2.69.142") == "81.2.69.0"
    assert (shop.enrichment.utm.source, shop.enrichment.utm.medium) == ("news", "email")
    assert shop.enrichment.referrer_class == referrer_class(
        shop.url, "https://www.google.com/search?q=x") == "email"  # utm_medium wins
    about = by_url["https://shop.example/about"]
    assert about.enrichment.ua.is_bot is True
    assert about.enrichment.ip_anon == anonymise_ip("2001:db8:85a3::8a2e:370:7334")
    assert about.enrichment.referrer_class == "internal"
    no_agent = by_url["https://shop.example/no-agent"]
    assert no_agent.enrichment.ip_anon is None and no_agent.enrichment.ua.is_bot is True
    empty_agent = by_url["https://shop.example/empty-agent"]
    assert empty_agent.enrichment.ua.asDict() == dict.fromkeys(empty_agent.enrichment.ua.asDict())
    assert empty_agent.enrichment.referrer_class == by_url[
        "https://shop.example/index.html"].enrichment.referrer_class == "direct"


@pytest.mark.spark
def test_a_file_without_page_views_enriches_nothing(spark, spark_settings, tmp_path):
    log = tmp_path / "static.log"
    log.write_text("\n".join(LINES[-1:]) + "\n")
    settings = dataclasses.replace(spark_settings, lake_dir=tmp_path / "lake")
    summary = run(spark, settings, prepare_files([log], "combined"), now=NOW)
    assert (summary["static"], summary["page_views"], summary["events_written"]) == (1, 0, 0)


def test_the_driver_jvm_is_started_for_a_short_job_or_a_batch_job(spark_settings):
    options = spark_conf(spark_settings, short_job=True)["spark.driver.extraJavaOptions"]
    assert options.split() == ["-Duser.timezone=UTC", *SHORT_JOB_JAVA_OPTIONS.split()]
    options = spark_conf(spark_settings)["spark.driver.extraJavaOptions"]
    assert options.split() == ["-Duser.timezone=UTC", *BATCH_JAVA_OPTIONS.split()]
    # generated code past HotSpot's 8,000-byte method limit is compiled, not interpreted
    assert "-XX:-DontCompileHugeMethods" in options.split()
    assert "-XX:-DontCompileHugeMethods" in spark_conf(spark_settings, under_spark_submit=True)[
        "spark.executor.extraJavaOptions"].split()
    assert EXECUTOR_JAVA_OPTIONS.split()[0] == "-Duser.timezone=UTC"
    # under spark-submit the driver JVM already runs: nothing to change
    assert spark_conf(spark_settings, under_spark_submit=True, short_job=True)[
        "spark.driver.extraJavaOptions"] == "-Duser.timezone=UTC"


def test_the_jvm_running_the_tasks_compiles_generated_methods_past_the_jit_limit(spark):
    # the tests' session is started as a batch job's: the option reached the JVM running tasks
    jvm = spark.sparkContext._jvm
    mx_class = jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")
    bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(mx_class)
    assert bean.getVMOption("DontCompileHugeMethods").getValue() == "false"


def test_the_enrichment_warm_up_compiles_the_rules_in_a_thread_of_its_own():
    # the CLI and the bench start it before Spark's JVM and join it once Spark is up
    from enrichment import user_agent
    from stream_jobs.logs.enrich_requests import start_warm_up

    user_agent._extractors.cache_clear()
    user_agent._fast_parser.cache_clear()
    thread = start_warm_up()
    assert thread.daemon and thread is not threading.current_thread()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert user_agent._fast_parser.cache_info().currsize == 1
    assert user_agent._extractors.cache_info().currsize == 1
