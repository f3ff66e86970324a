"""``GET /v1/decide`` (:mod:`personalization.api.browser`) through Flask's test client, on the
embedded store."""

from __future__ import annotations

import sqlite3
from contextlib import closing
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


def test_an_unknown_slot_is_refused_and_nothing_is_logged(client: FlaskClient,
                                                         store: CountingStore) -> None:
    r = decide(client, "slot=sidebar", "ann")
    assert r.status_code == 404
    assert r.get_json()["field"] == "slot" and "'sidebar'" in r.get_json()["error"]
    assert "hero" in r.get_json()["error"]  # names the slots that exist
    assert CountingStore.reads == 0  # refused before any store read
    many = decide(client, "slots=hero,sidebar", "ann")
    assert (many.status_code, many.get_json()["field"]) == (404, "slots")


def test_all_of_a_pages_slots_in_one_request(client: FlaskClient, store: CountingStore) -> None:
    r = decide(client, "slots=hero,recommended", "ann", Origin=ORIGIN)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    hero, rec = r.get_json()["decisions"]
    assert (hero["slot"], hero["variant"], rec["slot"], rec["variant"]) == \
        ("hero", "discount", "recommended", "complete_your_order")
    assert CountingStore.reads == 1  # one profile read for both
    assert store.decision(hero["decision_id"])["slot"] == "hero"
    assert store.decision(rec["decision_id"])["slot"] == "recommended"
    # the same as asking one by one
    single = decide(client, "slot=recommended", "ann").get_json()
    assert single["recommendations"] == rec["recommendations"]


@pytest.mark.parametrize(("query", "message"), [
    ("slots=", "slots is empty"),
    ("slots=hero,hero", "different slots"),
    ("slots=" + ",".join(f"s{i}" for i in range(11)), "1 to 10"),
    ("slots=hero,bad%20name", "letters, digits"),
    ("slots=hero&slot=recommended", "not both"),
])
def test_malformed_slot_lists_get_400_naming_the_field(client: FlaskClient, query: str,
                                                       message: str) -> None:
    r = decide(client, query, "ann")
    assert r.status_code == 400
    assert r.get_json()["field"] == "slots" and message in r.get_json()["error"]


def test_made_up_cookies_and_slots_do_not_grow_the_decision_log(client: FlaskClient,
                                                                store: CountingStore) -> None:
    def rows() -> int:
        with closing(sqlite3.connect(store.decisions_path)) as db:
            return db.execute("SELECT count(*) FROM decisions").fetchone()[0]

    before = rows()
    for i in range(50):
        assert decide(client, f"slot=s{i:04x}", f"made-up-{i}").status_code == 404
        body = decide(client, "slot=hero", f"cookie-{i:08x}").get_json()
        assert body["arm"] in ("rules", "holdout")  # served as a new visitor, in the experiment
        assert store.decision(body["decision_id"]) is None  # but nothing was stored
    assert rows() == before
    # one real cookie replayed: logged up to the gate's bound for its current profile state
    svc = client.application.extensions["clickloop_personalization"]
    for _ in range(svc.gate.per_state + 20):
        decide(client, "slot=hero", "bob")
    assert rows() == before + svc.gate.per_state


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
