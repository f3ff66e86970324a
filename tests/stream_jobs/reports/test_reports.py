"""Reports on a small lake whose every answer was worked out by hand (see the comments).

The lake (2024-03-09 and 2024-03-10):

- v1 desktop GB direct, S1 09th 10:00-10:06: /home, /p/shoe, product_view, add_to_cart, /cart,
  begin_checkout, purchase 100 (user u1)
- v2 mobile FR, S2 09th 11:00-11:02 from Google: /p/shoe, product_view, add_to_cart;
  S3 10th 09:00-09:02 from the spring e-mail: /cart, begin_checkout, purchase 50
- v3 desktop DE, S4 09th 12:00 from the spring e-mail: /home (bounce)
- v4 a crawler, 09th 13:00: /home, /p/shoe (left out unless bots are included)
- v5 mobile GB from social, S5 10th 15:00-15:01: /p/hat, product_view
"""

from __future__ import annotations

import csv
import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from stream_jobs.lake import write_events
from stream_jobs.reports.funnel_spec import FunnelSpecError, load_funnels, parse_funnels
from stream_jobs.reports.funnels import best_walks
from stream_jobs.reports.job import run as run_reports
from tests.stream_jobs.builders import d, event, lake_frame

pytestmark = pytest.mark.spark

SPRING = ("news", "email", "spring")
FUNNELS_YAML = """
funnels:
  - name: Checkout
    within: session
    steps:
      - {name: Viewed a product, event_type: product_view}
      - {name: Added to cart, event_type: add_to_cart}
      - {name: Began checkout, event_type: begin_checkout}
      - {name: Purchased, event_type: purchase}
  - name: Return to buy
    within: 7d
    steps:
      - {name: Added to cart, event_type: add_to_cart}
      - {name: Purchased, event_type: [purchase]}
"""


def shop_rows() -> list[dict]:
    u = "https://shop.example"
    return [
        event(1, "v1", "2024-03-09 10:00:00", url=f"{u}/home"),
        event(2, "v1", "2024-03-09 10:02:00", url=f"{u}/p/shoe"),
        event(3, "v1", "2024-03-09 10:02:30", "product_view", sku="shoe"),
        event(4, "v1", "2024-03-09 10:03:00", "add_to_cart", sku="shoe"),
        event(5, "v1", "2024-03-09 10:04:00", url=f"{u}/cart"),
        event(6, "v1", "2024-03-09 10:05:00", "begin_checkout"),
        event(7, "v1", "2024-03-09 10:06:00", "purchase", revenue=100.0, order_id="o1",
              user_id="u1"),
        event(10, "v2", "2024-03-09 11:00:00", url=f"{u}/p/shoe", device="mobile",
              country="FR", referrer_class="search", referrer_host="www.google.com"),
        event(11, "v2", "2024-03-09 11:01:00", "product_view", sku="shoe", device="mobile",
              country="FR"),
        event(12, "v2", "2024-03-09 11:02:00", "add_to_cart", sku="shoe", device="mobile",
              country="FR"),
        event(13, "v2", "2024-03-10 09:00:00", url=f"{u}/cart?utm_campaign=spring",
              utm=SPRING, device="mobile", country="FR", referrer_class="email"),
        event(14, "v2", "2024-03-10 09:01:00", "begin_checkout", device="mobile", country="FR"),
        event(15, "v2", "2024-03-10 09:02:00", "purchase", revenue=50.0, order_id="o2",
              device="mobile", country="FR"),
        event(20, "v3", "2024-03-09 12:00:00", url=f"{u}/home?utm_campaign=spring", utm=SPRING,
              country="DE", referrer_class="email"),
        event(30, "v4", "2024-03-09 13:00:00", url=f"{u}/home", device="bot", is_bot=True),
        event(31, "v4", "2024-03-09 13:00:05", url=f"{u}/p/shoe", device="bot", is_bot=True),
        event(40, "v5", "2024-03-10 15:00:00", url=f"{u}/p/hat", device="mobile",
              referrer_class="social", referrer_host="m.facebook.com"),
        event(41, "v5", "2024-03-10 15:01:00", "product_view", sku="hat", device="mobile"),
    ]


