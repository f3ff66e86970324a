"""Web log parsing: exact counts on the shared sample, hostile lines, formats, idempotent re-runs.

Expected numbers are computed independently of the job: the shared sample's counts were
established with awk and a plain-Python regex pass (see :func:`independent_counts`, which the
test also runs), hostile-file expectations are written by hand line by line.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from enrichment import user_agent_block
from stream_jobs.lake import LakePaths
from stream_jobs.logs.formats import TEXT_FORMATS, UnknownFormat, detect_format
from stream_jobs.logs.input_files import LogInputError, Site, ingest_name, prepare_files
from stream_jobs.logs.job import classified_requests, run
from stream_jobs.logs.parsing import (
    LOG_NAMESPACE,
    PATH_PATTERN,
    LogRules,
    lower_case,
    uuid5_column,
)

pytestmark = pytest.mark.spark

SAMPLE = Path(__file__).resolve().parents[4] / "shared" / "data" / "logs" / \
    "apache_combined_sample.log"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Established with awk over the sample (page = no extension or a page extension; static = any
# other extension; page views = GET with 200/304) and checked by independent_counts():
SAMPLE_COUNTS = {"lines": 10000, "page_views": 3770, "static": 5948, "filtered": 281,
                 "bots": 2016, "rejects": 1}
SAMPLE_REJECT_LINE = 8899  # its user agent is cut off before the closing quote


def independent_counts(path: Path) -> dict[str, int]:
    """The documented rules, re-implemented in plain Python (no Spark, no job code)."""
    line_re = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (\S+) "([^"]*)" '
                         r'"([^"]*)"$')
    pages = {"html", "htm", "xhtml", "shtml", "php", "asp", "aspx", "jsp", "cfm", "cgi"}
    counts = dict.fromkeys(SAMPLE_COUNTS, 0)
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            counts["lines"] += 1
            match = line_re.match(line.rstrip("\n"))
            if not match:
                counts["rejects"] += 1
                continue
            _, _, request, status, _, _, agent = match.groups()
            method, target = request.split(" ")[:2]
            path_part = re.sub(r"^https?://[^/?#]*", "", target).split("?")[0].split("#")[0]
            last = path_part.rsplit("/", 1)[-1]
            if "." in last and last.rsplit(".", 1)[1].lower() not in pages:
                counts["static"] += 1
            elif method != "GET" or status not in ("200", "304"):
                counts["filtered"] += 1
            else:
                counts["page_views"] += 1
                counts["bots"] += bool((user_agent_block(agent) or {}).get("is_bot"))
    return counts


@pytest.fixture
def lake_settings(spark_settings, tmp_path):
    return dataclasses.replace(spark_settings, lake_dir=tmp_path / "lake")


def lake_events(spark, settings):
    return spark.read.parquet(str(LakePaths(settings.lake).events))


@pytest.mark.skipif(not SAMPLE.is_file(), reason="shared sample log not present")
def test_shared_sample_counts_and_idempotent_reruns(spark, lake_settings):
    independent = independent_counts(SAMPLE)
    # bots are the collector's verdict (enrichment.user_agent_block), whose lists move on
    # their own: the awk-established counts are the rest, the bots are recounted
    assert {k: v for k, v in independent.items() if k != "bots"} == \
        {k: v for k, v in SAMPLE_COUNTS.items() if k != "bots"}
    assert 1900 < independent["bots"] < 2400  # ~half the page views of this sample
    expected = {**SAMPLE_COUNTS, "bots": independent["bots"]}

    files = prepare_files([SAMPLE], "auto")
    assert files[0].format == "combined"
    summary = run(spark, lake_settings, files, site=Site("http", "semicomplete.com"), now=NOW)
    assert {k: summary[k] for k in SAMPLE_COUNTS} == expected
    assert summary["events_written"] == 3770

    events = lake_events(spark, lake_settings)
    assert events.count() == 3770
    assert events.select("event_id").distinct().count() == 3770
    assert {r.ingest for r in events.select("ingest").distinct().collect()} == {files[0].ingest}
    per_day = {r.event_date.isoformat(): r["count"]
               for r in events.groupBy("event_date").count().collect()}
    assert sum(per_day.values()) == 3770 and set(per_day) == {
        "2015-05-17", "2015-05-18", "2015-05-19", "2015-05-20"}
    rejects = spark.read.json(str(LakePaths(lake_settings.lake).log_rejects)).collect()
    assert [(r.file, r.line, r.reason) for r in rejects] == [
        ("apache_combined_sample.log", SAMPLE_REJECT_LINE, "not a combined log line")]

    first_ids = {r.event_id for r in events.select("event_id").collect()}
    # the same file again, bots dropped: its partitions are replaced, not appended to
    summary = run(spark, lake_settings, prepare_files([SAMPLE], "auto"),
                  rules=LogRules(drop_bots=True), site=Site("http", "semicomplete.com"), now=NOW)
    assert (summary["page_views"], summary["bots"], summary["events_written"]) == \
        (3770, expected["bots"], 3770 - expected["bots"])
    events = lake_events(spark, lake_settings)
    again_ids = {r.event_id for r in events.select("event_id").collect()}
    assert len(again_ids) == events.count() == 3770 - expected["bots"]
    assert again_ids < first_ids  # deterministic ids: the human page views kept theirs


HOSTILE_LINES: list[bytes] = [
    # 1 page view
    b'81.2.69.142 - - [09/Mar/2024:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 512 "-" '
    b'"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"',
    # 2 binary
    b"\x00\x01\xff\xfe\x80garbage\x07",
    # 3 truncated
    b'81.2.69.142 - - [09/Mar/2024:10:00:01 +0000] "GET /a HTTP/1.1" 200 12 "-" "Mozil',
    # 4 100 KB
    b'81.2.69.142 - - [09/Mar/2024:10:00:02 +0000] "GET /long HTTP/1.1" 200 12 "-" "'
    + b"A" * 100_000 + b'"',
    # 5, 6 impossible dates
    b'81.2.69.142 - - [32/Mar/2024:10:00:03 +0000] "GET /d HTTP/1.1" 200 1 "-" "Firefox"',
    b'81.2.69.142 - - [09/Foo/2024:10:00:04 +0000] "GET /d HTTP/1.1" 200 1 "-" "Firefox"',
    # 7, 8 implausible dates
    b'81.2.69.142 - - [09/Mar/1970:10:00:05 +0000] "GET /d HTTP/1.1" 200 1 "-" "Firefox"',
    b'81.2.69.142 - - [09/Mar/2999:10:00:06 +0000] "GET /d HTTP/1.1" 200 1 "-" "Firefox"',
    # 9 blank
    b"",
    # 10 page view with escaped quotes, from a search engine, in another time zone
    b'2001:218:1:2::3 - - [09/Mar/2024:11:00:07 +0100] "GET /search.php?q=\\"x\\"&utm_source=n'
    b'&utm_medium=email HTTP/1.1" 304 0 "https://www.google.com/search?q=x" '
    b'"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) \\"quoted\\" Mobile/15E148"',
    # 11 static
    b'81.2.69.142 - - [09/Mar/2024:10:00:08 +0000] "GET /css/site.CSS?v=3 HTTP/1.1" 200 9 '
    b'"http://shop.example/" "Firefox"',
    # 12, 13, 14 not page views: POST, 404, no request line
    b'81.2.69.142 - - [09/Mar/2024:10:00:09 +0000] "POST /cart HTTP/1.1" 200 9 "-" "Firefox"',
    b'81.2.69.142 - - [09/Mar/2024:10:00:10 +0000] "GET /gone HTTP/1.1" 404 9 "-" "Firefox"',
    b'81.2.69.142 - - [09/Mar/2024:10:00:11 +0000] "-" 408 0 "-" "-"',
    # 15 a crawler's page view, internal referrer
    b'81.2.69.142 - - [09/Mar/2024:10:00:12 +0000] "GET /products/ HTTP/1.1" 200 9 '
    b'"http://shop.example/" "Mozilla/5.0 (compatible; Googlebot/2.1; '
    b'+http://www.google.com/bot.html)"',
]
HOSTILE_REJECTS = [
    (2, "not valid UTF-8 text (binary data?)"),
    (3, "not a combined log line"),
    (4, "line longer than 16384 bytes"),
    (5, "unreadable timestamp"),
    (6, "unreadable timestamp"),
    (7, "timestamp out of range (before 1991 or after the time of parsing)"),
    (8, "timestamp out of range (before 1991 or after the time of parsing)"),
    (9, "blank line"),
]


@pytest.fixture
def small_splits(spark):
    """Split files every 8 KB so line numbering crosses split boundaries (and the 100 KB
    line spans several)."""
    key = "spark.sql.files.maxPartitionBytes"
    before = spark.conf.get(key)
    spark.conf.set(key, "8192")
    yield
    spark.conf.set(key, before)


@pytest.mark.parametrize(("prefix", "expected"), [
    (24, "10.1.2.0 and [ipv6] and [ipv6] at 2024:10:00:00 v1.2.3.4.5 ffff"),
    (16, "10.1.0.0 and [ipv6] and [ipv6] at 2024:10:00:00 v1.2.3.4.5 ffff"),
    (32, "10.1.2.3 and [ipv6] and [ipv6] at 2024:10:00:00 v1.2.3.4.5 ffff"),
])
def test_reject_text_has_its_ip_addresses_anonymised(spark, prefix, expected):
    from stream_jobs.logs.parsing import mask_addresses

    line = ("10.1.2.3 and 2001:db8:85a3:0:0:8a2e:370:7334 and fe80::1ff:fe23:4567:890a "
            "at 2024:10:00:00 v1.2.3.4.5 ffff")
    frame = spark.createDataFrame([(line,)], "value string")
    assert frame.select(mask_addresses(F.col("value"), prefix)).first()[0] == expected


def test_hostile_lines_rejected_with_line_numbers(spark, lake_settings, tmp_path, small_splits):
    content = b"\n".join(HOSTILE_LINES) + b"\n"
    plain = tmp_path / "hostile.log"
    plain.write_bytes(content)
    gz = tmp_path / "hostile.log.gz"
    gz.write_bytes(gzip.compress(content))
    bz = tmp_path / "hostile.log.bz2"
    bz.write_bytes(bz2.compress(content))
    files = prepare_files([plain, gz, bz], "auto")
    assert [f.format for f in files] == ["combined"] * 3

    summary = run(spark, lake_settings, files, site=Site("http", "shop.example"), now=NOW)
    expected_file = {"lines": 15, "page_views": 3, "static": 1, "filtered": 3, "bots": 1,
                     "rejects": 8}
    for per_file in summary["files"]:
        assert {k: per_file[k] for k in expected_file} == expected_file, per_file["file"]

    rejects = spark.read.json(str(LakePaths(lake_settings.lake).log_rejects))
    for name in ("hostile.log", "hostile.log.gz", "hostile.log.bz2"):
        got = sorted((r.line, r.reason) for r in rejects.where(F.col("file") == name).collect())
        assert got == HOSTILE_REJECTS, name
    long_line = rejects.where("line = 4 and file = 'hostile.log'").collect()[0]
    assert long_line.bytes == len(HOSTILE_LINES[3]) and len(long_line.text) == 1024
    texts = [r.text for r in rejects.collect() if r.text]
    assert texts and not any("81.2.69.142" in t for t in texts)  # no raw client IP stored
    truncated = rejects.where("line = 3 and file = 'hostile.log'").collect()[0].text
    assert truncated.startswith('81.2.69.0 - - [09/Mar/2024:10:00:01 +0000] "GET /a')

    sha = hashlib.sha256(content).hexdigest()
    events = lake_events(spark, lake_settings).where(
        F.col("ingest") == ingest_name("hostile.log", sha))
    got = {r.event_id: r for r in events.select(
        "event_id", "visitor_id", "url", "referrer", F.col("client_ts").cast("string").alias("ts"),
        "enrichment.referrer_class", "enrichment.ua.is_bot", "enrichment.ua.device",
        F.col("enrichment.utm.source").alias("utm_source"),
        F.col("enrichment.utm.medium").alias("utm_medium"), "enrichment.ip_anon",
        "enrichment.source", "properties", "context.user_agent").collect()}

    def event_id(line: int) -> str:
        return str(uuid.uuid5(LOG_NAMESPACE, f"{sha}:{line}"))

    def visitor(ip_anon: str, agent: str) -> str:
        return hashlib.sha256(f"{ip_anon}|{agent}".encode()).hexdigest()[:32]

    assert set(got) == {event_id(1), event_id(10), event_id(15)}
    first, search, crawler = got[event_id(1)], got[event_id(10)], got[event_id(15)]
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    assert (first.url, first.ts, first.referrer, first.referrer_class, first.is_bot,
            first.device, first.ip_anon, first.source, first.visitor_id, first.user_agent) == (
        "http://shop.example/index.html", "2024-03-09 10:00:00", None, "direct", False,
        "desktop", "81.2.69.0", "log", visitor("81.2.69.0", firefox), firefox)
    assert first.properties == {"log_file": "hostile.log", "log_line": "1",
                                "http_status": "200"}
    assert (search.url, search.ts, search.referrer_class, search.utm_source, search.utm_medium,
            search.device, search.ip_anon) == (
        'http://shop.example/search.php?q="x"&utm_source=n&utm_medium=email',
        "2024-03-09 10:00:07", "email", "n", "email", "mobile", "2001:218:1::")
    assert search.user_agent.endswith('"quoted" Mobile/15E148')
    assert (crawler.referrer_class, crawler.is_bot, crawler.device) == ("internal", True, "bot")


def test_formats_common_vhost_and_nginx_json(spark, lake_settings, tmp_path):
    common = tmp_path / "common.log"
    common.write_text(
        '10.1.2.3 - frank [10/Oct/2023:13:55:36 -0700] "GET /about HTTP/1.0" 200 2326\n'
        '10.1.2.3 - frank [10/Oct/2023:13:55:37 -0700] "GET /logo.png HTTP/1.0" 200 99\n'
    )
    vhost = tmp_path / "other_vhosts_access.log"
    vhost.write_text(
        'shop.example:443 10.1.2.4 - - [10/Oct/2023:20:55:36 +0000] "GET /cart?x=1 HTTP/2.0" '
        '200 10 "https://shop.example/" "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"\n'
        'blog.example:80 10.1.2.4 - - [10/Oct/2023:20:56:00 +0000] "GET / HTTP/1.1" 200 10 '
        '"-" "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"\n'
    )
    nginx = tmp_path / "nginx.json.log"
    nginx.write_text("\n".join(json.dumps(o) for o in [
        {"time_iso8601": "2023-10-10T21:00:00+00:00", "remote_addr": "10.1.2.5",
         "request": "GET /shoes?utm_source=fb&utm_medium=social HTTP/1.1", "status": "200",
         "body_bytes_sent": "10", "http_referer": "https://m.facebook.com/",
         "http_user_agent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36",
         "host": "shop.example"},
        {"time_local": "10/Oct/2023:21:00:05 +0000", "remote_addr": "10.1.2.5",
         "request_method": "GET", "request_uri": "/shoes/red", "status": 304,
         "http_user_agent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"},
    ]) + "\n{broken json\n")
    files = prepare_files([common, vhost, nginx], "auto")
    assert [f.format for f in files] == ["common", "vhost_combined", "nginx_json"]
    summary = run(spark, lake_settings, files, site=Site("https", "www.example.org"), now=NOW)
    assert [(f["lines"], f["page_views"], f["static"], f["rejects"]) for f in summary["files"]] \
        == [(2, 1, 1, 0), (2, 2, 0, 0), (3, 2, 0, 1)]
    rows = sorted(
        (r.url, r.ts, r.site, r.referrer_class, r.utm) for r in lake_events(spark, lake_settings)
        .select("url", F.col("client_ts").cast("string").alias("ts"), "enrichment.site",
                "enrichment.referrer_class", F.col("enrichment.utm.source").alias("utm"))
        .collect())
    assert rows == [
        ("http://blog.example/", "2023-10-10 20:56:00", "blog.example", "direct", None),
        ("https://shop.example/cart?x=1", "2023-10-10 20:55:36", "shop.example", "internal",
         None),
        ("https://shop.example/shoes?utm_source=fb&utm_medium=social", "2023-10-10 21:00:00",
         "shop.example", "social", "fb"),
        ("https://www.example.org/about", "2023-10-10 20:55:36", "www.example.org", "direct",
         None),
        ("https://www.example.org/shoes/red", "2023-10-10 21:00:05", "www.example.org",
         "direct", None),
    ]
    reject = spark.read.json(str(LakePaths(lake_settings.lake).log_rejects)).collect()
    assert [(r.file, r.line, r.reason) for r in reject] == [
        ("nginx.json.log", 3, "not a nginx_json log line")]


def test_uuid5_column_matches_python(spark):
    names = ["abc:1", "0" * 64 + ":123456", "ünïcode:7"]
    got = spark.createDataFrame([(n,) for n in names], "name string").select(
        "name", uuid5_column(LOG_NAMESPACE, F.col("name")).alias("id")).collect()
    assert {r.name: r.id for r in got} == {n: str(uuid.uuid5(LOG_NAMESPACE, n)) for n in names}


def test_the_line_pass_runs_each_costly_expression_once_per_line(spark, tmp_path):
    # Spark's common-subexpression elimination does not reach into conditional branches: an
    # expression named in a condition and in its branch runs twice. The line pattern and the
    # path pattern are the costliest parts of the pass; the optimised plan names each once.
    log = tmp_path / "access.log"
    log.write_text('1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /a/b.HTML?x=1 HTTP/1.1" '
                   '200 5 "-" "Mozilla/5.0"\n')
    frame = classified_requests(spark, prepare_files([log], "combined"), LogRules(), Site(),
                                datetime.now(UTC))
    plan = frame._jdf.queryExecution().optimizedPlan().toString()
    assert plan.count(TEXT_FORMATS["combined"].pattern) == 1
    assert plan.count(PATH_PATTERN) == 1
    assert plan.count("split(request") == 1
    assert [(r.category, r.url) for r in frame.collect()] == [
        ("page", "http://localhost/a/b.HTML?x=1")]


def test_extensions_lower_case_as_sparks_lower_does(spark):
    # ASCII goes through translate, anything else through lower: the result is lower's
    texts = ["HTML", "Php", "jspX", "tar.GZ", "", "ÄSPX", "\u212aB", "\u0130NC", "ΣΑΛ", "x-Y_1"]
    got = spark.createDataFrame([(t,) for t in texts] + [(None,)], "t string").select(
        "t", lower_case(F.col("t")).alias("ours"), F.lower("t").alias("spark")).collect()
    assert len(got) == len(texts) + 1
    for row in got:
        assert row.ours == row.spark, row.t
    assert {r.t: r.ours for r in got}["HTML"] == "html"


def test_unusable_inputs_are_precise_errors(tmp_path):
    with pytest.raises(LogInputError, match=r"missing\.log: no such file"):
        prepare_files([tmp_path / "missing.log"], "auto")
    junk = tmp_path / "junk.log"
    junk.write_text("hello\nworld\n")
    with pytest.raises(LogInputError, match=r"junk.log: the first 2 lines match none of"):
        prepare_files([junk], "auto")
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(gzip.compress(b"x" * 1000)[:20])
    with pytest.raises(LogInputError, match=r"broken\.log\.gz"):
        prepare_files([broken], "auto")
    # readable first lines, cut off further on: found before Spark would fail a task on it
    whole = gzip.compress(HOSTILE_LINES[0] + b"\n" + bytes(range(256)) * 4000)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(LogInputError, match=r"cut\.log\.gz: truncated compressed file"):
        prepare_files([cut], "auto")
    twice = tmp_path / "a.log"
    twice.write_text(HOSTILE_LINES[0].decode() + "\n")
    with pytest.raises(LogInputError, match="same name and content"):
        prepare_files([twice, twice], "auto")


def test_a_w3c_file_whose_columns_change_mid_file_is_refused_with_the_line(tmp_path):
    fields = "#Fields: date time c-ip cs-method cs-uri-stem sc-status"
    request = "2024-03-09 10:00:00 81.2.69.142 GET /index.html 200"
    same = tmp_path / "restarted.log"  # IIS repeats the line after a restart: fine
    same.write_text("\n".join(["#Software: IIS", fields, request, fields, request]) + "\n")
    assert prepare_files([same], "auto")[0].format == "w3c"
    changed = tmp_path / "changed.log"  # same count, other order: would misread the status
    changed.write_text("\n".join([fields, request, "#Date: 2024-03-09 11:00:00",
                                  "#Fields: date time c-ip cs-method sc-status cs-uri-stem",
                                  "2024-03-09 11:00:00 81.2.69.142 GET 200 /index.html"]) + "\n")
    with pytest.raises(LogInputError, match=r"changed\.log: line 4: #Fields: changes the "
                       r"columns of line 1 \(.* sc-status -> .* sc-status cs-uri-stem\); split"):
        prepare_files([changed], "auto")
    with pytest.raises(LogInputError, match=r"line 4: #Fields: changes"):
        prepare_files([changed], "w3c")


def test_detect_format_prefers_the_specific_and_needs_a_majority():
    combined = HOSTILE_LINES[0].decode()
    assert detect_format([combined, "garbage"]) == "combined"
    with pytest.raises(UnknownFormat):
        detect_format([combined, "garbage", "more garbage"])
    assert detect_format(["example.com:80 " + combined]) == "vhost_combined"
