"""The snippet in real headless Chromium, against the real collector and the real Kafka broker.

Pages come from ``pages/`` on a local site (``http://localhost:<port>``); the snippet is the
built ``dist/clickloop.min.js`` that the collector serves at ``/v1/clickloop.js``. Each test
reads the collector's topic and asserts the exact events its visit produced: types, order, ids,
visitor and session ids, nothing duplicated, nothing missing. Expected values are written out
by hand from the pages.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.fixtures.browser import StaticSite, launch_chromium, reset_browser
from tests.fixtures.collector import CollectorServer
from tests.js_snippet.node import build
from tests.js_snippet.topic_reader import TopicReader

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

PAGES = Path(__file__).parent / "pages"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SNIPPET_LOADED = "return !!(window.clickloop && window.clickloop.loaded)"
OFFLINE = {"offline": True, "latency": 0, "download_throughput": -1, "upload_throughput": -1}
ONLINE = {**OFFLINE, "offline": False}

RED_SHOE = {"sku": "sku-1", "name": "Red shoe", "category": "Shoes/Running", "price": 59.9,
            "currency": "EUR", "quantity": 1}
BLUE_SHOES = {"sku": "sku-2", "name": "Blue shoe", "category": "Shoes/Running", "price": 49,
              "currency": "EUR", "quantity": 2}


def on_localhost(url: str) -> str:
    """The collector on ``localhost``: the same site as the pages, so its cookie is first-party."""
    return url.replace("://127.0.0.1:", "://localhost:")


@pytest.fixture(scope="module")
def site() -> Iterator[StaticSite]:
    site = StaticSite(PAGES)
    yield site
    site.close()


@pytest.fixture(scope="module")
def collector(collector_factory: Callable[..., CollectorServer], site: StaticSite
              ) -> CollectorServer:
    build()  # the collector serves js_snippet/dist/clickloop.min.js
    server = collector_factory(allowed_origins=(site.origin,))
    site.substitutions["COLLECTOR"] = on_localhost(server.url)
    return server


@pytest.fixture
def reader(collector: CollectorServer) -> Iterator[TopicReader]:
    reader = TopicReader(collector.bootstrap, collector.topic)
    yield reader
    reader.close()


def wait_for(driver: WebDriver, script: str, timeout: float = 30) -> None:
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def clear_site_data(driver: WebDriver, origin: str) -> None:
    driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})


def cookies(driver: WebDriver) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}


def local_storage(driver: WebDriver) -> dict[str, str]:
    return driver.execute_script("return Object.assign({}, localStorage)")


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def detail(event: dict[str, Any]) -> Any:
    """The part of an event a test states by hand, by type."""
    return {
        "page_view": lambda e: e.get("title"),
        "click": lambda e: e["target"],
        "add_to_cart": lambda e: e["product"],
        "identify": lambda e: e["user_id"],
    }.get(event["event_type"], lambda e: e.get("decision"))(event)


def test_a_visit_arrives_once_and_in_order_through_spa_navigation_offline_and_reload(
    fresh_browser: WebDriver, site: StaticSite, collector: CollectorServer, reader: TopicReader
) -> None:
    driver = fresh_browser
    clear_site_data(driver, site.origin)
    home = site.url("/shop/")
    mine = lambda e: e.get("url", "").startswith(site.url("/shop/"))  # noqa: E731

    driver.get(home)  # page_view
    wait_for(driver, SNIPPET_LOADED)
    driver.find_element(By.ID, "nav-product").click()  # SPA navigation: page_view
    driver.find_element(By.ID, "newsletter").click()  # data-cl-event: click
    driver.find_element(By.ID, "add-sku-1").click()  # declarative add_to_cart
    reader.until(mine, 4)

    driver.set_network_conditions(**OFFLINE)
    wait_for(driver, "return navigator.onLine === false")
    driver.find_element(By.ID, "add-sku-2").click()  # cannot be sent: kept at unload
    driver.get(home)  # the page again, from the browser cache: page_view, also kept
    wait_for(driver, SNIPPET_LOADED)
    driver.set_network_conditions(**ONLINE)  # the online event sends both
    reader.until(mine, 6)
    driver.refresh()  # page_view; and proves nothing sent earlier is sent again
    events = reader.until(mine, 7)

    assert [(e["event_type"], path_of(e["url"]), detail(e)) for e in events] == [
        ("page_view", "/shop/", "Shop"),
        ("page_view", "/shop/product/sku-1", "Red shoe"),
        ("click", "/shop/product/sku-1",
         {"text": "Sign up", "kind": "element", "element_id": "newsletter-signup"}),
        ("add_to_cart", "/shop/product/sku-1", RED_SHOE),
        ("add_to_cart", "/shop/product/sku-1", BLUE_SHOES),
        ("page_view", "/shop/", "Shop"),
        ("page_view", "/shop/", "Shop"),
    ]
    views = [e for e in events if e["event_type"] == "page_view"]
    assert [e.get("referrer") for e in views] == [None, home, None, None]
    assert all(UUID.match(e["event_id"]) for e in events)
    assert len({e["event_id"] for e in events}) == 7
    visitor = cookies(driver)["cl_vid"]
    assert visitor["httpOnly"] is True
    assert {e["visitor_id"] for e in events} == {visitor["value"]}
    sessions = {e["session_id"] for e in events}
    assert len(sessions) == 1
    assert local_storage(driver)["cl_s"].split("|")[0] in sessions
    assert all(e["schema_version"] == 1 and e["enrichment"]["source"] == "js" for e in events)
    offline_cart = events[4]
    assert offline_cart["sent_ts"] > offline_cart["client_ts"]  # sent later, on the next page
    assert "cl_q" not in local_storage(driver)


# --- privacy: what each setting sends, and that a denial sets no cookie ----------------------

# case, browser profile, page settings (query string), expectation
PRIVACY_CASES = [
    ("consent-granted", "plain", "consent=granted", "identified"),
    ("consent-denied", "plain", "consent=denied", "anonymous"),
    ("consent-denied-send-nothing", "plain", "consent=denied&denied=none", "nothing"),
    ("do-not-track", "dnt", "", "anonymous"),
    ("do-not-track-send-nothing", "dnt", "denied=none", "nothing"),
]


@pytest.fixture(scope="module")
def privacy_browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, WebDriver]]:
    """A plain Chromium, and one with Do-Not-Track switched on in its settings
    (navigator.doNotTrack == "1" and a DNT: 1 header, as a user who chose it)."""
    drivers = {
        "plain": launch_chromium(tmp_path_factory.mktemp("privacy-plain")),
        "dnt": launch_chromium(tmp_path_factory.mktemp("privacy-dnt"),
                               prefs={"enable_do_not_track": True}),
    }
    try:
        yield drivers
    finally:
        for driver in drivers.values():
            driver.quit()


def visit(driver: WebDriver, site: StaticSite, token: str, query: str) -> None:
    """Open the privacy page, add to cart, log in."""
    driver.get(site.url(f"/privacy/page.html?visit={token}" + (f"&{query}" if query else "")))
    wait_for(driver, SNIPPET_LOADED)
    driver.find_element(By.ID, "add").click()
    driver.find_element(By.ID, "login").click()


@pytest.mark.parametrize(("case", "profile", "query", "expected"), PRIVACY_CASES,
                         ids=[case[0] for case in PRIVACY_CASES])
def test_privacy_settings_decide_what_is_sent_and_a_denial_sets_no_cookie(
    privacy_browsers: dict[str, WebDriver], site: StaticSite, collector: CollectorServer,
    reader: TopicReader, case: str, profile: str, query: str, expected: str,
) -> None:
    driver = privacy_browsers[profile]
    reset_browser(driver)
    clear_site_data(driver, site.origin)
    token, sentinel = uuid.uuid4().hex[:10], uuid.uuid4().hex[:10]

    visit(driver, site, token, query)
    if expected == "identified":
        # The collector's first answer sets the visitor cookie (the snippet sends the first
        # batch at once for this); a visitor gone before it arrives cannot carry it.
        WebDriverWait(driver, 30).until(lambda d: "cl_vid" in cookies(d))
    stored = local_storage(driver)
    # Then a visit that does send, with the same visitor id (the same settings, or anonymous in
    # place of "nothing": the collector's cookieless id is the same for both), so its events
    # share a partition with anything the first page sent -- at unload too. Once the sentinel's
    # page view is in Kafka, the first page's events are all there, or there are none.
    visit(driver, site, sentinel, query.replace("denied=none", "").strip("&"))
    reader.until(lambda e: f"visit={sentinel}" in e.get("url", ""), 1)
    jar = cookies(driver)
    # A page's events travel in several requests (its first batch at once, the rest later)
    # that the collector serves concurrently, so their order in Kafka is not guaranteed; the
    # order in which they happened is (client_ts: the clicks come well after the page view).
    events = sorted((e for _, _, e in reader.records if f"visit={token}" in e.get("url", "")),
                    key=lambda e: e["client_ts"])

    cart = {"sku": "sku-9", "price": 5, "currency": "EUR", "quantity": 1}
    if expected == "nothing":
        assert events == []
        assert stored == {}
        assert "cl_vid" not in jar
    elif expected == "anonymous":
        assert [(e["event_type"], detail(e)) for e in events] == [
            ("page_view", "Privacy"),
            ("add_to_cart", cart),
        ]
        for event in events:
            assert event["consent"] == "denied"
            assert "session_id" not in event and "user_id" not in event
            assert event["visitor_id"].startswith("anon-")
            assert event["enrichment"]["cookieless"] is True
        assert stored == {}
        assert "cl_vid" not in jar
    else:
        assert [(e["event_type"], detail(e)) for e in events] == [
            ("page_view", "Privacy"),
            ("add_to_cart", cart),
            ("identify", "user-42"),
        ]
        assert {e["consent"] for e in events} == {"granted"}
        assert len({e["session_id"] for e in events}) == 1
        assert {e["visitor_id"] for e in events} == {jar["cl_vid"]["value"]}
        assert jar["cl_vid"]["httpOnly"] is True
        assert sorted(stored) == ["cl_s", "cl_u"]


# --- personalization: a declarative slot in a real DOM ---------------------------------------


def test_a_declarative_slot_is_filled_sanitised_and_measured(
    fresh_browser: WebDriver, site: StaticSite, collector: CollectorServer, reader: TopicReader
) -> None:
    """The decision document is test content served next to the page (pages/slots/v1/decide):
    the thing under test is the snippet's rendering in Chromium, not the decision API."""
    driver = fresh_browser
    clear_site_data(driver, site.origin)
    driver.get(site.url("/slots/"))
    wait_for(driver, "return document.querySelector('#hero h1').textContent == 'Spring sale'")
    assert driver.execute_script("return document.getElementById('hero').innerHTML") == (
        '<h1>Spring sale</h1><img src="/nope.png"><a id="cta">Shop now</a>'
    )
    driver.find_element(By.ID, "cta").click()
    driver.find_element(By.CSS_SELECTOR, "#hero h1").click()
    assert driver.execute_script("return window.pwned === undefined") is True
    events = reader.until(lambda e: e.get("url", "").startswith(site.url("/slots/")), 4)

    decision = {"decision_id": "dec-42", "slot": "hero", "variant": "spring-sale", "arm": "rules"}
    assert [(e["event_type"], detail(e)) for e in events] == [
        ("page_view", "Slots"),
        ("personalization_shown", decision),
        ("personalization_click", decision),
        ("personalization_click", decision),
    ]
    assert len({e["event_id"] for e in events}) == 4
