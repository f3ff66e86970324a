"""The decision API through Flask's test client, on the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from personalization.api import create_app
from personalization.forgetting import forget_key
from personalization.stores.embedded import EmbeddedStore
from personalization.stores.redis_store import RedisStore
from tests.personalization.builders import add, buy, epoch, event, view
from tests.personalization.helpers import ORIGIN, TOKEN, api_settings, seed

NOW = epoch(24 * 60)  # the next day


def story() -> list[dict[str, Any]]:
    """Ann left the jacket in her cart yesterday and is back; Bob bought shoes and socks;
    two others viewed the jacket with the cap."""
    return [
        view("x1", 0, "JK-1"), view("x1", 1, "CP-1"), view("x2", 2, "JK-1"),
        view("x2", 3, "CP-1"),
        view("bob", 0, "SH-1"), view("bob", 1, "SK-1"), add("bob", 2, "SH-1"),
        add("bob", 2.5, "SK-1"), buy("bob", 4, "o-bob", {"SH-1": 1, "SK-1": 1}),
        view("ann", 10, "JK-1"), add("ann", 11, "JK-1"),
        event("page_view", "ann", 24 * 60 - 1, device="mobile"),
    ]


class CountingStore(EmbeddedStore):
    """The real embedded store, counting profile reads (to prove a read did not happen)."""

    reads = 0

    def read_profile(self, visitor_id: str):  # type: ignore[no-untyped-def]
        CountingStore.reads += 1
        return super().read_profile(visitor_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    made = CountingStore(tmp_path / "state" / "personalization")
    seed(made, story(), now=NOW)
    CountingStore.reads = 0
    yield made
    made.close()


def make_app(store: Any, tmp_path: Path, **section: Any) -> Flask:
    app = create_app(api_settings(tmp_path / "state", **section), store=store)
    app.extensions["clickloop_personalization"].clock = lambda: NOW
    return app


@pytest.fixture
def client(store: CountingStore, tmp_path: Path) -> FlaskClient:
    return make_app(store, tmp_path).test_client()


def decide(client: FlaskClient, query: str, visitor: str | None = None, **headers: str):
    if visitor is not None:
        client.set_cookie("cl_vid", visitor)
    response = client.get(f"/v1/decide?{query}", headers=headers)
    client.application.extensions["clickloop_personalization"].decisions.flush()
    return response


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


def test_backend_routes_need_the_token(client: FlaskClient, store: CountingStore,
                                       tmp_path: Path) -> None:
    missing = client.get("/v1/visitors/ann")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/v1/visitors/ann", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.get_json()["error"]) == (401, "wrong bearer token")
    assert client.delete("/v1/visitors/ann").status_code == 401
    assert client.get("/v1/model").status_code == 401
    disabled = make_app(store, tmp_path, api_token=None).test_client()
    r = disabled.get("/v1/visitors/ann", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 403 and "CLICKLOOP_API_TOKEN" in r.get_json()["error"]


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_the_backend_reads_a_profile_and_its_score(client: FlaskClient) -> None:
    body = client.get("/v1/visitors/bob", headers=AUTH).get_json()
    assert body["profile_id"] == "bob" and body["segment"] == "first_time_customer"
    assert body["history"]["purchases"] == 1 and body["history"]["revenue"] == 148.0
    assert body["cart"] == {}
    assert 0 < body["intent"] < 1
    assert body["holdout_arm"] == "rules"
    assert client.get("/v1/visitors/nobody", headers=AUTH).status_code == 404
    bad = client.get("/v1/visitors/not%20an%20id", headers=AUTH)
    assert (bad.status_code, bad.get_json()["field"]) == (400, "visitor_id")


def test_forget_removes_everything(client: FlaskClient, store: CountingStore) -> None:
    decision_id = decide(client, "slot=hero", "ann").get_json()["decision_id"]
    r = client.delete("/v1/visitors/ann", headers=AUTH)
    assert r.status_code == 200
    assert r.get_json() == {"forgotten": "ann", "removed": {
        "profile_id": "ann", "profiles": 1, "links": 0, "decisions": 1}}
    assert client.get("/v1/visitors/ann", headers=AUTH).status_code == 404
    assert store.decision(decision_id) is None
    assert store.load_profile("ann") is None
    assert forget_key("ann") in {t.key for t in store.tombstones("0")[0]}
    after = decide(client, "slot=hero", "ann").get_json()
    assert (after["segment"], after["intent"], after["variant"]) == ("new_visitor", None,
                                                                     "default")


def test_a_decision_buffered_elsewhere_does_not_outlive_a_forget(
        client: FlaskClient, store: CountingStore, tmp_path: Path) -> None:
    other = make_app(store, tmp_path)  # another gunicorn worker, say
    other_client = other.test_client()
    other_client.set_cookie("cl_vid", "ann")
    decision_id = other_client.get("/v1/decide?slot=hero").get_json()["decision_id"]
    assert client.delete("/v1/visitors/ann", headers=AUTH).status_code == 200
    other.extensions["clickloop_personalization"].decisions.flush()  # its buffer, too late
    assert store.decision(decision_id) is None


def test_model_metrics_for_the_backend(client: FlaskClient, store: CountingStore,
                                       tmp_path: Path) -> None:
    body = client.get("/v1/model", headers=AUTH).get_json()
    assert body["model"] == "logreg" and body["labels"] > 0
    empty = make_app(EmbeddedStore(tmp_path / "empty"), tmp_path).test_client()
    assert empty.get("/v1/model", headers=AUTH).status_code == 404


def test_store_down_answers_503_not_a_trace(tmp_path: Path) -> None:
    client = make_app(RedisStore("redis://127.0.0.1:1/0"), tmp_path).test_client()
    r = decide(client, "slot=hero", "ann")
    assert r.status_code == 503 and "store" in r.get_json()["error"]
    assert client.get("/v1/health").status_code == 503


def test_health_shows_the_rules_in_force(client: FlaskClient) -> None:
    body = client.get("/v1/health").get_json()
    assert body["status"] == "ok" and body["store"] == "ok"
    assert body["rules"]["slots"] == ["hero", "recommended"]
    assert client.get("/v1/nothing-here").get_json() == {
        "error": "The requested URL was not found on the server. If you entered the URL "
                 "manually please check your spelling and try again."}
