"""Benchmark: sessionize a generated lake of 10 million events, Spark vs DuckDB.

    .venv/bin/python bench/sessionize_vs_duckdb.py [--events 10000000] [--work DIR]

1. DuckDB writes a lake in Clickloop's layout (``events/event_date=…/ingest=stream/``, the
   contract's nested columns): visitors with sessions of page views, cart adds and purchases,
   some arriving through campaigns, some switching campaign mid-visit, a few duplicate events.
2. ``stream_jobs.sessions.job`` (Spark, ``local[2]``) sessionizes all dates into ``sessions/``.
3. The same rules as one DuckDB SQL window query over the same Parquet files (2 threads), written
   to Parquet as well: the single-machine tool a user might pick instead.

Each engine runs in its own child process; the parent samples the resident memory of the child's
whole process tree (for Spark: the Python driver plus its JVM) every 0.2 s. Both results must
agree (sessions, events, page views, revenue, bounces) before any figure is printed. Output:
events/s, wall time, peak memory of each, and the ratio; then the Spark floor (its own child):
the same rows read, shuffled to their visitor and sorted by time, nothing written -- what any
Spark sessionizer pays before its rules, against DuckDB's whole job.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from peak_memory import run_child  # bench/ is sys.path[0] when a bench runs as a script

ROOT = Path(__file__).resolve().parent.parent
START = date(2024, 3, 1)
DAYS = 7
EVENTS_PER_SESSION = 8

GENERATE = """
COPY (
  WITH sessions AS (
    SELECT range AS sid,
           'v' || (hash(range * 7919) % {visitors})::VARCHAR AS visitor_id,
           TIMESTAMPTZ '{start} 00:00:00+00' + to_seconds((hash(range) % ({days} * 86400))::BIGINT)
             AS started,
           hash(range * 31) % 100 AS luck
    FROM range({sessions})
  ), events AS (
    SELECT s.*, n.range AS n,
           started + to_seconds((n.range * 75 + hash(sid * 13 + n.range) % 60)::BIGINT) AS ts,
           md5(sid::VARCHAR || '-' || n.range::VARCHAR) AS h
    FROM sessions s CROSS JOIN range({per_session}) n
  ), rows AS (
    SELECT
      1::BIGINT AS schema_version,
      substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a'
        || substr(h, 18, 3) || '-' || substr(h, 21, 12) AS event_id,
      CASE WHEN n = 6 AND luck < 30 THEN 'add_to_cart'
           WHEN n = 7 AND luck < 5 THEN 'purchase'
           WHEN n = 5 THEN 'product_view'
           ELSE 'page_view' END AS event_type,
      ts AS client_ts,
      visitor_id,
      'https://shop.example/p/' || (hash(sid + n) % 500)::VARCHAR AS url,
      CASE WHEN n = 7 AND luck < 5 THEN {{'order_id': 'o' || sid::VARCHAR,
        'revenue': ((hash(sid) % 20000) / 100)::DOUBLE, 'currency': 'EUR'}} END AS "order",
      {{'collector_ts': ts, 'derived_ts': ts, 'source': 'js',
        'utm': CASE WHEN (n = 0 AND luck BETWEEN 60 AND 79) OR (n = 4 AND luck BETWEEN 80 AND 81)
                    THEN {{'source': 'news', 'medium': 'email',
                           'campaign': 'c' || (luck % 4)::VARCHAR}} END,
        'referrer_class': CASE WHEN luck < 40 THEN 'search' WHEN luck < 60 THEN 'direct'
                               ELSE 'email' END,
        'ua': {{'device': CASE WHEN luck % 3 = 0 THEN 'mobile' ELSE 'desktop' END,
                'is_bot': false}},
        'geo': {{'country_code': CASE WHEN luck % 2 = 0 THEN 'GB' ELSE 'DE' END}},
        'site': 'shop.example'}} AS enrichment,
      CAST(ts AT TIME ZONE 'UTC' AS DATE) AS event_date,
      'stream' AS ingest,
      hash(sid * 3 + n) % 1000 = 0 AND n BETWEEN 1 AND 4 AS resent
    FROM events
  )
  -- one event in 1000 reaches the lake twice (a client retry)
  SELECT * EXCLUDE (resent) FROM rows
  UNION ALL
  SELECT * EXCLUDE (resent) FROM rows WHERE resent
) TO '{events}' (FORMAT parquet, PARTITION_BY (event_date, ingest), OVERWRITE_OR_IGNORE)
"""

# Clickloop's rules (docs/sessionization.md) as one SQL query
DUCKDB_SESSIONIZE = """
COPY (
  WITH ev AS (
    SELECT event_id, visitor_id, event_type, url,
           enrichment.derived_ts AS ts, enrichment.collector_ts AS cts, ingest,
           enrichment.utm.source AS us, enrichment.utm.medium AS um, enrichment.utm.campaign AS uc,
           enrichment.referrer_class AS referrer_class, enrichment.ua.device AS device,
           enrichment.geo.country_code AS country,
           CASE WHEN event_type = 'purchase' THEN "order".revenue END AS revenue,
           regexp_extract(url, '^[A-Za-z]+://[^/?#]*([^?#]*)', 1) AS page,
           -- a session's source, device and place: its landing page view, else first event
           epoch_us(enrichment.derived_ts)
             + CASE WHEN event_type = 'page_view' THEN 0 ELSE 10000000000000000 END AS lk
    FROM read_parquet('{events}/*/*/*.parquet', hive_partitioning = true)
    WHERE visitor_id IS NOT NULL AND enrichment.derived_ts IS NOT NULL
      AND event_date BETWEEN DATE '{first}' AND DATE '{last}'
  ), dedup AS (
    SELECT * FROM ev QUALIFY row_number() OVER (
      PARTITION BY event_id ORDER BY cts NULLS LAST, ingest NULLS LAST, ts NULLS LAST) = 1
  ), gaps AS (
    SELECT *,
      CASE WHEN us IS NOT NULL OR um IS NOT NULL OR uc IS NOT NULL
           THEN concat_ws(chr(31), coalesce(us, ''), coalesce(um, ''), coalesce(uc, '')) END
        AS camp,
      coalesce(epoch_us(ts) - epoch_us(lag(ts) OVER w) > {gap_us}, true) AS gap_break
    FROM dedup WINDOW w AS (PARTITION BY visitor_id ORDER BY ts, event_id)
  ), segs AS (
    SELECT *, sum(gap_break::INT) OVER (PARTITION BY visitor_id ORDER BY ts, event_id
                                        ROWS UNBOUNDED PRECEDING) AS seg
    FROM gaps
  ), camps AS (
    SELECT *, last_value(camp IGNORE NULLS) OVER (
        PARTITION BY visitor_id, seg ORDER BY ts, event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_camp
    FROM segs
  ), starts AS (
    SELECT *, max(CASE WHEN gap_break OR (camp IS NOT NULL AND camp IS DISTINCT FROM prev_camp)
                       THEN ts END)
                OVER (PARTITION BY visitor_id ORDER BY ts, event_id ROWS UNBOUNDED PRECEDING)
                AS session_start
    FROM camps
  )
  SELECT
    substr(sha256(visitor_id || '|' || epoch_us(session_start)::VARCHAR), 1, 32) AS session_id,
    visitor_id, session_start, max(ts) AS session_end,
    (epoch_ms(max(ts)) - epoch_ms(session_start)) / 1000.0 AS duration_s,
    count(*) AS events,
    count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
    arg_min(page, ts) FILTER (WHERE event_type = 'page_view') AS landing_page,
    arg_max(page, ts) FILTER (WHERE event_type = 'page_view') AS exit_page,
    arg_min(referrer_class, lk) AS referrer_class,
    arg_min(us, lk) AS utm_source, arg_min(um, lk) AS utm_medium,
    arg_min(uc, lk) AS utm_campaign,
    arg_min(device, lk) AS device, arg_min(country, lk) AS country,
    count(*) FILTER (WHERE event_type = 'add_to_cart') AS cart_adds,
    count(*) FILTER (WHERE event_type = 'purchase') AS orders,
    coalesce(sum(revenue), 0.0) AS revenue,
    count(*) FILTER (WHERE event_type = 'page_view') = 1 AS bounce,
    CAST(session_start AT TIME ZONE 'UTC' AS DATE) AS session_date
  FROM starts
  GROUP BY visitor_id, session_start
  HAVING CAST(session_start AT TIME ZONE 'UTC' AS DATE) BETWEEN DATE '{start}' AND DATE '{end}'
) TO '{out}' (FORMAT parquet, PARTITION_BY (session_date), OVERWRITE_OR_IGNORE)
"""

CHECK = """
SELECT count(*) AS sessions, sum(events) AS events, sum(page_views) AS page_views,
       round(sum(revenue), 2) AS revenue, count(*) FILTER (WHERE bounce) AS bounces,
       count(DISTINCT session_id) AS ids
FROM read_parquet('{path}/*/*.parquet', hive_partitioning = true)
"""


def generate(work: Path, events: int) -> Path:
    import duckdb

    lake = work / "lake"
    marker = lake / f".generated-{events}"
    if marker.exists():
        return lake
    shutil.rmtree(lake, ignore_errors=True)
    (lake / "events").mkdir(parents=True)
    sessions = events // EVENTS_PER_SESSION
    con = duckdb.connect()
    con.execute("SET threads = 2; SET TimeZone = 'UTC'")
    con.execute(GENERATE.format(visitors=max(1, sessions // 3), start=START.isoformat(),
                                days=DAYS, sessions=sessions, per_session=EVENTS_PER_SESSION,
                                events=lake / "events"))
    marker.touch()
    return lake


def _spark_child(lake: Path, work: Path, memory: str, partitions: int) -> None:
    """This child process's settings (read once by ``Settings.from_env``) and import path."""
    os.environ.update({
        "CLICKLOOP_LAKE_DIR": str(lake), "CLICKLOOP_STATE_DIR": str(work / "state"),
        "CLICKLOOP_SPARK_MASTER": "local[2]", "CLICKLOOP_SPARK_DRIVER_MEMORY": memory,
        "CLICKLOOP_SPARK_SHUFFLE_PARTITIONS": str(partitions),
    })
    sys.path.insert(0, str(ROOT))


def run_spark(lake: Path, work: Path, memory: str, partitions: int) -> dict:
    _spark_child(lake, work, memory, partitions)
    from stream_jobs.sessions.job import run
    from stream_jobs.spark_session import build_spark
    from tracker.settings import Settings

    settings = Settings.from_env()
    shutil.rmtree(lake / "sessions", ignore_errors=True)
    t0 = time.perf_counter()
    spark = build_spark(settings, "bench-sessionize",  # no progress bar in the output
                        extra={"spark.ui.showConsoleProgress": "false"})
    started = time.perf_counter()
    summary = run(spark, settings, START, START + timedelta(days=DAYS - 1))
    done = time.perf_counter()
    spark.stop()
    return {"seconds": done - started, "startup_s": started - t0, "events": summary["events"],
            "output": str(lake / "sessions")}


def run_spark_floor(lake: Path, work: Path, memory: str, partitions: int) -> dict:
    """What any Spark sessionizer must do before its own rules, timed apart (the floor): read
    the rows it needs (``event_rows`` over the same dates and margin), then move them to their
    visitor and sort each visitor's events by time (the one shuffle and sort a session window
    needs). Nothing is written (a ``noop`` sink), so the floor is below any real job."""
    _spark_child(lake, work, memory, partitions)
    from stream_jobs.lake import LakePaths, read_events
    from stream_jobs.sessions.rules import event_rows
    from stream_jobs.spark_session import build_spark
    from tracker.settings import Settings

    settings = Settings.from_env()
    spark = build_spark(settings, "bench-sessionize-floor",
                        extra={"spark.ui.showConsoleProgress": "false"})
    end = START + timedelta(days=DAYS - 1)
    rows = event_rows(read_events(spark, LakePaths(lake), START - timedelta(days=1),
                                  end + timedelta(days=1)))
    started = time.perf_counter()
    rows.write.format("noop").mode("overwrite").save()
    scanned = time.perf_counter()
    (rows.repartition(partitions, "visitor_id").sortWithinPartitions("visitor_id", "ts")
     .write.format("noop").mode("overwrite").save())
    done = time.perf_counter()
    spark.stop()
    # the second pass reads again (nothing is cached) on a JVM the first one warmed: its time
    # is the floor, and an optimistic one
    return {"scan_s": scanned - started, "seconds": done - scanned}


def run_duckdb(lake: Path, work: Path) -> dict:
    import duckdb

    out = work / "duckdb_sessions"
    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect()
    con.execute(f"SET threads = 2; SET TimeZone = 'UTC'; "
                f"SET temp_directory = '{work / 'duckdb_tmp'}'")
    end = START + timedelta(days=DAYS - 1)
    started = time.perf_counter()
    con.execute(DUCKDB_SESSIONIZE.format(
        events=lake / "events", first=START - timedelta(days=1), last=end + timedelta(days=1),
        start=START, end=end, gap_us=30 * 60 * 1_000_000, out=out))
    done = time.perf_counter()
    events = con.execute(
        f"SELECT count(*) FROM read_parquet('{lake}/events/*/*/*.parquet', "
        f"hive_partitioning = true) WHERE event_date BETWEEN DATE '{START}' AND DATE '{end}'"
    ).fetchone()[0]
    return {"seconds": done - started, "startup_s": 0.0, "events": events, "output": str(out)}


def measured(args: list[str]) -> tuple[dict, int]:
    """Run this script as a child for one engine; its JSON line and peak process-tree RSS."""
    return run_child(__file__, args, ROOT)


def check(path: str) -> tuple:
    import duckdb

    return duckdb.connect().execute(CHECK.format(path=path)).fetchone()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/clickloop-bench-sessionize"))
    parser.add_argument("--spark-memory", default="3g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the Spark floor (read the needed rows, shuffle and sort them "
                        "by visitor, write nothing)")
    parser.add_argument("--engine", choices=("spark", "spark-floor", "duckdb"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.engine:  # child mode
        lake = args.work / "lake"
        run = {"spark": run_spark, "spark-floor": run_spark_floor,
               "duckdb": lambda lake, work, *_: run_duckdb(lake, work)}[args.engine]
        result = run(lake, args.work, args.spark_memory, args.shuffle_partitions)
        print(json.dumps(result), flush=True)
        return 0

    t0 = time.perf_counter()
    lake = generate(args.work, args.events)
    print(f"lake: {lake} ({args.events:,} events requested; generated in "
          f"{time.perf_counter() - t0:.1f} s or reused)", flush=True)
    common = ["--work", str(args.work), "--spark-memory", args.spark_memory,
              "--shuffle-partitions", str(args.shuffle_partitions)]
    results = {}
    for engine in ("spark", "duckdb"):
        result, peak = measured([*common, "--engine", engine])
        result["peak_rss"] = peak
        results[engine] = result
        print(f"{engine}: done in {result['seconds']:.1f} s", flush=True)

    spark_totals, duck_totals = check(results["spark"]["output"]), check(results["duckdb"]
                                                                         ["output"])
    print(f"\nsessions, events, page views, revenue, bounces, ids\n"
          f"  spark:  {spark_totals}\n  duckdb: {duck_totals}")
    if spark_totals != duck_totals:
        print("MISMATCH: the two engines disagree; figures below are not comparable")
        return 1
    print(f"\n{'engine':<8} {'events':>12} {'seconds':>9} {'events/s':>12} {'peak RSS':>10}")
    for engine, r in results.items():
        print(f"{engine:<8} {r['events']:>12,} {r['seconds']:>9.1f} "
              f"{r['events'] / r['seconds']:>12,.0f} {r['peak_rss'] / 2**20:>8,.0f} MB")
    print(f"(Spark startup, not counted: {results['spark']['startup_s']:.1f} s)")
    ratio = ((results["spark"]["events"] / results["spark"]["seconds"])
             / (results["duckdb"]["events"] / results["duckdb"]["seconds"]))
    print(f"ratio Spark/DuckDB events/s: {ratio:.2f} "
          f"(machine load average at the end: {os.getloadavg()[0]:.1f})")
    if args.floor:
        floor, _peak = measured([*common, "--engine", "spark-floor"])
        duck_s = results["duckdb"]["seconds"]
        print(f"\nSpark floor, no sessionizing rules and no output (same rows, same dates):\n"
              f"  scan the needed columns (cold JVM):        {floor['scan_s']:6.1f} s, "
              f"{duck_s / floor['scan_s']:.2f}x DuckDB's whole job\n"
              f"  scan + shuffle and sort by visitor (warm): {floor['seconds']:6.1f} s, "
              f"{duck_s / floor['seconds']:.2f}x DuckDB's whole job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
