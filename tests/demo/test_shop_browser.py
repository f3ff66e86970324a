"""The demo shop in real headless Chromium with the real snippet and collector: what the
browser sends is what the traffic simulator sends for the same pages (same fields, same
values), so simulated traffic stands in for real visitors."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from demo.shop import create_app, serve
from embedded.ports import free_port
from simulation import catalogue
from simulation.config import SimConfig
from simulation.simulator import simulate
from tests.fixtures.kafka import topic_events
from tracker.contract import parse_timestamp
from tracker.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

BROWSED = ("page_view", "product_view", "add_to_cart", "begin_checkout")


@pytest.fixture
def shop(collector_factory, tmp_path):
    """The shop on 127.0.0.1 (the collector's host: one site, so cl_vid reaches the shop)."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    collector = collector_factory(allowed_origins=(origin,))
    settings = Settings.from_env({
        "CLICKLOOP_STATE_DIR": str(tmp_path),
        "CLICKLOOP_DEMO_COLLECTOR_URL": collector.url,
        # nothing listens there: decisions fail fast and the default content stays
        "CLICKLOOP_DEMO_API_URL": f"http://127.0.0.1:{free_port()}",
    })
    server = serve(create_app(settings), "127.0.0.1", port)
    try:
        yield server, collector
    finally:
        server.stop()


def test_browser_and_simulator_send_the_same_events(fresh_browser, shop) -> None:
    server, collector = shop
    driver = fresh_browser
    driver.get(server.url + "/p/RS-1001")
    wait = WebDriverWait(driver, 20)
    # a visitor who reads for a moment: the first batch goes by fetch and the collector's
    # cookie is set (Chromium keeps no cookie from a sendBeacon answer)
    wait.until(lambda d: d.get_cookie("cl_vid"))
    driver.find_element(By.ID, "add-to-cart").click()
    wait.until(lambda d: d.current_url.endswith("/cart"))
    driver.find_element(By.ID, "checkout").click()
    wait.until(lambda d: d.current_url.endswith("/checkout"))
    driver.find_element(By.ID, "place-order").click()
    wait.until(lambda d: "/order/" in d.current_url)
    order_id = driver.find_element(By.ID, "order-id").text
    wait.until(lambda d: d.execute_script("return !!(window.clickloop && clickloop.loaded)"))
    driver.get("about:blank")  # pagehide: the snippet beacons what is left
    server.stop()  # and the shop's tracker client sends the order

    def complete(events):
        return sum(e["event_type"] in (*BROWSED, "purchase") for e in events) >= 8

    everything = topic_events(collector.bootstrap, collector.topic, complete)
    # in the order they happened: by client_ts (one machine's clock here, the browser's and the
    # shop's). derived_ts adds each request's latency, so two requests from one page (the page
    # view goes at once, the add_to_cart the shop queued for it next) can swap by a millisecond;
    # within one millisecond the snippet stamps page_view first
    real = sorted((e for e in everything if e["event_type"] != "page_ping"),
                  key=lambda e: (parse_timestamp(e["client_ts"]), e["event_type"] != "page_view"))
    assert [(e["event_type"], e["url"].removeprefix(server.url)) for e in real] == [
        ("page_view", "/p/RS-1001"), ("product_view", "/p/RS-1001"),
        ("page_view", "/cart"), ("add_to_cart", "/cart"),
        ("page_view", "/checkout"), ("begin_checkout", "/checkout"),
        ("purchase", f"/order/{order_id}"), ("page_view", f"/order/{order_id}"),
    ]
    # one visitor (the shop read the collector's cookie for the order), one session
    assert len({e["visitor_id"] for e in everything}) == 1
    assert len({e.get("session_id") for e in real if e["event_type"] != "purchase"}) == 1
    assert real[6]["enrichment"]["source"] == "server"
    assert real[6]["order"]["revenue"] == 129.95
    item = catalogue.item(catalogue.PRODUCTS["RS-1001"])
    assert real[1]["product"] == item
    assert real[3]["product"] == {**item, "quantity": 1}
    assert real[5]["products"] == [{**item, "quantity": 1}]
    assert real[2]["referrer"] == server.url + "/p/RS-1001"
    assert real[0]["title"] == catalogue.page_title("product", "RS-1001")

    # the simulator's events of the same types carry the same fields
    requests, _ = simulate(SimConfig(seed=3, start=datetime.now(UTC).replace(
        microsecond=0), minutes=12 * 60, shop_url=server.url, dnt_share=0.0))
    shapes: dict[str, set[frozenset[str]]] = defaultdict(set)
    for r in requests:
        if r.channel == "js" and r.visitor.kind == "human":
            for e in r.events:
                shapes[e["event_type"]].add(frozenset(e) | {"visitor_id"})
                if e["event_type"] == "page_view":
                    assert set(e["context"]) == set(real[0]["context"])
    for r in requests:
        if r.channel == "server":
            shapes["purchase"].add(frozenset(r.events[0]) | {"visitor_id"})
    for e in real:
        keys = frozenset(e) - {"enrichment"}
        assert keys in shapes[e["event_type"]], (e["event_type"], sorted(keys),
                                                 [sorted(s) for s in shapes[e["event_type"]]])
