"""Chromium clicks through the served dashboard (gunicorn, as `clickloop dashboard` runs it):
log in, pick a range, filter, open a report, download a CSV; figures against the rows."""

from __future__ import annotations

import csv
import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from dashboard.command import gunicorn_argv
from embedded.ports import free_port, port_open
from tests.dashboard.conftest import expected
from tests.waiting import wait_until
from tracker.settings import DashboardSettings

pytestmark = pytest.mark.browser

TOKEN = "s3cret-dashboard-token"


@pytest.fixture
def served(dashboard_lake) -> Iterator[str]:
    settings = dataclasses.replace(dashboard_lake.settings,
                                   dashboard=DashboardSettings(token=TOKEN))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLOOP_")}
    process = subprocess.Popen(gunicorn_argv("127.0.0.1", port),
                               env={**env, **settings.to_env()},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: port_open(port) or process.poll() is not None, timeout=60,
                   what="the dashboard to listen")
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def kpi(driver, name: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'[data-kpi="{name}"] .value').text


def test_pick_a_range_filter_open_a_report_and_download(fresh_browser, served, dashboard_lake,
                                                        tmp_path):
    driver = fresh_browser
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    driver.get(served + "/")
    assert "/login" in driver.current_url  # no page without the token
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.ID, "login").click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-kpi="sessions"]'),
               timeout=20, what="the overview after login")

    # pick a range (date inputs are set as a user's date picker would) and apply
    driver.execute_script("document.getElementById('start').value = '2024-03-15';"
                          "document.getElementById('end').value = '2024-03-28';")
    driver.find_element(By.ID, "apply").click()
    wait_until(lambda: "start=2024-03-15" in driver.current_url, timeout=20, what="the range")
    rows = dashboard_lake.sessions
    from datetime import date

    start, end = date(2024, 3, 15), date(2024, 3, 28)
    want = expected(rows, start, end)
    assert kpi(driver, "sessions") == str(want["sessions"])
    assert kpi(driver, "conversions") == str(want["conversions"])
    before = expected(rows, date(2024, 3, 1), date(2024, 3, 14))
    prev = driver.find_element(By.CSS_SELECTOR, '[data-kpi="sessions"] .prev').text
    assert prev.startswith(f"previous: {before['sessions']}")
    # the chart library is the dashboard's own copy, and it drew
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, 'canvas[data-drawn="true"]'),
               timeout=20, what="a chart drawn by Chart.js")

    # filter by device: the page reloads with the filter and the filtered figures
    Select(driver.find_element(By.ID, "filter-device")).select_by_value("mobile")
    wait_until(lambda: "device=mobile" in driver.current_url, timeout=20, what="the filter")
    mobile = expected(rows, start, end, device="mobile")
    assert kpi(driver, "sessions") == str(mobile["sessions"])
    assert kpi(driver, "revenue") == f"{mobile['revenue']:.2f}"

    # download the by-country table of this filtered range and compare it with the rows
    driver.find_element(By.CSS_SELECTOR, '[data-download="by_country"]').click()
    name = "by_country_2024-03-15_2024-03-28.csv"
    wait_until(lambda: (downloads / name).is_file(), timeout=20, what="the CSV download")
    with (downloads / name).open(encoding="utf-8") as handle:
        got = {r["value"]: int(r["sessions"]) for r in csv.DictReader(handle)}
    assert got == {c: expected(rows, start, end, device="mobile", country=c)["sessions"]
                   for c in ("GB", "FR", "(none)")
                   if expected(rows, start, end, device="mobile", country=c)["sessions"]}

    # the navigation keeps range and filter; the lifecycle report shows its stored figures
    driver.find_element(By.CSS_SELECTOR, '[data-nav="lifecycle"]').click()
    wait_until(lambda: "/reports/lifecycle" in driver.current_url, timeout=20,
               what="the lifecycle page")
    assert "start=2024-03-15" in driver.current_url and "device=mobile" in driver.current_url
    cells = [c.text for c in driver.find_elements(
        By.CSS_SELECTOR, 'table[data-table="rfm_segments"] tbody tr:first-child td')]
    assert cells == ["Champions", "2", "80.00", "64.78"]
    assert Path(downloads).is_dir()


def cell(driver, table: str, column: str, row: int = 1) -> str:
    """The text of ``column`` in the ``row``-th body row of a table on the page."""
    heads = [h.text for h in driver.find_elements(
        By.CSS_SELECTOR, f'table[data-table="{table}"] thead th')]
    return driver.find_element(
        By.CSS_SELECTOR, f'table[data-table="{table}"] tbody tr:nth-child({row}) '
                         f'td:nth-child({heads.index(column) + 1})').text


def test_a_filter_on_a_report_page_changes_its_figures(fresh_browser, served, dashboard_lake,
                                                       tmp_path):
    from datetime import date

    from tests.dashboard.conftest import write_report_run

    start, end = date(2024, 3, 15), date(2024, 3, 28)
    # a traffic run of this range: its summary is replaced by the computed one, its top pages
    # (page-view events) cannot follow a filter and must say so
    write_report_run(dashboard_lake.settings.lake, "traffic", start, end,
                     {"summary": [{"visitors": 1, "sessions": 999}],
                      "top_pages": [{"page": "/", "page_views": 123}]})
    driver = fresh_browser
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    driver.get(served + "/login?next=/reports/traffic%3Fstart%3D2024-03-15%26end%3D2024-03-28")
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.ID, "login").click()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, 'table[data-table="summary"]'),
               timeout=20, what="the traffic report")
    rows = dashboard_lake.sessions
    everyone = expected(rows, start, end)
    assert cell(driver, "summary", "sessions") == str(everyone["sessions"])
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-ignores-filter]")

    Select(driver.find_element(By.ID, "filter-device")).select_by_value("mobile")
    wait_until(lambda: "device=mobile" in driver.current_url, timeout=20, what="the filter")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, 'table[data-table="summary"]'),
               timeout=20, what="the filtered page")
    mobile = expected(rows, start, end, device="mobile")
    earlier = expected(rows, date(2024, 3, 1), date(2024, 3, 14), device="mobile")
    assert mobile["sessions"] != everyone["sessions"]
    assert cell(driver, "summary", "sessions") == str(mobile["sessions"])
    assert cell(driver, "summary", "visitors") == str(mobile["visitors"])
    compare = {r.find_element(By.CSS_SELECTOR, "td:first-child").text:
               [td.text for td in r.find_elements(By.CSS_SELECTOR, "td")]
               for r in driver.find_elements(By.CSS_SELECTOR,
                                             'table[data-table="compare"] tbody tr')}
    assert compare["sessions"][1:3] == [str(mobile["sessions"]), str(earlier["sessions"])]
    note = driver.find_element(By.CSS_SELECTOR, '[data-ignores-filter="top_pages"]').text
    assert "ignores the filters (device = mobile)" in note
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-ignores-filter="summary"]')

    # the filtered sources table downloads as the page shows it
    driver.find_element(By.CSS_SELECTOR, '[data-download="sources"]').click()
    name = "traffic_sources_2024-03-15_2024-03-28.csv"
    wait_until(lambda: (downloads / name).is_file(), timeout=20, what="the CSV download")
    with (downloads / name).open(encoding="utf-8") as handle:
        got = {r["source"]: int(r["sessions"]) for r in csv.DictReader(handle)}
    want = {s: expected(rows, start, end, device="mobile", source=s)["sessions"]
            for s in ("search", "direct", "email", "social")}
    assert got == {s: n for s, n in want.items() if n}
