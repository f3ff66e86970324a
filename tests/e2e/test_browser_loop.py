"""The loop in a real browser: browse the demo shop, leave a full cart, come back, and the page
greets you with the cart abandoners' banner — chosen by the decision API from the profile the
personalization worker built out of the events the snippet sent through the collector and
Kafka. Then the same visit is in the lake's sessions table and in the funnel report.

Everything runs for real: headless Chromium, the snippet, the collector (gunicorn), Kafka, the
personalization worker and API, the streaming Spark job and the batch sessionize + reports.
The stack runs with a one-minute session gap ("leaving" takes a minute instead of half an hour;
Spark and the worker both read it) and no holdout group (the visitor must not be drawn into
the group that always sees the default).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from demo.batch import run_batch
from demo.progress import Watcher
from demo.stack import Stack
from tests.e2e.pipeline import (
    parquet_rows,
    progress,
    report_csv,
    stack_settings,
    start_stack,
)
from tests.fixtures.kafka import topic_events

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.spark,
              pytest.mark.timeout(1800)]

# A person's desktop Chrome: headless Chromium's own user agent says "HeadlessChrome", which
# the collector rightly flags as a bot (and bots are neither profiled nor reported).
DESKTOP_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36")
DISCOUNT_TITLE = "Still thinking it over?"  # the `discount` variant of the default rules
FUNNEL_TYPES = ("page_view", "product_view", "add_to_cart", "begin_checkout", "purchase")


@pytest.fixture(scope="module")
def loop(kafka_broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e-browser")
    settings = stack_settings(root / "state", kafka_broker,
                              spark={"session_gap_minutes": 1},
                              personalization={"holdout_share": 0.0})
    stack = start_stack(settings, root / "logs")
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def person(fresh_browser):
    """The run's Chromium, presenting a regular desktop Chrome user agent."""
    driver = fresh_browser
    own = driver.execute_script("return navigator.userAgent")
    driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": DESKTOP_CHROME})
    try:
        yield driver
    finally:
        with contextlib.suppress(Exception):
            driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": own})