@pytest.fixture(scope="module")
def built(spark, spark_settings, tmp_path_factory):
    """Every report over the hand-made lake, written once for the tests of this module."""
    root = tmp_path_factory.mktemp("reports")
    settings = dataclasses.replace(spark_settings, lake_dir=root / "lake")
    from stream_jobs.lake import LakePaths

    write_events(lake_frame(spark, shop_rows()), LakePaths(settings.lake))
    funnels = root / "funnels.yaml"
    funnels.write_text(FUNNELS_YAML)
    summary, written = run_reports(
        spark, settings, d("2024-03-09"), d("2024-03-10"),
        ["traffic", "funnels", "paths", "campaigns", "customers"], funnels_file=funnels)
    return {"summary": summary, "written": {w.name: w for w in written}, "settings": settings,
            "funnels": funnels}


def read_csv(folder: Path, name: str) -> list[list[str]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def rows_of(built, report: str, table: str) -> list[list[str]]:
    return read_csv(built["written"][report].folder, table)[1:]


def test_traffic(built):
    assert rows_of(built, "traffic", "summary") == [
        # visitors, sessions, page views, bounce %, avg duration (360+120+120+0+60)/5, median,
        # pages per session
        ["4", "5", "7", "80.00", "132.00", "120.00", "1.40"]]
    assert read_csv(built["written"]["traffic"].folder, "daily") == [
        ["date", "visitors", "sessions", "page_views", "bounce_rate_pct", "avg_duration_s",
         "pages_per_session"],
        ["2024-03-09", "3", "3", "5", "66.67", "160.00", "1.67"],
        ["2024-03-10", "2", "2", "2", "100.00", "90.00", "1.00"],
    ]
    assert rows_of(built, "traffic", "top_pages") == [
        ["/cart", "2", "2", "2"], ["/home", "2", "2", "2"], ["/p/shoe", "2", "2", "2"],
        ["/p/hat", "1", "1", "1"]]
    assert rows_of(built, "traffic", "sources") == [
        ["email", "2", "2", "40.00"], ["direct", "1", "1", "20.00"],
        ["search", "1", "1", "20.00"], ["social", "1", "1", "20.00"]]
    assert rows_of(built, "traffic", "exit_pages") == [
        # /cart: exits in S1 and S3 of its 2 views
        ["/cart", "2", "2", "100.00"], ["/home", "1", "2", "50.00"],
        ["/p/hat", "1", "1", "100.00"], ["/p/shoe", "1", "2", "50.00"]]


def test_funnel_steps_and_rates(built):
    assert read_csv(built["written"]["funnels"].folder, "funnel_steps") == [
        ["funnel", "unit", "step", "step_name", "visitors", "sessions", "conversion_step_pct",
         "conversion_overall_pct", "drop_off", "drop_off_pct", "median_s_from_previous"],
        # sessions S1, S2, S5 view a product; S1, S2 add (30 s and 60 s later); S1 goes on
        ["Checkout", "sessions", "1", "Viewed a product", "3", "3", "", "100.00", "", "", ""],
        ["Checkout", "sessions", "2", "Added to cart", "2", "2", "66.67", "66.67", "1", "33.33",
         "45.00"],
        ["Checkout", "sessions", "3", "Began checkout", "1", "1", "50.00", "33.33", "1", "50.00",
         "120.00"],
        ["Checkout", "sessions", "4", "Purchased", "1", "1", "100.00", "33.33", "0", "0.00",
         "60.00"],
        # v1 buys 3 minutes after adding; v2 the next day (22 h), in a second session
        ["Return to buy", "visitors", "1", "Added to cart", "2", "2", "", "100.00", "", "", ""],
        ["Return to buy", "visitors", "2", "Purchased", "2", "3", "100.00", "100.00", "0",
         "0.00", "39690.00"],
    ]
    breakdown = rows_of(built, "funnels", "funnel_breakdown")
    checkout_device = [r[3:8] for r in breakdown if r[0] == "Checkout" and r[2] == "device"]
    assert checkout_device == [
        ["mobile", "1", "Viewed a product", "2", "100.00"],
        ["mobile", "2", "Added to cart", "1", "50.00"],
        ["mobile", "3", "Began checkout", "0", "0.00"],
        ["mobile", "4", "Purchased", "0", "0.00"],
        ["desktop", "1", "Viewed a product", "1", "100.00"],
        ["desktop", "2", "Added to cart", "1", "100.00"],
        ["desktop", "3", "Began checkout", "1", "100.00"],
        ["desktop", "4", "Purchased", "1", "100.00"],
    ]
    checkout_source = {(r[3], r[4]): r[6] for r in breakdown
                       if r[0] == "Checkout" and r[2] == "source"}
    assert checkout_source == {
        ("direct", "1"): "1", ("direct", "2"): "1", ("direct", "3"): "1", ("direct", "4"): "1",
        ("search", "1"): "1", ("search", "2"): "1", ("search", "3"): "0", ("search", "4"): "0",
        ("social", "1"): "1", ("social", "2"): "0", ("social", "3"): "0", ("social", "4"): "0"}
    # 4 dimensions; Checkout: 2 devices, 2 countries, 3 sources, 1 campaign, times 4 steps;
    # Return to buy: v1 desktop GB direct, v2 mobile FR search: 2+2+2+1 values, times 2 steps
    assert len(breakdown) == (2 + 2 + 3 + 1) * 4 + (2 + 2 + 2 + 1) * 2


def test_paths(built):
    assert rows_of(built, "paths", "transitions") == [
        ["/cart", "(exit)", "/cart → (exit)", "2", "100.00"],
        ["(entrance: direct)", "/home", "(entrance: direct) → /home", "1", "100.00"],
        ["(entrance: email)", "/cart", "(entrance: email) → /cart", "1", "50.00"],
        ["(entrance: email)", "/home", "(entrance: email) → /home", "1", "50.00"],
        ["(entrance: search)", "/p/shoe", "(entrance: search) → /p/shoe", "1", "100.00"],
        ["(entrance: social)", "/p/hat", "(entrance: social) → /p/hat", "1", "100.00"],
        ["/home", "(exit)", "/home → (exit)", "1", "50.00"],
        ["/home", "/p/shoe", "/home → /p/shoe", "1", "50.00"],
        ["/p/hat", "(exit)", "/p/hat → (exit)", "1", "100.00"],
        ["/p/shoe", "(exit)", "/p/shoe → (exit)", "1", "50.00"],
        ["/p/shoe", "/cart", "/p/shoe → /cart", "1", "50.00"],
    ]


def test_campaigns(built):
    assert rows_of(built, "campaigns", "campaigns") == [
        # campaign, source, medium, sessions, visitors, conversions, revenue, rate, per session
        ["(none)", "(none)", "(none)", "3", "3", "1", "100.00", "33.33", "33.33"],
        ["spring", "news", "email", "2", "2", "1", "50.00", "50.00", "25.00"],
    ]
    assert rows_of(built, "campaigns", "daily") == [
        ["2024-03-09", "1", "0", "0.00"], ["2024-03-10", "1", "1", "50.00"]]


def test_customers(built):
    assert rows_of(built, "customers", "summary") == [
        # 2 customers; the top 20% (rounded up: 1) is u1 with 100 of 150
        ["2", "2", "150.00", "1", "100.00", "66.67"]]
    segments = {r[0]: r[1:] for r in rows_of(built, "customers", "segments")}
    assert segments["New customers"] == ["1", "50.00", "1.00", "0.00", "33.33"]  # v2: R5 F1
    assert segments["Hibernating"] == ["1", "100.00", "1.00", "1.00", "66.67"]  # u1: R1 F1
    assert [s for s, r in segments.items() if r[0] != "0"] == ["New customers", "Hibernating"]
    detail = read_csv(built["written"]["customers"].folder, "customers")
    assert [(r[0], r[1], r[2], r[3], r[9], r[10]) for r in detail[1:]] == [
        ("u1", "1", "100.0", "1", "115", "Hibernating"),
        ("v2", "1", "50.0", "0", "511", "New customers")]


def test_report_command_prints_the_headline_table(built, capsys):
    import argparse

    from stream_jobs.reports import command as command_report

    parser = argparse.ArgumentParser()
    command_report.add_arguments(parser)
    args = parser.parse_args(["traffic", "--start", "2024-03-09", "--end", "2024-03-10",
                              "--include-bots"])
    assert command_report.run(args, built["settings"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Traffic · 2024-03-09 to 2024-03-10"
    assert out[2].split() == ["visitors", "sessions", "page_views", "bounce_rate_pct",
                              "avg_duration_s", "median_duration_s", "pages_per_session"]
    # with the crawler v4: one more visitor and session (5 s long), two more page views
    assert out[4].split() == ["5", "6", "9", "66.67", "110.83", "90.00", "1.50"]
    regular = built["written"]["traffic"].folder
    assert out[5] == f"→ {regular.parent / (regular.name + '_with_bots') / 'report.html'}"


class _Tables(HTMLParser):
    """Cells of every <table data-table> and every chart mark's data-* in an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.marks: list[dict[str, str]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("data-table")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in ("rect", "circle") and "data-value" in a:
            self.marks.append(a)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.mark.parametrize("report", ["traffic", "funnels", "paths", "campaigns", "customers"])
def test_html_numbers_equal_csv(built, report):
    written = built["written"][report]
    page = _Tables()
    page.feed(written.html.read_text(encoding="utf-8"))
    assert set(page.tables) == set(written.tables)
    for name in written.tables:
        assert page.tables[name] == read_csv(written.folder, name), name
    assert page.marks, "the page has charts"
    csv_values = {cell for name in written.tables for row in read_csv(written.folder, name)[1:]
                  for cell in row}
    assert {m["data-value"] for m in page.marks} <= csv_values
    assert "<script" not in written.html.read_text() and "http://" not in \
        written.html.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_funnel_chart_bars_are_the_step_counts(built):
    page = _Tables()
    page.feed(built["written"]["funnels"].html.read_text(encoding="utf-8"))
    bars = [(m["data-label"], m["data-value"]) for m in page.marks]
    assert bars == [("Viewed a product", "3"), ("Added to cart", "2"), ("Began checkout", "1"),
                    ("Purchased", "1"), ("Added to cart", "2"), ("Purchased", "2")]


@pytest.mark.browser
def test_report_renders_in_chromium(built, fresh_browser, tmp_path):
    driver = fresh_browser
    driver.get(built["written"]["traffic"].html.as_uri())
    sizes = driver.execute_script(
        "return Array.from(document.querySelectorAll('svg.chart')).map(s => {"
        " const r = s.getBoundingClientRect();"
        " return [r.width, r.height, s.querySelectorAll('rect.bar, circle.point').length]; });")
    # line chart (3 series, 2 days each), sources (4 bars), top pages (4 bars)
    assert [(w > 100, h > 50, n) for w, h, n in sizes] == [
        (True, True, 6), (True, True, 4), (True, True, 4)]
    widest = driver.execute_script(
        "return Math.max(...Array.from(document.querySelectorAll('svg.bar-chart rect.bar'))"
        ".map(r => r.getBoundingClientRect().width));")
    assert widest > 100
    shot = tmp_path / "traffic.png"
    assert driver.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_best_walks_tries_every_start_within_the_window(spark):
    # w: an add 40 h before a purchase (too late for 1 day), then an add 10 min before it
    rows = [
        event(1, "w", "2024-03-08 16:00:00", "add_to_cart", sku="a"),
        event(2, "w", "2024-03-10 08:00:00", "add_to_cart", sku="a"),
        event(3, "w", "2024-03-10 08:10:00", "purchase", revenue=1.0),
        # x: adds, buys 2 days later: outside a 1-day window from its only start
        event(4, "x", "2024-03-08 08:00:00", "add_to_cart", sku="a"),
        event(5, "x", "2024-03-10 08:00:00", "purchase", revenue=1.0),
    ]
    from stream_jobs.sessions.rules import assign_sessions, event_rows

    events = assign_sessions(event_rows(lake_frame(spark, rows)), 30)
    funnel = parse_funnels({"funnels": [{"name": "f", "within": "1d", "steps": [
        {"event_type": "add_to_cart"}, {"event_type": "purchase"}]}]})[0]
    got = sorted((r.visitor_id, r.reached, list(r.times)) for r in
                 best_walks(events, funnel).select(
                     "visitor_id", "reached",
                     F.transform("times", lambda t: t.cast("string")).alias("times")).collect())
    assert got == [("w", 2, ["2024-03-10 08:00:00", "2024-03-10 08:10:00"]),
                   ("x", 1, ["2024-03-08 08:00:00"])]


@pytest.mark.parametrize(("text", "message"), [
    ("funnels: []", "`funnels` is empty"),
    ("funnels:\n  - name: A\n    steps: [{event_type: page_view}]", "2 to 20 steps"),
    ("funnels:\n  - name: A\n    steps: [{event_type: page_view}, {event_typo: purchase}]",
     "funnel 'A', step 2: unknown key(s) event_typo"),
    ("funnels:\n  - name: A\n    steps: [{event_type: page_view}, {event_type: buy}]",
     "funnel 'A', step 2: `event_type` ['buy'] is not an event type"),
    ("funnels:\n  - name: A\n    within: week\n    steps: [{event_type: page_view}, "
     "{event_type: purchase}]", "`within` must be `session` or a number of days"),
    ("funnels: [", "not valid YAML"),
])
def test_bad_funnel_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(FunnelSpecError, match=re.escape(message)):
        load_funnels(path)
