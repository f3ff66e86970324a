"""The demo shop: pages embed the snippet like a customer's site, tracking calls match what
happened, orders are confirmed server-side, bad input gets a precise 400, and every page the
simulator visits exists with the title the simulator reports."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from demo.shop import create_app, serve
from simulation import catalogue
from simulation.config import SimConfig
from simulation.simulator import simulate
from tracker.settings import Settings

COLLECTOR = "http://collector.test:8000"
API = "http://api.test:8001"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"


@pytest.fixture
def sent() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def client(sent):
    settings = Settings.from_env({"CLICKLOOP_DEMO_COLLECTOR_URL": COLLECTOR,
                                  "CLICKLOOP_DEMO_API_URL": API + "/",
                                  "CLICKLOOP_DEMO_SHOP_SECRET": "test-secret"})
    app = create_app(settings, {"TESTING": True}, send_event=sent.append)
    return app.test_client()


def calls(page: str) -> list[list[Any]]:
    """The clickloop(...) calls a page queues in its <head>."""
    found = re.findall(r"clickloop\.apply\(null, (.*?)\);\n", page)
    return [json.loads(html.unescape(c)) for c in found]


def text(response) -> str:
    return response.get_data(as_text=True)


# --- the snippet, as a customer embeds it ------------------------------------------------------


PAGES = ["/", "/c/trail-shoes", "/p/TS-2001", "/search?q=trail", "/cart", "/login"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_embeds_the_loader(client, path: str) -> None:
    page = text(client.get(path))
    head = page[:page.index("</head>")]
    stub = ("window.clickloop=window.clickloop||function(){(clickloop.q=clickloop.q||[])"
            ".push(arguments)};")
    assert stub in head
    assert ('clickloop(\'init\', {collector: "http://collector.test:8000", '
            'api: "http://api.test:8001"});') in head
    assert '<script async src="http://collector.test:8000/v1/clickloop.js"></script>' in head
    assert head.index(stub) < head.index("clickloop('init'") < head.index("<script async")
    assert '<div class="hero" data-cl-slot="hero">' in page


@pytest.mark.parametrize(("path", "recommended"), [
    ("/", True), ("/p/RS-1001", True), ("/cart", True), ("/c/jackets", False),
    ("/search?q=x", False), ("/login", False),
])
def test_recommended_slot_where_visitors_choose(client, path: str, recommended: bool) -> None:
    assert ('data-cl-slot="recommended"' in text(client.get(path))) is recommended


def test_noscript_pixel_describes_the_page(client) -> None:
    page = text(client.get("/c/jackets", headers={"Referer": "https://www.google.com/"}))
    src = html.unescape(re.search(r'<noscript><img src="([^"]+)"', page).group(1))
    parts = urlsplit(src)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == COLLECTOR + "/v1/p.gif"
    assert parse_qs(parts.query) == {
        "event_type": ["page_view"], "url": ["http://localhost/c/jackets"],
        "title": ["Jackets | Clickloop Outdoor"], "referrer": ["https://www.google.com/"]}


# --- tracking calls ----------------------------------------------------------------------------


def test_product_page_tracks_the_product_view(client) -> None:
    page = text(client.get("/p/GW-6002"))
    assert calls(page) == [["track", "product_view", {
        "sku": "GW-6002", "name": "Pulse HR Strap", "category": "Gear/Watches", "price": 69.95,
        "currency": "EUR"}]]
    assert '<button type="button" data-cl-event="size-guide">Size guide</button>' in page
    assert f'<a href="{catalogue.CARE_GUIDE_PATH}">Care guide (PDF)</a>' in page


def test_search_tracks_the_query(client) -> None:
    page = text(client.get("/search?q=trail+vest"))
    assert calls(page) == [["track", "search", "trail vest"]]
    assert "1 result for" in page and "Trail Vest 12L" in page
    assert calls(text(client.get("/search?q="))) == []


def test_cart_changes_are_tracked_once_on_the_next_page(client) -> None:
    response = client.post("/cart/add", data={"sku": "AS-4002", "quantity": "1"})
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    cart = text(client.get("/cart"))
    assert calls(cart) == [["track", "add_to_cart", {
        "sku": "AS-4002", "name": "Race Singlet", "category": "Apparel/Shirts", "price": 34.95,
        "currency": "EUR", "quantity": 1}]]
    assert "Total &euro;39.85" in cart  # 34.95 + 4.90 shipping (under 60.00: not free)
    assert calls(text(client.get("/cart"))) == []  # a reload sends nothing again
    client.post("/cart/add", data={"sku": "AS-4002", "quantity": "1"})
    assert "Total &euro;69.90" in text(client.get("/cart"))  # from 60.00 shipping is free
    client.post("/cart/remove", data={"sku": "AS-4002"})
    cart = text(client.get("/cart"))
    assert calls(cart) == [["track", "remove_from_cart", {
        "sku": "AS-4002", "name": "Race Singlet", "category": "Apparel/Shirts", "price": 34.95,
        "currency": "EUR", "quantity": 2}]]
    assert "Your cart is empty" in cart


def test_checkout_tracks_begin_checkout(client) -> None:
    assert client.get("/checkout").headers["Location"] == "/cart"  # empty cart: nothing to buy
    client.post("/cart/add", data={"sku": "RS-1001"})
    client.get("/cart")
    page = text(client.get("/checkout"))
    assert calls(page) == [["track", "begin_checkout", [{
        "sku": "RS-1001", "name": "Aurora Road Runner", "category": "Shoes/Running",
        "price": 129.95, "currency": "EUR", "quantity": 1}]]]


def test_login_identifies_with_an_opaque_id(client) -> None:
    response = client.post("/login", data={"email": "Runner@Example.com", "next": "/checkout"})
    assert response.status_code == 303 and response.headers["Location"] == "/checkout"
    (call,) = calls(text(client.get("/")))
    assert call[0] == "identify" and re.fullmatch(r"user-[0-9a-f]{16}", call[1])
    assert "example" not in call[1].lower()
    client.post("/login", data={"email": "runner@example.com"})
    assert calls(text(client.get("/"))) == [call]  # the same person, the same id


# --- the order, server-side --------------------------------------------------------------------


def place_order(client, **headers: str):
    client.post("/cart/add", data={"sku": "RS-1001"})
    client.post("/cart/add", data={"sku": "GB-5003"})
    return client.post("/checkout", headers={"User-Agent": UA, **headers})


def test_order_confirmation_sends_the_purchase(client, sent) -> None:
    client.set_cookie("cl_vid", "0f3c9a7e5b2d4c1a8e6f0b9d7c5a3e1f", domain="localhost")
    client.post("/login", data={"email": "runner@example.com"})
    response = place_order(client)
    assert response.status_code == 303
    order_id = response.headers["Location"].removeprefix("/order/")
    assert re.fullmatch(r"CL-[0-9A-F]{10}", order_id)
    (event,) = sent
    user = event.pop("user_id")
    assert user.startswith("user-")
    assert event == {
        "event_type": "purchase",
        "url": f"http://localhost/order/{order_id}",
        "visitor_id": "0f3c9a7e5b2d4c1a8e6f0b9d7c5a3e1f",
        "context": {"user_agent": UA},
        "order": {
            "order_id": order_id,
            "revenue": 154.90,  # 129.95 + 24.95, free shipping from 60.00
            "currency": "EUR",
            "tax": 24.73,  # 19 % VAT included: 154.90 * 19 / 119 = 24.73
            "shipping": 0.0,
            "items": [
                {"sku": "RS-1001", "name": "Aurora Road Runner", "category": "Shoes/Running",
                 "price": 129.95, "currency": "EUR", "quantity": 1},
                {"sku": "GB-5003", "name": "Race Belt", "category": "Gear/Backpacks",
                 "price": 24.95, "currency": "EUR", "quantity": 1},
            ],
        },
    }
    page = text(client.get(f"/order/{order_id}"))
    assert "Thank you for your order" in page and order_id in page
    assert "purchase" not in [c[1] for c in calls(page)]  # sent by the server, not the page
    assert "Cart (<span id=\"cart-count\">0</span>)" in page


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_a_visitor_who_declined_gets_no_identifiers(client, sent, header) -> None:
    client.set_cookie("cl_vid", "abc", domain="localhost")
    client.post("/login", data={"email": "runner@example.com"})
    place_order(client, **header)
    (event,) = sent
    assert event["consent"] == "denied"
    assert "visitor_id" not in event and "user_id" not in event


def test_no_cookie_no_visitor_id(client, sent) -> None:
    place_order(client)
    assert "visitor_id" not in sent[0]
    client.set_cookie("cl_vid", "not a valid id!", domain="localhost")
    place_order(client)
    assert "visitor_id" not in sent[1]


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "data", "field"), [
    ("/cart/add", {"sku": "NOPE"}, "sku"),
    ("/cart/add", {}, "sku"),
    ("/cart/add", {"sku": "RS-1001", "quantity": "0"}, "quantity"),
    ("/cart/add", {"sku": "RS-1001", "quantity": "11"}, "quantity"),
    ("/cart/add", {"sku": "RS-1001", "quantity": "two"}, "quantity"),
    ("/cart/remove", {"sku": "RS-1001"}, "sku"),
])
def test_bad_form_input_names_the_field(client, path, data, field) -> None:
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert f'data-field="{field}"' in text(response)
    assert calls(text(client.get("/"))) == []  # nothing was tracked


def test_bad_email_is_refused(client) -> None:
    response = client.post("/login", data={"email": "not-an-email"})
    assert response.status_code == 400
    assert "Please enter an email address" in text(response)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_login_never_redirects_off_site(client, target) -> None:
    response = client.post("/login", data={"email": "a@example.com", "next": target})
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/p/NOPE", "/c/nope", "/order/CL-0000000000", "/nothing"])
def test_unknown_pages_are_404(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in text(response)


def test_care_guide_is_a_pdf(client) -> None:
    response = client.get(catalogue.CARE_GUIDE_PATH)
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-1.4") and response.data.endswith(b"%%EOF\n")


# --- the simulator browses this shop -----------------------------------------------------------


def test_simulated_pages_exist_with_their_titles(client) -> None:
    requests, _ = simulate(SimConfig(seed=2, start=datetime(2026, 3, 2, tzinfo=UTC),
                                     minutes=12 * 60, shop_url="http://localhost"))
    views = {e["url"]: e.get("title") for r in requests for e in r.events
             if e["event_type"] == "page_view"}
    checked = 0
    for url, title in sorted(views.items()):
        path = url.removeprefix("http://localhost")
        if path.startswith(("/checkout", "/order/")):
            continue  # need a cart or an order in this browser's session
        response = client.get(path)
        assert response.status_code == 200, path
        assert f"<title>{html.escape(title)}</title>" in text(response), path
        checked += 1
    assert checked > 30
    kinds = {urlsplit(u).path.split("/")[1] for u in views}
    assert {"", "c", "p", "search", "cart", "checkout", "order", "login"} <= kinds


# --- running the shop --------------------------------------------------------------------------


def test_signing_key_is_kept_in_the_state_dir(tmp_path) -> None:
    settings = Settings.from_env({"CLICKLOOP_STATE_DIR": str(tmp_path)})
    first = create_app(settings, send_event=lambda e: None)
    second = create_app(settings, send_event=lambda e: None)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    path = tmp_path / "demo" / "shop-secret"
    assert path.read_text() == first.config["SECRET_KEY"]
    assert path.stat().st_mode & 0o777 == 0o600
    # a cart made on one app instance is read by the other (a restart keeps carts)
    one, two = first.test_client(), second.test_client()
    one.post("/cart/add", data={"sku": "RS-1001"})
    two.set_cookie("shop_session", one.get_cookie("shop_session").value, domain="localhost")
    assert "Aurora Road Runner" in text(two.get("/cart"))


def test_serve_runs_the_shop_on_a_port(tmp_path) -> None:
    import requests

    settings = Settings.from_env({"CLICKLOOP_STATE_DIR": str(tmp_path)})
    server = serve(create_app(settings, send_event=lambda e: None), "127.0.0.1", 0)
    try:
        response = requests.get(server.url + "/c/watches", timeout=10)
        assert response.status_code == 200
        assert "<title>Watches | Clickloop Outdoor</title>" in response.text
    finally:
        server.stop()


def test_shop_command_refuses_a_bad_port(capsys) -> None:
    from clickloop.cli import main

    assert main(["shop", "--port", "70000"]) == 2
    assert "70000 is not a TCP port" in capsys.readouterr().err
