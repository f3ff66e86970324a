"""``GET /v1/decide`` (:mod:`personalization.api.browser`) through Flask's test client, on the
embedded store."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.personalization.api.support import CountingStore, decide, make_app
from tests.personalization.helpers import ORIGIN


def test_the_cookie_names_the_visitor_and_gets_their_decision(client: FlaskClient,
                                                              store: CountingStore) -> None:
    r = decide(client, "slot=hero", "ann")
    assert r.status_code == 200
    body = r.get_json()
    assert (body["slot"], body["variant"], body["arm"], body["segment"]) == \
        ("hero", "discount", "rules", "cart_abandoner")
    assert "Still thinking it over?" in body["content"]["html"]
    assert 0 < body["intent"] < 1
    assert r.headers["Cache-Control"] == "no-store"
    logged = store.decision(body["decision_id"])
    assert logged is not None
    assert (logged["profile_id"], logged["slot"], logged["variant"], logged["arm"]) == \
        ("ann", "hero", "discount", "rules")

    rec = decide(client, "slot=recommended", "ann").get_json()
    assert rec["variant"] == "complete_your_order"
    skus = [item["sku"] for item in rec["recommendations"]]
    assert skus[0] == "CP-1" and "JK-1" not in skus  # viewed with the jacket; not the cart's
    assert rec["recommendations"][0] == {"sku": "CP-1", "name": "Running Cap",
                                         "url": "https://shop.example.com/p/CP-1", "price": 25.0}
    assert '<a href="https://shop.example.com/p/CP-1">Running Cap</a>' in rec["content"]["html"]


@pytest.mark.parametrize("name", ["visitor_id", "visitor", "vid", "profile_id", "user_id"])
def test_a_browser_cannot_ask_about_another_visitor(client: FlaskClient, name: str) -> None:
    r = decide(client, f"slot=hero&{name}=bob", "ann")
    assert r.status_code == 400
    assert r.get_json()["field"] == name
    assert "cookie" in r.get_json()["error"]
    assert b"bob" not in r.data.replace(b"'" + name.encode(), b"")


def test_without_a_cookie_the_default_is_served_and_no_profile_is_read(
        client: FlaskClient) -> None:
    r = client.get("/v1/decide?slot=recommended")
    body = r.get_json()
    assert r.status_code == 200
    assert body["variant"] == "bestsellers" and "arm" not in body
    assert body["segment"] is None and body["intent"] is None
    # popularity = views + 5 x orders: shoes and socks 6 each, jacket 3, cap 2
    assert [i["sku"] for i in body["recommendations"]] == ["SH-1", "SK-1", "JK-1", "CP-1"]
    assert CountingStore.reads == 0


@pytest.mark.parametrize("cookie", ["has space", "x" * 65, "<script>"])
def test_a_cookie_we_could_not_have_set_counts_as_none(client: FlaskClient, cookie: str) -> None:
    body = decide(client, "slot=hero", cookie).get_json()
    assert body["variant"] == "default" and "arm" not in body
    assert CountingStore.reads == 0


def test_an_unknown_visitor_is_a_new_visitor_in_the_experiment(client: FlaskClient) -> None:
    body = decide(client, "slot=hero", "first-timer").get_json()
    assert (body["variant"], body["arm"], body["segment"]) == ("default", "rules", "new_visitor")


def test_unknown_slot_gets_the_default_and_empty_content(client: FlaskClient) -> None:
    body = decide(client, "slot=sidebar", "ann").get_json()
    assert (body["variant"], body["content"], body["recommendations"]) == ("default", {}, [])


@pytest.mark.parametrize(("query", "message"), [
    ("", "slot is required"),
    ("slot=", "slot is required"),
    ("slot=hero%20banner", "letters, digits"),
    ("slot=" + "x" * 65, "1-64"),
    ("slot=hero&slot=recommended", "give slot once"),
])
def test_malformed_parameters_get_400_naming_the_field(client: FlaskClient, query: str,
                                                       message: str) -> None:
    r = decide(client, query, "ann")
    assert r.status_code == 400
    assert r.get_json()["field"] == "slot"
    assert message in r.get_json()["error"]


def test_cors_allows_the_configured_origin_with_credentials_only(client: FlaskClient) -> None:
    ok = decide(client, "slot=hero", "ann", Origin=ORIGIN)
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in ok.headers["Vary"]
    refused = decide(client, "slot=hero", "ann", Origin="https://evil.example")
    assert refused.status_code == 403
    assert refused.get_json()["field"] == "Origin"
    assert "Access-Control-Allow-Origin" not in refused.headers
    preflight = client.options("/v1/decide", headers={"Origin": ORIGIN})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"
    assert client.options("/v1/decide", headers={"Origin": "https://evil.example"}
                          ).status_code == 403


def test_holdout_visitors_always_get_the_default_and_unpersonalised_items(
        store: CountingStore, tmp_path: Path) -> None:
    client = make_app(store, tmp_path, holdout_share=1.0).test_client()
    hero = decide(client, "slot=hero", "ann").get_json()
    assert (hero["variant"], hero["arm"], hero["segment"]) == ("default", "holdout",
                                                                "cart_abandoner")
    rec = decide(client, "slot=recommended", "ann").get_json()
    assert rec["variant"] == "bestsellers"
    # popular items minus her cart, not the co-occurrence picks
    assert [i["sku"] for i in rec["recommendations"]] == ["SH-1", "SK-1", "CP-1"]
