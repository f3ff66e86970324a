"""Server-side personalization: the shop's server renders the ``recommended`` slot from the
decision API's backend route (through the tracker client's ``Decider``), both real HTTP
servers; the holdout is respected and the decision is logged like a browser's."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from demo.shop import ShopServer, create_app, serve
from embedded.ports import free_port
from personalization.api import create_app as create_api
from personalization.stores.embedded import EmbeddedStore
from tests.personalization.api.support import NOW, story
from tests.personalization.helpers import TOKEN, api_settings, seed
from tests.waiting import wait_until
from tracker.client import Decider, DecisionRefused
from tracker.settings import Settings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    made = EmbeddedStore(tmp_path / "state" / "personalization")
    seed(made, story(), now=NOW)
    yield made
    made.close()


def serve_api(store: EmbeddedStore, tmp_path: Path, holdout_share: float) -> Iterator[str]:
    app = create_api(api_settings(tmp_path / "api-state", holdout_share=holdout_share),
                     store=store)
    app.extensions["clickloop_personalization"].clock = lambda: NOW
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["clickloop_personalization"].decisions.close()


@pytest.fixture
def api(store: EmbeddedStore, tmp_path: Path) -> Iterator[str]:
    yield from serve_api(store, tmp_path, 0.0)


@pytest.fixture
def holdout_api(store: EmbeddedStore, tmp_path: Path) -> Iterator[str]:
    yield from serve_api(store, tmp_path, 1.0)


def shop_for(api_url: str, tmp_path: Path, token: str | None = TOKEN) -> ShopServer:
    env = {"CLICKLOOP_DEMO_API_URL": api_url, "CLICKLOOP_DEMO_SHOP_SECRET": "test-secret",
           "CLICKLOOP_STATE_DIR": str(tmp_path / "shop-state"),
           "CLICKLOOP_DEMO_COLLECTOR_URL": "http://127.0.0.1:9"}
    if token:
        env["CLICKLOOP_API_TOKEN"] = token
    return serve(create_app(Settings.from_env(env), {"TESTING": True}), "127.0.0.1", 0)


def recommended_section(page: str) -> str:
    match = re.search(r'<section class="recommended"[^>]*>.*?</section>', page, re.S)
    assert match is not None, page
    return match.group(0)


def served_decision(section: str) -> dict | None:
    match = re.search(r'data-cl-decision="([^"]*)"', section)
    return json.loads(html.unescape(match.group(1))) if match else None


def test_the_shop_server_renders_the_decided_slot(api: str, store: EmbeddedStore,
                                                  tmp_path: Path) -> None:
    shop = shop_for(api, tmp_path)
    try:
        page = requests.get(f"{shop.url}/p/TS-2001", cookies={"cl_vid": "ann"}, timeout=10)
    finally:
        shop.stop()
    assert page.status_code == 200
    section = recommended_section(page.text)
    decision = served_decision(section)
    assert decision is not None
    assert (decision["slot"], decision["variant"], decision["arm"]) == \
        ("recommended", "complete_your_order", "rules")
    assert "<h2>Goes well with your cart</h2>" in section  # ann's cart is not empty
    assert 'href="https://shop.example.com/p/CP-1"' in section  # her recommendation
    record = wait_until(lambda: store.decision(decision["decision_id"]), timeout=30,
                        interval=0.05, what="the shop's decision in the log")
    assert record["profile_id"] == "ann" and record["context"]["product"] == "TS-2001"
    assert record["context"]["page"].endswith("/p/TS-2001")


def test_the_holdout_gets_the_default_on_the_server_too(holdout_api: str,
                                                        tmp_path: Path) -> None:
    shop = shop_for(holdout_api, tmp_path)
    try:
        page = requests.get(f"{shop.url}/", cookies={"cl_vid": "ann"}, timeout=10)
    finally:
        shop.stop()
    section = recommended_section(page.text)
    decision = served_decision(section)
    assert decision is not None
    assert (decision["variant"], decision["arm"]) == ("bestsellers", "holdout")
    assert "<h2>Bestsellers</h2>" in section


def test_without_an_api_or_a_token_the_snippet_fills_the_slot(api: str, tmp_path: Path) -> None:
    for shop in (shop_for(f"http://127.0.0.1:{free_port()}", tmp_path),  # nothing listens
                 shop_for(api, tmp_path, token=None)):
        try:
            page = requests.get(f"{shop.url}/", cookies={"cl_vid": "ann"}, timeout=10)
        finally:
            shop.stop()
        section = recommended_section(page.text)
        assert 'data-cl-slot="recommended"' in section
        assert served_decision(section) is None


def test_the_tracker_clients_decider_fails_soft_and_refuses_loudly(api: str) -> None:
    decider = Decider(api, token=TOKEN)
    got = decider.decide("bob", ["hero", "recommended"], product="SH-1")
    assert sorted(got) == ["hero", "recommended"] and got["hero"]["arm"] == "rules"
    with pytest.raises(DecisionRefused) as refused:
        decider.decide("bob", ["sidebar"])
    assert (refused.value.status, refused.value.field) == (404, "slots")
    with pytest.raises(DecisionRefused) as bad:
        decider.decide("not an id", ["hero"])
    assert (bad.value.status, bad.value.field) == (400, "visitor_id")
    with pytest.raises(DecisionRefused) as wrong:
        Decider(api, token="wrong").decide("bob", ["hero"])
    assert (wrong.value.status, wrong.value.field) == (401, "Authorization")
    down = Decider(f"http://127.0.0.1:{free_port()}", token=TOKEN)
    assert down.decide("bob", ["hero"]) == {} and down.stats["failed"] == 1
    with pytest.raises(ValueError, match="token"):
        Decider(api, token="")
    decider.close()
