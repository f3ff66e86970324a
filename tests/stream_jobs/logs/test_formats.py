"""Every supported log format, parsed by the real job (one Spark run for all files).

Real samples come from ``../shared/data/logs/formats/`` (see its README for provenance and
licences). Expected counts were established outside the job, by hand and with awk over the
files, applying the documented rules (page = GET answered 200/304 whose path has no extension
or a page extension; static = any other extension; W3C ``#`` directives count as "other"):

- ``aws_alb.log``: ``awk -F'"' '{split($1,a," "); print a[9], $2}'`` → 200 GET on lines 1, 2,
  3, 7 (no extension: 4 page views), 401/101/502 on the other 7;
- ``aws_cloudfront_standard.log``: 2 directives, /index.html 200 x3, /favicon.ico 502, / 502 x2;
- ``haproxy_http_syslog.log``: 3 "Proxy … started." lines and 1 "SSL handshake failure" (lines
  1-3, 14) are no requests; GETs without extension on 4, 8-11; POSTs 5-7; .css/.js 12-17;
- ``haproxy_http_beats.log``: .js 304, OPTIONS, 302, page x3 (/app/login/, /23rfsa/, /qfe32/),
  403, .js, favicon 404, 404;
- ``iis_w3c.log``: ``awk '/^#/{d++;next}{…cls($4,$5,$12)}'`` → 44 directives, 8 page views,
  46 static, 156 other requests;
- ``combined_xff_zanbil.log`` / ``nginx_combined_beats.log``: the same classification over
  ``awk -F'"'`` fields → 503/63/34 and 4/3/6 (the nginx file's last line has a leading vhost
  and a 206 answer);
- ``w3c_iis_advanced_logging.log``: 4 directives, 3 blank lines (rejected), GET 200, 301, 404;
- ``w3c_incapsula.log``: 4 directives, GET 200 www.example.com/page.php, one line without status;
- ``w3c_oracle_webcache.log``: 6 directives and one .gif; ``uwsgi_request.log``: 19 POSTs;
- ``caddy_json.log``: 4 GETs of .xz/.xml/.gz/.css files (all static);
- the rest have 1-6 lines, classified by reading them.

Formats with no real sample here (S3, OVH, common_vhost, Gandi, Icecast2, nginx JSON with
Matomo's keys, Traefik JSON, a custom date, a user regex, Latin-1 / Big5 / BOM text) use
small synthetic lines written from each format's public documentation (marked SYNTHETIC).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from stream_jobs.lake import LakePaths
from stream_jobs.logs.input_files import Site, prepare_files
from stream_jobs.logs.job import run

pytestmark = pytest.mark.spark

SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "data" / "logs" / "formats"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"

# file: (detected format, lines, page views, static, other, rejects by reason)
REAL: dict[str, tuple[str, int, int, int, int, dict[str, int]]] = {
    "apache_combined_lnav.log": ("combined", 3, 1, 2, 0, {}),
    "apache_common_beats.log": ("common", 6, 2, 1, 3, {}),
    "aws_alb.log": ("alb", 11, 4, 0, 7, {}),
    "aws_cloudfront_standard.log": ("w3c", 8, 3, 1, 4, {}),
    "aws_elb_classic.log": ("elb", 1, 1, 0, 0, {}),
    "caddy_json.log": ("caddy_json", 4, 0, 4, 0, {}),
    "combined_xff_zanbil.log": ("combined", 600, 503, 63, 34, {}),
    "haproxy_http_beats.log": ("haproxy", 10, 3, 3, 4, {}),
    "haproxy_http_syslog.log": ("haproxy", 17, 5, 5, 3, {"not a haproxy log line": 4}),
    "iis_w3c.log": ("w3c", 254, 8, 46, 200, {}),
    "nginx_combined_beats.log": ("combined", 13, 4, 3, 6, {}),
    "traefik_clf_beats.log": ("combined", 2, 0, 2, 0, {}),
    "uwsgi_request.log": ("uwsgi", 19, 0, 0, 19, {}),
    "vhost_port_custom.log": ("vhost_combined", 2, 2, 0, 0, {}),
    "w3c_iis_advanced_logging.log": ("w3c", 10, 1, 0, 6, {"blank line": 3}),
    "w3c_incapsula.log": ("w3c", 6, 1, 0, 5, {}),
    "w3c_oracle_webcache.log": ("w3c", 7, 0, 1, 6, {}),
}


def _clf(prefix: str, stamp: str, target: str, status: int = 200, tail: str = "") -> str:
    return (f'{prefix}[{stamp}] "GET {target} HTTP/1.1" {status} 5 "-" "{FIREFOX}"{tail}')


# SYNTHETIC files, auto-detected: name → (lines, format, lines, pages, static, other, rejects)
SYNTHETIC: dict[str, tuple[list[str], tuple[str, int, int, int, int, dict[str, int]]]] = {
    # Apache %v %h %l %u %t "%r" %>s %b; a Perl CGI under /htbin is a page
    "common_vhost.log": ([
        'shop.example 10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] "GET /index.php HTTP/1.1" 200 26',
        'shop.example 10.0.0.1 - - [10/Oct/2023:13:55:37 +0000] "GET /htbin/search.pl?q=x '
        'HTTP/1.1" 200 99',
        'shop.example 10.0.0.1 - - [10/Oct/2023:13:55:38 +0000] "GET /logo.png HTTP/1.1" 200 99',
    ], ("common_vhost", 3, 2, 1, 0, {})),
    # AWS S3 server access log (the documentation's example lines, shortened ids)
    "s3.log": ([
        'a1b2 awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 a1b2 3E57427F3EXAMPLE '
        'REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" '
        '"S3Console/0.4" - s9lz= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader '
        'awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 - -',
        'a1b2 awsexamplebucket1 [06/Feb/2019:00:00:40 +0000] 192.0.2.3 a1b2 891CE47D2EXAMPLE '
        'REST.GET.OBJECT photos/puppy.jpg "GET /awsexamplebucket1/photos/puppy.jpg HTTP/1.1" '
        '200 - 2662992 3462992 70 10 "-" "' + FIREFOX + '" - ABC= SigV4 - - - -',
    ], ("s3", 2, 1, 1, 0, {})),
    # Icecast2 / Shoutcast: combined + the listening time in seconds
    "icecast2.log": ([
        _clf("10.0.0.5 - - ", "10/Oct/2023:14:00:00 +0200", "/stream.mp3", tail=" 3600"),
        _clf("10.0.0.5 - - ", "10/Oct/2023:14:00:01 +0200", "/listen", tail=" 12"),
    ], ("combined", 2, 1, 1, 0, {})),
    # Gandi simple hosting: the virtual host first, combined, then the time taken
    "gandi.log": ([
        _clf("shop.example 10.0.0.6 - - ", "10/Oct/2023:14:00:00 +0000", "/products",
             tail=" 1234"),
    ], ("vhost_combined", 1, 1, 0, 0, {})),
    # nginx log_format with Matomo's documented JSON keys (no method: a GET)
    "nginx_matomo.json": ([json.dumps({
        "ip": "10.0.0.3", "host": "shop.example", "path": "/cart?id=1", "status": "200",
        "referrer": "https://www.google.com/", "user_agent": FIREFOX, "length": 512,
        "generation_time_milli": 0.012, "date": "2023-10-10T14:00:00+02:00"})],
        ("nginx_json", 1, 1, 0, 0, {})),
    # Traefik accessLog.format json, request headers kept
    "traefik.json": ([json.dumps({
        "ClientHost": "10.0.0.4", "DownstreamContentSize": 120, "DownstreamStatus": 200,
        "RequestMethod": "GET", "RequestPath": "/about", "RequestHost": "shop.example",
        "StartUTC": "2023-10-10T12:00:00.123456Z", "request_User-Agent": FIREFOX,
        "request_Referer": "https://shop.example/"})], ("traefik_json", 1, 1, 0, 0, {})),
    # Caddy v2 JSON with a page view (the real sample has only files)
    "caddy_page.json": ([json.dumps({
        "level": "info", "ts": 1700000000.5, "logger": "http.log.access",
        "msg": "handled request", "request": {
            "remote_ip": "10.0.0.9", "remote_port": "5555", "client_ip": "10.0.0.9",
            "proto": "HTTP/2.0", "method": "GET", "host": "shop.example",
            "uri": "/checkout?step=2", "headers": {"User-Agent": [FIREFOX],
                                                   "Referer": ["https://shop.example/cart"]}},
        "bytes_read": 0, "duration": 0.001, "size": 10, "status": 200})],
        ("caddy_json", 1, 1, 0, 0, {})),
    # a LogFormat with an ISO-like %{%Y-%m-%d %H:%M:%S %z}t: read without options
    "iso_date.log": ([_clf("10.0.0.7 - - ", "2023-10-10 14:00:00 +0000", "/a")],
                     ("combined", 1, 1, 0, 0, {})),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def parsed(spark, spark_settings, tmp_path_factory):
    """One job run over every file; returns (summary per file name, events, settings)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"shared format samples not present ({SAMPLES})")
    tmp = tmp_path_factory.mktemp("formats")
    settings = dataclasses.replace(spark_settings, lake_dir=tmp / "lake")
    auto = [SAMPLES / name for name in REAL]
    auto += [_write(tmp / name, ("\n".join(lines) + "\n").encode())
             for name, (lines, _) in SYNTHETIC.items()]
    # Latin-1 text with no declared encoding, and a UTF-8 byte-order mark
    auto.append(_write(tmp / "latin1.log", _clf(
        "10.0.0.8 - - ", "10/Oct/2023:14:00:00 +0000", "/caf\u00e9.html").encode("latin-1")
        + b"\n"))
    auto.append(_write(tmp / "bom.log", b"\xef\xbb\xbf" + _clf(
        "10.0.0.8 - - ", "10/Oct/2023:14:00:01 +0000", "/bom").encode() + b"\n"))
    files = prepare_files(auto, "auto")
    # OVH: the virtual host where common has the identity (looks like combined: forced)
    files += prepare_files([_write(tmp / "ovh.log", (_clf(
        "10.0.0.2 www.shop.example - ", "10/Oct/2023:13:55:36 +0000", "/") + "\n").encode())],
        "ovh")
    # a custom date (strftime, as Matomo's --log-date-format) and a user regex
    files += prepare_files([_write(tmp / "custom_date.log", (_clf(
        "10.0.0.7 - - ", "10.10.2023 14-00-00", "/b") + "\n").encode())], "auto",
        date_format="%d.%m.%Y %H-%M-%S")
    files += prepare_files([_write(tmp / "lighttpd.log", (
        b'10.0.0.10 shop.example - [10/Oct/2023:14:00:00 +0000] "GET /c HTTP/1.1" 200 5\n'
        b'10.0.0.10 shop.example - [10/Oct/2023:14:00:01 +0000] "GET /c.js HTTP/1.1" 200 5\n'
        b'garbage\n'))], "auto", format_regex=(
        r'(?P<ip>\S+) (?P<vhost>\S+) - \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
        r'(?P<status>\d{3}) (?P<bytes>\S+)'))
    # Big5, declared: 中文 is A4A4 A4E5
    files += prepare_files([_write(tmp / "big5.log", _clf(
        "10.0.0.11 - - ", "10/Oct/2023:14:00:00 +0000", "/\u4e2d\u6587.html"
    ).encode("big5") + b"\n")], "auto", encoding="big5")
    files = [dataclasses.replace(f, index=i) for i, f in enumerate(files)]
    summary = run(spark, settings, files, site=Site("http", "localhost"), now=NOW)
    per_file = {Path(f["file"]).name: f for f in summary["files"]}
    events = {
        (r.file, int(r.line)): r for r in
        spark.read.parquet(str(LakePaths(settings.lake).events)).select(
            F.col("properties.log_file").alias("file"), F.col("properties.log_line")
            .alias("line"), "url", F.col("client_ts").cast("string").alias("ts"), "referrer",
            "enrichment.ip_anon", "enrichment.site", F.col("context.user_agent").alias("ua"),
        ).collect()}
    return per_file, events, settings