def test_cart_abandoner_comes_back_to_the_discount_banner(person, loop: Stack) -> None:
    driver = person
    endpoints = loop.endpoints
    assert endpoints is not None and loop.child_settings is not None
    shop, api = endpoints.shop_url, endpoints.api_url
    topic = loop.settings.kafka.topic
    wait = WebDriverWait(driver, 30)

    def visitor_events(events):
        return [e for e in events if e.get("visitor_id") == visitor]

    def read_page(path: str) -> None:
        """A person reads for a moment: the page's page view has reached Kafka."""
        wait.until(lambda d: d.current_url == shop + path)
        topic_events(loop.bootstrap, topic, lambda evs: any(
            e["event_type"] == "page_view" and e["url"] == shop + path and e["client_ts"] >= since
            for e in visitor_events(evs)))

    # --- first visit: home, a product, add it to the cart, leave ------------------------------
    since = ""
    driver.get(shop + "/")
    wait.until(lambda d: d.get_cookie("cl_vid"))  # the first batch went by fetch
    visitor = driver.get_cookie("cl_vid")["value"]
    assert driver.find_element(By.CSS_SELECTOR, ".hero .hero-title").text == \
        "New season trail shoes are in"
    driver.find_element(By.LINK_TEXT, "Aurora Road Runner").click()
    read_page("/p/RS-1001")
    driver.find_element(By.ID, "add-to-cart").click()
    read_page("/cart")
    driver.get("about:blank")  # gone, cart full

    # the worker closes the session after the gap (one minute of stream time) and files the
    # visitor as a cart abandoner; the backend route shows the profile the API decides from
    auth = {"Authorization": f"Bearer {loop.api_token}"}

    def segment(_driver) -> bool:
        answer = requests.get(f"{api}/v1/visitors/{visitor}", headers=auth, timeout=5)
        return answer.status_code == 200 and answer.json().get("segment") == "cart_abandoner"

    progress("left with a full cart; waiting for the worker to close the session")
    WebDriverWait(driver, 240, poll_frequency=2).until(segment)
    progress("segment is cart_abandoner; coming back")

    # --- the visitor comes back: the very next page load shows the discount banner ------------
    since = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    driver.get(shop + "/")
    # the snippet swaps the banner's children when the decision arrives
    WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".hero .hero-title").text == DISCOUNT_TITLE)
    assert "10% off" in driver.find_element(By.CSS_SELECTOR, ".hero").text
    read_page("/")
    # ... and buys
    driver.find_element(By.CSS_SELECTOR, "a.cart-link").click()
    read_page("/cart")
    driver.find_element(By.ID, "checkout").click()
    read_page("/checkout")
    driver.find_element(By.ID, "place-order").click()
    wait.until(lambda d: "/order/" in d.current_url)
    order_id = driver.find_element(By.ID, "order-id").text
    wait.until(lambda d: d.execute_script("return !!(window.clickloop && clickloop.loaded)"))
    driver.get("about:blank")

    progress("bought; reading Kafka")
    # --- the events are in Kafka --------------------------------------------------------------
    def complete(evs) -> bool:
        mine = visitor_events(evs)
        return (any(e["event_type"] == "purchase" for e in mine)
                and sum(e["event_type"] == "page_view" for e in mine) >= 6)

    # by event time; events of one page can share a millisecond, and then Kafka's order (one
    # visitor, one partition: the order the snippet sent them in) decides: the sort is stable
    mine = sorted(visitor_events(topic_events(loop.bootstrap, topic, complete)),
                  key=lambda e: e["enrichment"]["derived_ts"])
    steps = [(e["event_type"], e["url"].removeprefix(shop)) for e in mine
             if e["event_type"] in FUNNEL_TYPES]
    assert steps == [
        ("page_view", "/"),
        ("page_view", "/p/RS-1001"), ("product_view", "/p/RS-1001"),
        ("page_view", "/cart"), ("add_to_cart", "/cart"),
        ("page_view", "/"),
        ("page_view", "/cart"),
        ("page_view", "/checkout"), ("begin_checkout", "/checkout"),
        ("purchase", f"/order/{order_id}"), ("page_view", f"/order/{order_id}"),
    ]
    homes = [e for e in mine if e["event_type"] == "page_view" and e["url"] == shop + "/"]
    comeback = datetime.fromisoformat(homes[1]["enrichment"]["derived_ts"])
    shown = [e["decision"] for e in mine if e["event_type"] == "personalization_shown"
             and e["decision"]["slot"] == "hero"
             and datetime.fromisoformat(e["enrichment"]["derived_ts"]) >= comeback]
    assert shown and shown[0]["variant"] == "discount", shown
    purchase = next(e for e in mine if e["event_type"] == "purchase")
    assert purchase["order"]["revenue"] == 129.95
    assert purchase["enrichment"]["source"] == "server"

    # --- the lake: wait for the streaming job, then the batch sessionize + reports ------------
    progress("waiting for the lake job and the worker")
    watcher = Watcher(loop.child_settings, loop.bootstrap)
    lacking = watcher.wait_caught_up(watcher.kafka(), timeout=300,
                                     alive=lambda: not loop.dead())
    assert lacking == {"worker": 0, "lake": 0}, (lacking, [s.log_tail() for s in loop.dead()])
    day = datetime.now(UTC).date()
    first_day = datetime.fromisoformat(mine[0]["enrichment"]["derived_ts"]).date()
    progress("batch: sessionize + reports")
    run_batch(first_day, day, env=loop.env, log_path=Path(loop.logs) / "batch.log",
              reports=("traffic", "funnels"))

    progress("checking the sessions table and the reports")
    lake = loop.child_settings.lake
    sessions = parquet_rows(lake / "sessions", where=f"visitor_id = '{visitor}'",
                            order="session_start")
    assert [(s["landing_page"], s["exit_page"], s["page_views"], s["cart_adds"], s["orders"],
             s["converted"], s["revenue"], s["bounce"], s["device"], s["is_bot"])
            for s in sessions] == [
        ("/", "/cart", 3, 1, 0, False, 0.0, False, "desktop", False),
        ("/", f"/order/{order_id}", 4, 0, 1, True, 129.95, False, "desktop", False),
    ]

    steps_csv = report_csv(lake, "funnels", first_day, day, "funnel_steps")
    reached = [(r["funnel"], r["step_name"], r["sessions"], r["visitors"]) for r in steps_csv]
    assert reached == [
        ("Checkout", "Viewed a product", "1", "1"),
        ("Checkout", "Added to cart", "1", "1"),
        ("Checkout", "Began checkout", "0", "0"),
        ("Checkout", "Purchased", "0", "0"),
        ("Return to buy (7 days)", "Added to cart", "1", "1"),
        ("Return to buy (7 days)", "Purchased", "2", "1"),
    ]
    summary = report_csv(lake, "traffic", first_day, day, "summary")
    assert (summary[0]["visitors"], summary[0]["sessions"], summary[0]["page_views"]) == \
        ("1", "2", "7")