def _counts(entry: dict) -> tuple:
    return (entry["format"], entry["lines"], entry["page_views"], entry["static"],
            entry["filtered"], entry["reject_reasons"])


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_sample_counts(parsed, name):
    per_file, _, _ = parsed
    assert _counts(per_file[name]) == REAL[name]
    assert per_file[name]["rejects"] == sum(REAL[name][5].values())


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_format_counts(parsed, name):
    per_file, _, _ = parsed
    assert _counts(per_file[name]) == SYNTHETIC[name][1]


# (file, line) → (url, UTC time, anonymised address, user agent)
PAGE_VIEWS = {
    ("aws_alb.log", 1): ("http://www.example.com:80/?a=b&c=d&zip=98101",
                         "2018-07-02 22:23:00.186641", "192.168.131.0", "curl/7.46.0"),
    ("aws_elb_classic.log", 1): ("https://www.example.com:443/", "2015-05-13 23:39:43.945958",
                                 "192.168.131.0", "curl/7.38.0"),
    ("aws_cloudfront_standard.log", 3): (
        "http://d111111abcdef8.cloudfront.net/index.html", "2019-12-04 21:02:31", "128.92.136.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/78.0.3904.108 Safari/537.36"),
    ("iis_w3c.log", 26): ("http://localhost/", "2015-01-13 09:49:46", "188.120.253.0", None),
    ("haproxy_http_syslog.log", 4): (
        "http://localhost/admin/colt/administration?survey=130&input_stats=1&ajax=1&&ajax=1"
        "&refresh=1&ihandle=1", "2019-02-25 16:19:48.143", "141.35.244.0", None),
    ("haproxy_http_beats.log", 4): ("http://app.domain.com/app/login/",
                                    "2021-06-22 12:03:01.501", None, None),
    ("w3c_incapsula.log", 5): ("http://www.example.com/page.php?variable=test",
                               "2017-06-28 07:26:35", "123.123.123.0", None),
    ("w3c_iis_advanced_logging.log", 8): ("http://xzy.example.com/Products/theProduct",
                                          "2012-08-15 17:00:00.363", "70.95.0.0", None),
    ("vhost_port_custom.log", 1): (
        "https://localhost/secure/RapidBoard.jspa?rapidView=1295&selectedIssue=AA-409111"
        "&quickFilter=385508&quickFilter=387097", "2023-07-26 07:01:26", "178.20.184.0",
        "Mozilla/5.0"),
    ("combined_xff_zanbil.log", 2): (  # +0330
        "http://localhost/image/60844/productModel/200x200", "2019-01-22 00:26:16",
        "31.56.96.0", None),
    ("nginx_matomo.json", 1): ("http://shop.example/cart?id=1", "2023-10-10 12:00:00",
                               "10.0.0.0", FIREFOX),
    ("traefik.json", 1): ("http://shop.example/about", "2023-10-10 12:00:00.123456",
                          "10.0.0.0", FIREFOX),
    ("caddy_page.json", 1): ("http://shop.example/checkout?step=2", "2023-11-14 22:13:20.5",
                             "10.0.0.0", FIREFOX),
    ("common_vhost.log", 2): ("http://shop.example/htbin/search.pl?q=x", "2023-10-10 13:55:37",
                              "10.0.0.0", None),
    ("s3.log", 1): ("http://awsexamplebucket1/awsexamplebucket1?versioning",
                    "2019-02-06 00:00:38", "192.0.2.0", "S3Console/0.4"),
    ("gandi.log", 1): ("http://shop.example/products", "2023-10-10 14:00:00", "10.0.0.0",
                       FIREFOX),
    ("icecast2.log", 2): ("http://localhost/listen", "2023-10-10 12:00:01", "10.0.0.0", FIREFOX),
    ("iso_date.log", 1): ("http://localhost/a", "2023-10-10 14:00:00", "10.0.0.0", FIREFOX),
    ("latin1.log", 1): ("http://localhost/caf\u00e9.html", "2023-10-10 14:00:00", "10.0.0.0",
                        FIREFOX),
    ("bom.log", 1): ("http://localhost/bom", "2023-10-10 14:00:01", "10.0.0.0", FIREFOX),
    ("ovh.log", 1): ("http://www.shop.example/", "2023-10-10 13:55:36", "10.0.0.0", FIREFOX),
    ("custom_date.log", 1): ("http://localhost/b", "2023-10-10 14:00:00", "10.0.0.0", FIREFOX),
    ("lighttpd.log", 1): ("http://shop.example/c", "2023-10-10 14:00:00", "10.0.0.0", None),
    ("big5.log", 1): ("http://localhost/\u4e2d\u6587.html", "2023-10-10 14:00:00", "10.0.0.0",
                      FIREFOX),
}


@pytest.mark.parametrize("key", sorted(PAGE_VIEWS))
def test_page_view_fields(parsed, key):
    _, events, _ = parsed
    url, ts, ip_anon, agent = PAGE_VIEWS[key]
    event = events[key]
    assert (event.url, event.ts, event.ip_anon) == (url, ts, ip_anon)
    if agent is not None:
        assert event.ua == agent


def test_user_regex_date_format_and_encodings_counts(parsed):
    per_file, _, _ = parsed
    assert _counts(per_file["ovh.log"]) == ("ovh", 1, 1, 0, 0, {})
    assert _counts(per_file["custom_date.log"]) == ("combined", 1, 1, 0, 0, {})
    assert _counts(per_file["lighttpd.log"]) == ("regex", 3, 1, 1, 0,
                                                 {"not a regex log line": 1})
    assert _counts(per_file["big5.log"]) == ("combined", 1, 1, 0, 0, {})
    assert _counts(per_file["latin1.log"]) == ("combined", 1, 1, 0, 0, {})
    assert _counts(per_file["bom.log"]) == ("combined", 1, 1, 0, 0, {})
